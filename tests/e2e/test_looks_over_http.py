"""An image's looks over HTTP against the local server: the record's placeholders, colours,
hash and focal point; smart, entropy and focal-point crops and trim; a moved focal point; and
eager variants rendered by the jobs queue before the first view."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
import requests
from PIL import Image, ImageStat

from localserver import LocalServer
from tests.images import decode

pytestmark = pytest.mark.e2e


def scene(border: int = 0) -> bytes:
    """A flat, muted blue-grey field with a textured red subject in its left quarter, framed
    by a white ``border``. (A border is an edge all along the frame: attention, libvips' as
    ours, is drawn to it, so the crops are tested without one.)"""
    picture = Image.new("RGB", (1600, 800), (100, 110, 125))
    subject = Image.effect_noise((240, 240), 90).convert("RGB")
    red = Image.new("RGB", subject.size, (220, 40, 40))
    picture.paste(Image.blend(subject, red, 0.5), (120, 280))
    framed = Image.new("RGB", (1600 + 2 * border, 800 + 2 * border), (255, 255, 255))
    framed.paste(picture, (border, border))
    buffer = io.BytesIO()
    framed.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def mean(body: bytes) -> tuple[float, ...]:
    return tuple(ImageStat.Stat(decode(body).convert("RGB")).mean)


@pytest.fixture(scope="module")
def image(server: LocalServer) -> dict[str, object]:
    created = requests.post(
        f"{server.url}/images", data=scene(), headers={"Content-Type": "image/jpeg"}, timeout=60
    )
    assert created.status_code == 201, created.text
    return created.json()


def get(server: LocalServer, path: str) -> requests.Response:
    response = requests.get(f"{server.url}{path}", timeout=60)
    assert response.status_code == 200, response.text
    return response


def test_the_record_describes_the_picture(image: dict[str, object]) -> None:
    assert isinstance(image["blurhash"], str) and len(image["blurhash"]) > 6
    assert isinstance(image["thumbhash"], str) and image["thumbhash"]
    assert isinstance(image["phash"], str) and len(image["phash"]) == 16
    palette = image["palette"]
    assert isinstance(palette, list) and 1 <= len(palette) <= 5
    assert abs(sum(entry["share"] for entry in palette) - 1) < 0.01
    focal = image["focal_point"]
    assert isinstance(focal, dict) and focal["x"] < 0.4  # on the subject, in the left quarter


def test_smart_entropy_and_trim_over_http(server: LocalServer, image: dict[str, object]) -> None:
    path = f"/images/{image['id']}"
    for gravity in ("smart", "entropy", "auto"):
        crop = decode(get(server, f"{path}/crop:400:400:{gravity}.png").content)
        red, _, blue = ImageStat.Stat(crop.convert("RGB")).mean
        assert crop.size == (400, 400) and red > blue, gravity  # the subject, not the field
    centre = mean(get(server, f"{path}/crop:400:400.png").content)
    assert centre[2] > centre[0]  # the centre is the field
    subject = decode(get(server, f"{path}/trim:40.png").content)
    assert abs(subject.width - 240) <= 4 and abs(subject.height - 240) <= 4  # the field goes
    framed = requests.post(
        f"{server.url}/images", data=scene(50), headers={"Content-Type": "image/jpeg"}, timeout=60
    ).json()
    trimmed = decode(get(server, f"/images/{framed['id']}/trim:40.png").content)
    assert abs(trimmed.width - 1600) <= 4 and abs(trimmed.height - 800) <= 4


def test_a_moved_focal_point_moves_auto_crops(server: LocalServer) -> None:
    created = requests.post(
        f"{server.url}/images", data=scene(), headers={"Content-Type": "image/jpeg"}, timeout=60
    ).json()
    path = f"/images/{created['id']}/crop:300:300:auto.png"
    before = get(server, path)
    moved = requests.patch(
        f"{server.url}/images/{created['id']}",
        json={"focal_point": {"x": 0.9, "y": 0.5}},
        timeout=30,
    )
    assert moved.status_code == 200, moved.text
    after = get(server, path)
    assert after.headers["X-Variant-Cache"] == "miss"
    assert mean(before.content)[0] > mean(before.content)[2]  # red subject
    assert mean(after.content)[2] > mean(after.content)[0]  # the field on the right


@pytest.fixture
def eager_preset(server: LocalServer) -> Iterator[str]:
    body = {"ops": "resize:320:160:fill:auto", "format": "webp", "eager": True}
    saved = requests.put(f"{server.url}/presets/looks-eager", json=body, timeout=30)
    assert saved.status_code == 200, saved.text
    yield "looks-eager"
    requests.delete(f"{server.url}/presets/looks-eager", timeout=30)


def test_eager_variants_are_hits_on_first_view(server: LocalServer, eager_preset: str) -> None:
    created = requests.post(
        f"{server.url}/images", data=scene(), headers={"Content-Type": "image/jpeg"}, timeout=60
    )
    assert created.status_code == 201, created.text
    job = created.headers["X-Eager-Job"]
    deadline = time.monotonic() + 120  # a guard against a hang only
    while requests.get(f"{server.url}/jobs/{job}", timeout=30).json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    first = get(server, f"/images/{created.json()['id']}/preset:{eager_preset}")
    assert first.headers["X-Variant-Cache"] == "hit"
    assert decode(first.content).size == (320, 160)
