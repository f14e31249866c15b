"""Delivery over the handlers: ``auto`` by Accept, ``dpr``, ``?download=``, Last-Modified."""

from __future__ import annotations

import base64
import json
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from get.app import handler as get_handler
from tests.images import decode, encode, psnr, sample
from tests.integration.conftest import Answer, Aws, call, event, http_event, with_body
from transform.app import handler as transform_handler
from upload.app import handler as upload_handler

BROWSER = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def upload(data: bytes) -> dict[str, Any]:
    answer = call(
        upload_handler, with_body(event("post-images-raw"), data, "application/octet-stream")
    )
    assert answer.status == 201, answer.body
    return answer.json()


def get_variant(image_id: str, pipeline: str, **headers: str) -> Answer:
    request = http_event(
        "GET",
        "/images/{id}/{pipeline+}",
        f"/images/{image_id}/{pipeline}",
        pathParameters={"id": image_id, "pipeline": pipeline},
        headers=headers,
    )
    return call(transform_handler, request)


def get_image(path_id: str, query: dict[str, str] | None = None, **headers: str) -> Answer:
    request = http_event(
        "GET",
        "/images/{id}",
        f"/images/{path_id}",
        pathParameters={"id": path_id},
        headers=headers,
    )
    if query:
        request["queryStringParameters"] = query
    return call(get_handler, request)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (BROWSER, "AVIF"),
        ("image/webp,*/*", "WEBP"),
        ("image/avif;q=0,image/webp", "WEBP"),
        ("image/*,*/*;q=0.8", "JPEG"),  # wildcards promise nothing
        ("", "JPEG"),
    ],
)
def test_auto_answers_by_accept_with_vary(aws: Aws, accept: str, expected: str) -> None:
    record = upload(sample("formats/flower.jpg"))
    answer = get_variant(record["id"], "thumbnail:64.auto", accept=accept)
    assert answer.status == 200
    assert answer.headers["Vary"] == "Accept"
    image = decode(answer.body)
    assert image.format == expected
    assert answer.headers["Content-Type"] == Image.MIME[expected]
    assert max(image.size) == 64


def test_auto_is_the_same_object_as_the_format_it_chose(aws: Aws) -> None:
    """S3 holds at most one object per pipeline and format: .auto for a WebP browser is .webp."""
    record = upload(sample("formats/flower.jpg"))
    first = get_variant(record["id"], "thumbnail:64.auto", accept="image/webp")
    named = get_variant(record["id"], "thumbnail:64.webp")
    assert named.headers["ETag"] == first.headers["ETag"]
    assert "Vary" not in named.headers
    fallback = get_variant(record["id"], "thumbnail:64.auto")
    assert decode(fallback.body).format == "JPEG"
    assert len(aws.object_keys(f"variants/{record['id']}/")) == 2


def test_auto_falls_back_to_png_where_the_result_has_alpha_or_the_source_is_lossless(
    aws: Aws,
) -> None:
    photo = upload(sample("formats/flower.jpg"))
    masked = get_variant(photo["id"], "thumbnail:64/mask:circle.auto")
    assert decode(masked.body).format == "PNG" and decode(masked.body).mode == "RGBA"
    graphic = upload(sample("formats/hopper.png"))
    assert decode(get_variant(graphic["id"], "thumbnail:64.auto").body).format == "PNG"
    assert decode(
        get_variant(graphic["id"], "thumbnail:64.auto", accept="image/webp").body
    ).format == ("WEBP")


def test_auto_converts_the_whole_image_and_honours_the_deployments_choice(
    aws: Aws, configure: Any
) -> None:
    record = upload(sample("formats/flower.jpg"))
    answer = get_image(f"{record['id']}.auto", accept=BROWSER)
    assert decode(answer.body).format == "AVIF" and answer.headers["Vary"] == "Accept"
    configure(PROGIMAGE_AUTO_FORMATS="webp")
    assert decode(get_image(f"{record['id']}.auto", accept=BROWSER).body).format == "WEBP"


def test_auto_in_the_json_form_of_transform(aws: Aws) -> None:
    request = http_event("POST", "/transform", "/transform", headers={"accept": "image/webp"})
    body = {"source": {"data": _b64(sample("formats/flower.jpg"))}, "ops": "dpr:2/thumbnail:32"}
    answer = call(transform_handler, _json(request, body | {"format": "auto"}))
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"] == "image/webp" and answer.headers["Vary"] == "Accept"
    assert max(decode(answer.body).size) == 64


