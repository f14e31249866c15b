"""The whole service over HTTP: `make serve`'s server with the real template and handlers."""

from __future__ import annotations

import pytest
import requests

from localserver import LocalServer
from tests.images import decode, psnr, sample

pytestmark = pytest.mark.e2e


def test_upload_get_convert_info_list_delete(server: LocalServer) -> None:
    api = server.url
    photo = sample("exif-orientation/Landscape_8.jpg")
    created = requests.post(
        f"{api}/images", data=photo, headers={"Content-Type": "image/jpeg"}, timeout=30
    )
    assert created.status_code == 201, created.text
    record = created.json()
    image_id = record["id"]
    assert created.headers["Location"] == f"/images/{image_id}"
    assert (record["width"], record["height"]) == (1800, 1200)

    original = requests.get(f"{api}/images/{image_id}", timeout=30)
    assert original.status_code == 200
    assert original.content == photo
    assert original.headers["Content-Type"] == "image/jpeg"
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        requests.get(
            f"{api}/images/{image_id}",
            headers={"If-None-Match": original.headers["ETag"]},
            timeout=30,
        ).status_code
        == 304
    )

    converted = requests.get(f"{api}/images/{image_id}.webp", timeout=30)
    assert converted.status_code == 200
    assert converted.headers["Content-Type"] == "image/webp"
    webp = decode(converted.content)
    assert webp.format == "WEBP" and webp.size == (1800, 1200)
    assert psnr(webp, decode(sample("exif-orientation/Landscape_1.jpg"))) > 20  # upright

    thumb = requests.get(f"{api}/images/{image_id}/thumbnail:300/grayscale.png", timeout=30)
    assert thumb.status_code == 200
    assert decode(thumb.content).size == (300, 200)

    info = requests.get(f"{api}/images/{image_id}/info", timeout=30).json()
    assert info == record

    listed = requests.get(f"{api}/images", params={"limit": 100}, timeout=30).json()
    assert image_id in [image["id"] for image in listed["images"]]

    assert requests.delete(f"{api}/images/{image_id}", timeout=30).status_code == 204
    for path in ("", ".webp", "/info", "/thumbnail:300/grayscale.png"):
        gone = requests.get(f"{api}/images/{image_id}{path}", timeout=30)
        assert gone.status_code == 404, path
        assert gone.json()["error"]["code"] == "not_found"


def test_bulk_multipart_and_transform_over_http(server: LocalServer) -> None:
    files = [
        ("file", ("a.png", sample("formats/hopper.png"), "image/png")),
        ("file", ("b.gif", sample("formats/dispose_bgnd_rgba.gif"), "image/gif")),
        ("file", ("c.txt", b"not an image", "text/plain")),
    ]
    answer = requests.post(f"{server.url}/images", files=files, timeout=30)
    assert answer.status_code == 207
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [201, 201, 415]
    animated = results[1]["image"]
    assert animated["frames"] == 5

    webp = requests.get(f"{server.url}/images/{animated['id']}.webp", timeout=30)
    assert decode(webp.content).n_frames == 5  # the animation survives conversion

    raw = requests.post(
        f"{server.url}/transform",
        params={"ops": "resize:64:64:fill/rotate:180", "format": "png"},
        data=sample("formats/hopper.jpg"),
        headers={"Content-Type": "image/jpeg"},
        timeout=30,
    )
    assert raw.status_code == 200 and raw.headers["Content-Type"] == "image/png"
    assert decode(raw.content).size == (64, 64)


def test_errors_are_json_with_the_contract_status(server: LocalServer) -> None:
    api = server.url
    cases = [
        ("get", "/images/0Ojp8iUHJrV2bQ4mJmGpV1rNY", 404),
        ("get", "/images/0Ojp8iUHJrV2bQ4mJmGpV1rNY.svg", 415),
        ("get", "/images?limit=-1", 400),
        ("post", "/images", 415),
    ]
    for method, path, status in cases:
        answer = requests.request(method, f"{api}{path}", data=b"<svg/>", timeout=30)
        assert answer.status_code == status, (path, answer.text)
        assert answer.headers["Content-Type"] == "application/json"
        assert set(answer.json()["error"]) >= {"code", "message"}
