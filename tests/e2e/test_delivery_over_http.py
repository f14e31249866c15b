"""Delivery over HTTP against the local server: ``auto`` by Accept, ``dpr`` and
``quality:auto`` in the URL and JSON forms, HEIC and JPEG XL in and out, ``?download=``,
revalidation by date and HEAD."""

from __future__ import annotations

import pytest
import requests

from localserver import LocalServer
from progimage_service.imaging.formats import FORMATS
from tests.images import decode, psnr, sample

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def image_id(server: LocalServer) -> str:
    created = requests.post(f"{server.url}/images", data=sample("formats/flower.jpg"), timeout=60)
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("image/avif,image/webp,*/*;q=0.8", "image/avif"),
        ("image/webp,*/*", "image/webp"),
        ("text/html,*/*;q=0.8", "image/jpeg"),
    ],
)
def test_auto_answers_by_accept(
    server: LocalServer, image_id: str, accept: str, content_type: str
) -> None:
    url = f"{server.url}/images/{image_id}/thumbnail:48/dpr:2.auto"
    answer = requests.get(url, headers={"Accept": accept}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == content_type
    assert answer.headers["Vary"] == "Accept"
    assert max(decode(answer.content).size) == 96


def test_dpr_and_auto_through_the_json_form(server: LocalServer, image_id: str) -> None:
    answer = requests.post(
        f"{server.url}/transform",
        json={
            "source": {"id": image_id},
            "ops": [{"op": "thumbnail", "width": 30}, {"op": "dpr", "factor": 3}],
            "format": "auto",
        },
        headers={"Accept": "image/webp"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "image/webp"
    assert max(decode(answer.content).size) == 90


def test_download_head_and_last_modified(server: LocalServer, image_id: str) -> None:
    url = f"{server.url}/images/{image_id}/thumbnail:40.png"
    head = requests.head(url, params={"download": "small.png"}, timeout=60)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Disposition"].startswith('attachment; filename="small.png"')
    modified = head.headers["Last-Modified"]
    again = requests.get(url, headers={"If-Modified-Since": modified}, timeout=60)
    assert again.status_code == 304
    plain = requests.get(url, timeout=60)
    assert "Content-Disposition" not in plain.headers
    assert plain.headers["ETag"] == head.headers["ETag"]


@pytest.mark.parametrize("fmt", ["heic", "jxl"])
def test_heic_and_jpeg_xl_upload_and_convert(server: LocalServer, image_id: str, fmt: str) -> None:
    """A JPEG converted to the format, uploaded back as a new image, and converted to PNG."""
    made = requests.get(f"{server.url}/images/{image_id}/thumbnail:200.{fmt}", timeout=120)
    assert made.status_code == 200, made.text
    assert made.headers["Content-Type"] == FORMATS[fmt].content_type
    created = requests.post(f"{server.url}/images", data=made.content, timeout=120)
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["format"] == fmt and max(record["width"], record["height"]) == 200
    back = requests.get(f"{server.url}/images/{record['id']}.png", timeout=120)
    assert back.status_code == 200, back.text
    thumbnail = requests.get(f"{server.url}/images/{image_id}/thumbnail:200.png", timeout=60)
    reference = decode(thumbnail.content)
    png = decode(back.content)
    assert png.size == reference.size and psnr(png, reference) > 30


def test_quality_auto_through_the_url_and_json_forms(server: LocalServer, image_id: str) -> None:
    url = requests.get(
        f"{server.url}/images/{image_id}/thumbnail:200/quality:auto.webp", timeout=60
    )
    fixed = requests.get(f"{server.url}/images/{image_id}/thumbnail:200.webp", timeout=60)
    posted = requests.post(
        f"{server.url}/transform",
        json={
            "source": {"id": image_id},
            "ops": [{"op": "thumbnail", "width": 200}, {"op": "quality", "quality": "auto"}],
            "format": "webp",
        },
        timeout=60,
    )
    assert url.status_code == fixed.status_code == posted.status_code == 200
    assert len(url.content) <= len(fixed.content)
    by_url, by_json = decode(url.content), decode(posted.content)
    assert by_url.size == by_json.size and by_url.mode == by_json.mode
    assert psnr(by_url, by_json) > 35