def test_dpr_multiplies_the_pipelines_lengths_and_shares_the_variant(aws: Aws) -> None:
    record = upload(sample("formats/flower.jpg"))
    dense = get_variant(record["id"], "thumbnail:50/dpr:2.png")
    plain = get_variant(record["id"], "thumbnail:100.png")
    assert decode(dense.body).size == decode(plain.body).size
    assert max(decode(dense.body).size) == 100
    assert dense.headers["ETag"] == plain.headers["ETag"]
    assert len(aws.object_keys(f"variants/{record['id']}/")) == 1


def test_download_names_the_file_and_is_not_part_of_the_cache_key(aws: Aws) -> None:
    record = upload(sample("formats/flower.jpg"))
    path_id = f"{record['id']}.webp"
    named = get_image(path_id, {"download": 'été "photo"/1.webp'})
    assert named.headers["Content-Disposition"] == (
        "attachment; filename=\"_t_ photo1.webp\"; filename*=UTF-8''%C3%A9t%C3%A9%20photo1.webp"
    )
    plain = get_image(path_id)
    assert "Content-Disposition" not in plain.headers
    assert plain.headers["ETag"] == named.headers["ETag"] and plain.body == named.body
    assert len(aws.object_keys(f"variants/{record['id']}/")) == 1


def test_download_of_a_redirected_answer_is_in_the_presigned_url(aws: Aws, configure: Any) -> None:
    record = upload(sample("formats/hopper.png"))
    configure(PROGIMAGE_INLINE_MAX_BYTES="1000")
    answer = get_image(record["id"], {"download": "hopper.png"})
    assert answer.status == 307
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["response-content-disposition"] == [
        "attachment; filename=\"hopper.png\"; filename*=UTF-8''hopper.png"
    ]


def test_variants_revalidate_by_last_modified(aws: Aws) -> None:
    record = upload(sample("formats/flower.jpg"))
    first = get_variant(record["id"], "thumbnail:40.jpg")
    stamp = parsedate_to_datetime(first.headers["Last-Modified"])
    hit = get_variant(record["id"], "thumbnail:40.jpg")
    assert abs((parsedate_to_datetime(hit.headers["Last-Modified"]) - stamp).total_seconds()) <= 1
    since = hit.headers["Last-Modified"]
    assert (
        get_variant(record["id"], "thumbnail:40.jpg", **{"if-modified-since": since}).status == 304
    )
    earlier = format_datetime(stamp.replace(year=stamp.year - 1), usegmt=True)
    stale = get_variant(record["id"], "thumbnail:40.jpg", **{"if-modified-since": earlier})
    assert stale.status == 200 and stale.body
    # If-None-Match decides alone when sent: a wrong ETag is a full answer whatever the date.
    both = get_variant(
        record["id"], "thumbnail:40.jpg", **{"if-modified-since": since, "if-none-match": '"x"'}
    )
    assert both.status == 200
    original = get_image(record["id"])
    assert parsedate_to_datetime(original.headers["Last-Modified"]).year == stamp.year
    again = get_image(record["id"], **{"if-modified-since": original.headers["Last-Modified"]})
    assert again.status == 304


def test_head_answers_the_headers_without_the_body(aws: Aws) -> None:
    record = upload(sample("formats/flower.jpg"))
    request = http_event(
        "HEAD",
        "/images/{id}/{pipeline+}",
        f"/images/{record['id']}/thumbnail:40.auto",
        pathParameters={"id": record["id"], "pipeline": "thumbnail:40.auto"},
        headers={"accept": "image/webp"},
        queryStringParameters={"download": "x.webp"},
    )
    answer = call(transform_handler, request)
    assert answer.status == 200 and answer.body == b""
    assert answer.headers["Content-Type"] == "image/webp"
    assert answer.headers["Vary"] == "Accept"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="x.webp"')
    assert "Last-Modified" in answer.headers and "ETag" in answer.headers


def test_a_rendered_alpha_fallback_is_similar_to_its_png_twin(aws: Aws) -> None:
    image = Image.new("RGBA", (64, 48), (200, 30, 30, 255))
    image.paste((0, 0, 0, 0), (0, 0, 20, 20))
    record = upload(encode(image, "WEBP", lossless=True))
    auto = decode(get_variant(record["id"], "thumbnail:32.auto").body)
    png = decode(get_variant(record["id"], "thumbnail:32.png").body)
    assert auto.format == "PNG" and auto.size == png.size and psnr(auto, png) > 40


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _json(request: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return request | {
        "body": json.dumps(body),
        "isBase64Encoded": False,
        "headers": request["headers"] | {"content-type": "application/json"},
    }
