"""Presets over HTTP against the local server: saved, named in variant URLs, cached, edited."""

from __future__ import annotations

import pytest
import requests
from PIL import Image

from localserver import LocalServer
from tests.images import decode, psnr, sample

pytestmark = pytest.mark.e2e
PHOTO = "exif-orientation/Landscape_1.jpg"  # 1800x1200
SHORT_LIVED = "public, max-age=60"


@pytest.fixture(scope="module")
def image_id(server: LocalServer) -> str:
    created = requests.post(
        f"{server.url}/images",
        data=sample(PHOTO),
        headers={"Content-Type": "image/jpeg"},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def put(server: LocalServer, name: str, body: dict[str, object]) -> requests.Response:
    return requests.put(f"{server.url}/presets/{name}", json=body, timeout=30)


def variant(server: LocalServer, image_id: str, path: str) -> requests.Response:
    response = requests.get(f"{server.url}/images/{image_id}/{path}", timeout=60)
    assert response.status_code == 200, response.text
    return response


def test_a_preset_url_is_cached_briefly_and_never_stale(server: LocalServer, image_id: str) -> None:
    saved = put(server, "card", {"ops": "resize:120:80:fill", "format": "webp"})
    assert saved.status_code == 200, saved.text
    first_version = saved.json()["version"]

    miss = variant(server, image_id, "preset:card.webp")
    hit = variant(server, image_id, "preset:card.webp")
    assert (miss.headers["X-Variant-Cache"], hit.headers["X-Variant-Cache"]) == ("miss", "hit")
    assert miss.headers["Cache-Control"] == hit.headers["Cache-Control"] == SHORT_LIVED
    picture = decode(hit.content)
    assert (picture.format, picture.size) == ("WEBP", (120, 80))
    assert decode(miss.content).size == (120, 80)

    # The preset's steps are the pipeline's: the same picture as the steps written out, which
    # (naming no preset) may be cached for long.
    spelled = variant(server, image_id, "resize:120:80:fill.webp")
    assert spelled.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert psnr(picture.convert("RGB"), decode(spelled.content).convert("RGB")) > 40

    edited = put(server, "card", {"ops": "resize:90:90:fill", "format": "webp"})
    assert edited.json()["version"] == first_version + 1
    after = variant(server, image_id, "preset:card.webp")
    assert after.headers["X-Variant-Cache"] == "miss"  # a new key: not the old picture
    assert decode(after.content).size == (90, 90)
    assert variant(server, image_id, "preset:card.webp").headers["X-Variant-Cache"] == "hit"


def test_a_preset_combines_with_other_steps(server: LocalServer, image_id: str) -> None:
    assert put(server, "wide", {"ops": "resize:160:90:fill", "format": "webp"}).status_code == 200
    rotated = variant(server, image_id, "preset:wide/rotate:90.png")
    picture = decode(rotated.content)
    assert (picture.format, picture.size) == ("PNG", (90, 160))  # the URL's format wins
    assert rotated.headers["Cache-Control"] == SHORT_LIVED
    upright = decode(variant(server, image_id, "preset:wide.png").content)
    assert upright.size == (160, 90)
    turned = upright.transpose(Image.Transpose.ROTATE_270).convert("RGB")
    assert psnr(picture.convert("RGB"), turned) > 40  # the same pixels, turned clockwise


def test_an_unknown_preset_is_a_400(server: LocalServer, image_id: str) -> None:
    response = requests.get(f"{server.url}/images/{image_id}/preset:nosuch.webp", timeout=30)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_operation" and "nosuch" in error["message"]
    assert put(server, "brief", {"ops": "grayscale"}).status_code == 200
    assert variant(server, image_id, "preset:brief/thumbnail:32.png").content
    removed = requests.delete(f"{server.url}/presets/brief", timeout=30)
    assert removed.status_code == 204
    gone = requests.get(f"{server.url}/images/{image_id}/preset:brief/thumbnail:32.png", timeout=30)
    assert gone.status_code == 400 and gone.json()["error"]["code"] == "invalid_operation"
