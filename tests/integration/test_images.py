"""Upload, get, convert, info, list and delete through the real handlers, on moto."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from get.app import handler as get_handler
from progimage_service.imaging import plugins
from progimage_service.imaging import render as render_module
from progimage_service.imaging.formats import FORMATS
from progimage_service.wiring import dependencies
from tests.images import TESTDATA, decode, encode, psnr, sample
from tests.integration.conftest import Aws, call, event, http_event, with_body
from upload.app import handler as upload_handler


def upload(data: bytes, content_type: str = "application/octet-stream") -> dict:
    answer = call(upload_handler, with_body(event("post-images-raw"), data, content_type))
    assert answer.status == 201, answer.body
    return answer.json()


def test_raw_upload_stores_the_original_unchanged_and_a_record(aws: Aws) -> None:
    data = sample("exif-orientation/Landscape_6.jpg")
    answer = call(upload_handler, with_body(event("post-images-raw"), data, "image/jpeg"))
    assert answer.status == 201
    record = answer.json()
    assert answer.headers["Location"] == f"/images/{record['id']}"
    assert record["status"] == "ready"
    assert record["format"] == "jpeg"
    assert record["content_type"] == "image/jpeg"
    assert (record["width"], record["height"]) == (1800, 1200)  # after EXIF orientation 6
    assert record["bytes"] == len(data)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["frames"] == 1
    assert record["created_at"].endswith("Z")
    stored = aws.s3.get_object(Bucket=aws.bucket, Key=f"originals/{record['id']}")
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "image/jpeg"
    assert len(aws.records()) == 1


def test_sample_events_upload_raw_json_and_multipart(aws: Aws) -> None:
    raw = call(upload_handler, event("post-images-raw"))
    assert raw.status == 201 and raw.json()["format"] == "png"
    as_json = call(upload_handler, event("post-images-json"))
    assert as_json.status == 201 and as_json.json()["format"] == "gif"
    many = call(upload_handler, event("post-images-multipart"))
    assert many.status == 207
    results = many.json()["results"]
    assert [(r["index"], r["status"], r["image"]["format"]) for r in results] == [
        (0, 201, "png"),
        (1, 201, "gif"),
    ]
    assert len(aws.object_keys("originals/")) == 4


def test_format_is_sniffed_not_taken_from_the_content_type(aws: Aws) -> None:
    record = upload(sample("formats/hopper.webp"), "image/jpeg")
    assert record["format"] == "webp"
    assert record["content_type"] == "image/webp"


def test_multipart_reports_each_part_and_keeps_nothing_of_a_bad_one(aws: Aws) -> None:
    boundary = "b0undary"
    parts = [
        ("a.png", sample("formats/hopper.png")),
        ("b.jpg", sample("bad/not-an-image.jpg")),
        ("c.jpg", sample("formats/hopper.jpg")),
    ]
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n".encode()
            + data
            + b"\r\n"
            for name, data in parts
        )
        + f"--{boundary}--\r\n".encode()
    )
    answer = call(
        upload_handler,
        with_body(event("post-images-raw"), body, f"multipart/form-data; boundary={boundary}"),
    )
    assert answer.status == 207
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [201, 415, 201]
    assert results[1]["error"]["code"] == "unsupported_format"
    stored = {r["image"]["id"] for r in results if r["status"] == 201}
    assert {k.removeprefix("originals/") for k in aws.object_keys()} == stored
    assert len(aws.records()) == 2


def test_every_bad_input_is_a_client_error_or_a_valid_image_and_leaves_nothing(aws: Aws) -> None:
    accepted = set()
    for path in sorted((TESTDATA / "bad").iterdir()):
        if path.name.startswith("LICENSE"):
            continue
        answer = call(upload_handler, with_body(event("post-images-raw"), path.read_bytes(), ""))
        assert answer.status in (201, 413, 415), (path.name, answer.status, answer.body)
        if answer.status == 201:
            accepted.add(answer.json()["id"])
        else:
            assert set(answer.json()["error"]) >= {"code", "message"}
    assert len(accepted) == 1  # hopper_bad_exif.jpg: a valid image with corrupt EXIF
    assert {k.removeprefix("originals/") for k in aws.object_keys()} == accepted
    assert len(aws.records()) == 1


def test_get_original_with_etag_and_immutable_caching(aws: Aws) -> None:
    data = sample("formats/hopper.png")
    record = upload(data)
    answer = call(get_handler, event("get-image", id=record["id"]))
    assert answer.status == 200
    assert answer.body == data
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["ETag"] == f'"{record["sha256"]}"'
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    again = call(
        get_handler,
        event("get-image", id=record["id"], headers={"if-none-match": answer.headers["ETag"]}),
    )
    assert again.status == 304 and again.body == b""


@pytest.mark.parametrize(
    ("extension", "fmt"),
    [
        ("webp", "WEBP"),
        ("jpg", "JPEG"),
        ("png", "PNG"),
        ("avif", "AVIF"),
        ("gif", "GIF"),
        ("heic", "HEIF"),
        ("heif", "HEIF"),
        ("jxl", "JXL"),
    ],
)
def test_conversion_is_upright_and_cached(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, extension: str, fmt: str
) -> None:
    record = upload(sample("formats/hopper_orientation_6.jpg"))
    request = event("get-image-webp", id=record["id"])
    request["pathParameters"]["id"] = f"{record['id']}.{extension}"
    first = call(get_handler, request)
    assert first.status == 200
    image = decode(first.body)
    assert image.format == fmt
    reference = decode(sample("formats/hopper.jpg"))  # the same picture, stored upright
    assert image.size == reference.size
    assert psnr(image, reference) > (18 if fmt == "GIF" else 25)
    assert len(aws.object_keys(f"variants/{record['id']}/")) == 1

    def no_image_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached variant must not be rendered again")

    monkeypatch.setattr(render_module, "render", no_image_work)
    second = call(get_handler, request)
    assert second.status == 200
    assert second.body == first.body
    assert second.headers["ETag"] == first.headers["ETag"]


@pytest.mark.parametrize(("fmt", "content_type"), [("HEIF", "image/heic"), ("JXL", "image/jxl")])
def test_heic_and_jpeg_xl_uploads_are_described_and_converted(
    aws: Aws, fmt: str, content_type: str
) -> None:
    photo = decode(sample("exif-orientation/Landscape_1.jpg")).reduce(4)  # 450x300
    plugins.register(FORMATS["heic" if fmt == "HEIF" else "jxl"])
    record = upload(encode(photo, fmt, quality=90))
    assert record["format"] == ("heic" if fmt == "HEIF" else "jxl")
    assert record["content_type"] == content_type
    assert (record["width"], record["height"], record["frames"]) == (450, 300, 1)
    info = call(get_handler, event("get-image-info", id=record["id"])).json()
    assert (info["width"], info["height"]) == (450, 300)
    original = call(get_handler, event("get-image", id=record["id"]))
    assert original.headers["Content-Type"] == content_type
    request = event("get-image-webp", id=record["id"])
    for extension, pillow in (("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")):
        request["pathParameters"]["id"] = f"{record['id']}.{extension}"
        image = decode(call(get_handler, request).body)
        assert image.format == pillow and image.size == (450, 300)
        assert psnr(image.convert("RGB"), photo) > 30


def test_transparency_is_flattened_for_jpeg(aws: Aws) -> None:
    image = Image.new("RGBA", (32, 32), (0, 0, 255, 0))
    record = upload(encode(image, "PNG"))
    request = event("get-image-webp", id=record["id"])
    request["pathParameters"]["id"] = f"{record['id']}.jpg"
    out = decode(call(get_handler, request).body)
    assert out.mode == "RGB"
    assert min(out.getpixel((16, 16))) > 245  # white, not the hidden blue


def test_info_list_and_delete(aws: Aws) -> None:
    ids = [upload(sample(name))["id"] for name in ("formats/hopper.png", "formats/hopper.gif")]
    ids += [upload(sample("formats/hopper.jpg"))["id"] for _ in range(3)]
    info = call(get_handler, event("get-image-info", id=ids[1])).json()
    assert info["id"] == ids[1] and info["format"] == "gif" and info["status"] == "ready"

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = call(get_handler, event("list-images", queryStringParameters=query)).json()
        seen += [image["id"] for image in page["images"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)  # newest first, each once
    assert pages >= 3

    convert = event("get-image-webp", id=ids[0])
    assert call(get_handler, convert).status == 200
    assert call(get_handler, event("delete-image", id=ids[0])).status == 204
    assert call(get_handler, event("get-image", id=ids[0])).status == 404
    assert call(get_handler, event("get-image-info", id=ids[0])).status == 404
    assert call(get_handler, convert).status == 404
    assert call(get_handler, event("delete-image", id=ids[0])).status == 404
    assert not aws.object_keys(f"originals/{ids[0]}") and not aws.object_keys(f"variants/{ids[0]}/")
    listed = call(get_handler, event("list-images")).json()["images"]
    assert ids[0] not in {image["id"] for image in listed}
    assert len(aws.records()) == 4


def test_unknown_and_malformed_ids_are_404(aws: Aws) -> None:
    for image_id in ("0Ojp8iUHJrV2bQ4mJmGpV1rNY", "not-an-id", "x" * 300):
        answer = call(
            get_handler,
            event("get-image", id="0Ojp8iUHJrV2bQ4mJmGpV1rNY")
            | {"pathParameters": {"id": image_id}},
        )
        assert answer.status == 404
        assert answer.json()["error"]["code"] == "not_found"


def test_list_rejects_bad_parameters(aws: Aws) -> None:
    for query in ({"limit": "0"}, {"limit": "abc"}, {"limit": "1000"}, {"cursor": "../x"}):
        answer = call(get_handler, event("list-images", queryStringParameters=query))
        assert answer.status == 400, query
        assert answer.json()["error"]["param"] in ("limit", "cursor")


def test_unsupported_content_type_and_oversize_body(aws: Aws, configure: Any) -> None:
    data = sample("formats/hopper.png")
    answer = call(upload_handler, with_body(event("post-images-raw"), data, "text/html"))
    assert answer.status == 415
    configure(PROGIMAGE_MAX_BYTES=str(len(data) - 1))
    answer = call(upload_handler, with_body(event("post-images-raw"), data, "image/png"))
    assert answer.status == 413
    assert not aws.object_keys() and not aws.records()


def test_large_responses_redirect_to_a_presigned_url(aws: Aws, configure: Any) -> None:
    record = upload(sample("formats/hopper.png"))
    configure(PROGIMAGE_INLINE_MAX_BYTES="1000")
    answer = call(get_handler, event("get-image", id=record["id"]))
    assert answer.status == 307
    location = answer.headers["Location"]
    assert f"originals/{record['id']}" in location and "Signature" in location


def test_a_failed_record_write_removes_the_object(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(**request: object) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
            "PutItem",
        )

    monkeypatch.setattr(dependencies().catalog.db, "put_item", throttled)
    answer = call(upload_handler, event("post-images-raw"))
    assert answer.status == 503  # retryable, and nothing was kept
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["error"]["code"] == "service_unavailable"
    assert not aws.object_keys() and not aws.records()


def test_routes_unknown_to_the_function_are_a_bug_not_silence(aws: Aws) -> None:
    answer = call(get_handler, http_event("PUT", "/images/{id}", "/images/x"))
    assert answer.status == 500
