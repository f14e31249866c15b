"""Variants and POST /transform through the real handler, on moto."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from PIL import Image, ImageOps

from progimage_service.imaging import render as render_module
from tests.images import decode, encode, psnr, sample
from tests.integration.conftest import Aws, call, event
from transform.app import handler as transform_handler
from upload.app import handler as upload_handler


def upload(data: bytes) -> str:
    request = event("post-images-raw") | {"body": base64.b64encode(data).decode()}
    answer = call(upload_handler, request)
    assert answer.status == 201, answer.body
    return answer.json()["id"]


def variant(image_id: str, pipeline: str, **headers: str) -> Any:
    request = event("get-variant", id=image_id)
    request["pathParameters"]["pipeline"] = pipeline
    request["headers"] |= headers
    return call(transform_handler, request)


def post_json(body: dict[str, Any]) -> Any:
    return call(transform_handler, event("post-transform-json") | {"body": json.dumps(body)})


def test_sample_variant_event(aws: Aws) -> None:
    image_id = upload(sample("formats/hopper.png"))
    answer = variant(image_id, "thumbnail:64/grayscale.png")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    out = decode(answer.body)
    assert (out.size, out.mode) == ((64, 64), "L")
    expected = ImageOps.grayscale(decode(sample("formats/hopper.png")).resize((64, 64)))
    assert psnr(out, expected) > 30


def test_two_spellings_share_one_cached_object(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    image_id = upload(sample("formats/hopper.jpg"))
    first = variant(image_id, "resize:100:80.webp")
    assert first.status == 200 and decode(first.body).size == (80, 80)

    def no_image_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the second spelling must be served from the cache")

    monkeypatch.setattr(render_module, "render", no_image_work)
    for spelling in ("resize:100:80:fit.webp", "RESIZE:100:80:FIT.webp", "resize:100:80:fit.WEBP"):
        again = variant(image_id, spelling)
        assert again.status == 200 and again.body == first.body
    assert len(aws.object_keys(f"variants/{image_id}/")) == 1


def test_concurrent_identical_requests_write_one_object(aws: Aws) -> None:
    image_id = upload(sample("exif-orientation/Landscape_3.jpg"))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: variant(image_id, "thumbnail:200/sepia.jpg"), range(8)))
    assert {a.status for a in answers} == {200}
    assert len({a.headers["ETag"] for a in answers}) == 1  # everyone got the one stored object
    assert len(aws.object_keys(f"variants/{image_id}/")) == 1


def test_bad_pipelines_are_400s_that_name_the_problem(aws: Aws) -> None:
    image_id = upload(sample("formats/hopper.png"))
    answer = variant(image_id, "resize:100:100/spin:3.png")
    assert answer.status == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_operation" and error["param"] == "ops[1]"
    assert "spin" in error["message"] and "thumbnail" in error["message"]
    assert variant(image_id, "blur:0").status == 400
    assert variant(image_id, "resize:99999:1").status == 400
    assert variant(image_id, "crop:500:500:10:10").status == 422
    assert not aws.object_keys("variants/")


def test_unknown_image_is_404_and_variants_go_with_the_image(aws: Aws) -> None:
    assert variant("0Ojp8iUHJrV2bQ4mJmGpV1rNY", "thumbnail:10").status == 404
    image_id = upload(sample("formats/hopper.png"))
    assert variant(image_id, "thumbnail:10").status == 200
    assert variant(image_id, "thumbnail:20.webp").status == 200
    from get.app import handler as get_handler

    assert call(get_handler, event("delete-image", id=image_id)).status == 204
    assert not aws.object_keys(f"variants/{image_id}/")
    assert variant(image_id, "thumbnail:10").status == 404


def test_watermarks_and_mask_by_image_id(aws: Aws) -> None:
    base = Image.new("RGB", (200, 100), (20, 120, 20))
    base_id = upload(encode(base, "PNG"))
    mark_id = upload(encode(Image.new("RGB", (40, 20), (250, 0, 0)), "PNG"))
    answer = variant(
        base_id,
        f"watermark:{mark_id}:northwest:1:0.2/watermark:{mark_id}:southeast:1:0.2.png",
    )
    assert answer.status == 200, answer.body
    out = decode(answer.body).convert("RGB")
    assert out.getpixel((10, 8))[0] > 200  # a red mark at the top left
    assert out.getpixel((189, 91))[0] > 200  # and one at the bottom right
    assert out.getpixel((100, 50)) == (20, 120, 20)  # the middle untouched

    gradient = Image.linear_gradient("L").resize((200, 100))  # black at top, white at bottom
    mask_id = upload(encode(gradient, "PNG"))
    masked = decode(variant(base_id, f"mask:{mask_id}.png").body).convert("RGBA")
    assert masked.getpixel((100, 1))[3] < 10 and masked.getpixel((100, 98))[3] > 245
    assert variant(base_id, "watermark:0Ojp8iUHJrV2bQ4mJmGpV1rNY.png").status == 404


def test_transform_raw_bytes(aws: Aws) -> None:
    answer = call(transform_handler, event("post-transform-raw"))
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["Cache-Control"] == "no-store"
    assert decode(answer.body).size == (32, 32)
    assert not aws.object_keys()


def test_transform_json_data_id_and_store(aws: Aws) -> None:
    sample_answer = call(transform_handler, event("post-transform-json"))
    assert sample_answer.status == 200
    assert decode(sample_answer.body).format == "WEBP"
    source = decode(sample("formats/hopper.jpg"))
    image_id = upload(sample("formats/hopper.jpg"))
    rotated = post_json(
        {"source": {"id": image_id}, "ops": [{"op": "rotate", "angle": 90}], "format": "png"}
    )
    assert rotated.status == 200
    assert psnr(decode(rotated.body), source.transpose(Image.Transpose.ROTATE_270)) > 30
    stored = post_json(
        {"source": {"id": image_id}, "ops": "thumbnail:50", "format": "webp", "store": True}
    )
    assert stored.status == 201
    record = stored.json()
    assert record["format"] == "webp" and (record["width"], record["height"]) == (50, 50)
    assert stored.headers["Location"] == f"/images/{record['id']}"
    assert len(aws.object_keys("originals/")) == 2


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"ops": "thumbnail:5"}, 400, "source"),
        ({"source": {"id": "nope"}}, 404, "id"),
        ({"source": {"data": "!!!"}}, 400, "source.data"),
        ({"source": {"path": "/etc/passwd"}}, 400, "source"),
        ({"source": {"data": base64.b64encode(b"hello").decode()}}, 415, None),
        ({"source": {"url": "http://127.0.0.1/x.png"}}, 400, "url"),
        ({"source": {"url": "https://169.254.169.254/latest/meta-data"}}, 400, "url"),
        ({"source": {"url": "file:///etc/passwd"}}, 400, "url"),
        ({"source": {"id": "0Ojp8iUHJrV2bQ4mJmGpV1rNY"}, "format": "svg"}, 415, "format"),
        ({"source": {"id": "0Ojp8iUHJrV2bQ4mJmGpV1rNY"}, "store": "yes"}, 400, "store"),
    ],
)
def test_transform_errors(aws: Aws, body: dict[str, Any], status: int, param: str | None) -> None:
    answer = post_json(body)
    assert answer.status == status, answer.body
    error = answer.json()["error"]
    assert error.get("param") == param
    assert not aws.object_keys()


@pytest.fixture
def image_server() -> Iterator[str]:
    """A real HTTP server on loopback serving one image, and a redirect to it."""
    data = sample("formats/hopper.png")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/hopper.png")
                self.end_headers()
                return
            if self.path != "/hopper.png":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_source_needs_the_explicit_test_allowance(
    aws: Aws, configure: Any, image_server: str
) -> None:
    body = {"source": {"url": f"{image_server}/redirect"}, "ops": "thumbnail:16", "format": "png"}
    refused = post_json(body)
    assert refused.status == 400
    assert refused.json()["error"]["code"] == "url_not_allowed"
    configure(PROGIMAGE_FETCH_ALLOW_HTTP="1", PROGIMAGE_FETCH_ALLOW_NETWORKS="127.0.0.1/32")
    answer = post_json(body)
    assert answer.status == 200, answer.body
    assert decode(answer.body).size == (16, 16)
    missing = post_json(body | {"source": {"url": f"{image_server}/missing.png"}})
    assert missing.status == 502


def test_full_size_work_beyond_the_functions_memory_is_a_413_and_thumbnails_still_work(
    aws: Aws, configure: Any
) -> None:
    """A Lambda's memory bounds what one render may hold: beyond it, a clear 413 before
    decoding instead of the function running out of memory; a reducing pipeline decodes a JPEG
    at a fraction of its size and goes on working."""
    image_id = upload(sample("exif-orientation/Landscape_1.jpg"))  # 1800x1200: 2.16 MP
    configure(AWS_LAMBDA_FUNCTION_MEMORY_SIZE="160")  # 160 - 128: 32 MB for the render

    refused = variant(image_id, "sepia.jpg")  # two full frames: 17 MB beside the render's 24
    assert refused.status == 413
    assert refused.json()["error"]["code"] == "work_budget"
    assert "thumbnail or resize" in refused.json()["error"]["message"]
    assert aws.object_keys(f"variants/{image_id}/") == []

    small = variant(image_id, "thumbnail:300/sepia.jpg")  # decoded at 1/4: 450x300
    assert small.status == 200 and decode(small.body).size == (300, 200)

    configure(PROGIMAGE_WORK_MEMORY=str(100 * 2**20))  # an explicit setting wins
    assert variant(image_id, "sepia.jpg").status == 200
