"""Eager variants through the real handlers on moto: an upload queues a job rendering the
presets marked eager and those it names, and after the workers ran the first view of each is
a cache hit; naming a preset the tenant has not saved is a 400 that stores nothing."""

from __future__ import annotations

import pytest

from progimage_service.services import uploads
from progimage_service.storage_layout import upload_key
from progimage_service.wiring import dependencies
from tests.integration.conftest import Aws, call, event, with_body
from tests.integration.test_bulk import queue_url, receive, run_workers
from tests.integration.test_presets import preset
from tests.integration.test_working_copy import photo, variant
from upload.app import handler as upload_handler


def upload(data: bytes, **query: str) -> object:
    request = with_body(event("post-images-raw"), data, "image/jpeg")
    request["queryStringParameters"] = query or None
    return call(upload_handler, request)


@pytest.fixture(scope="module")
def picture() -> bytes:
    return photo(900, 600, progressive=False)


def test_eager_presets_are_rendered_after_upload_so_the_first_view_is_a_hit(
    aws: Aws, picture: bytes
) -> None:
    preset("PUT", "card", {"ops": "resize:300:200:fill", "format": "webp", "eager": True})
    preset("PUT", "any", {"ops": "thumbnail:120", "format": "auto", "eager": True})
    preset("PUT", "asked", {"ops": "grayscale/thumbnail:64"})
    preset("PUT", "never", {"ops": "thumbnail:32"})
    answer = upload(picture, eager="asked")
    assert answer.status == 201, answer.body
    image_id = answer.json()["id"]
    assert answer.headers["X-Eager-Job"]
    run_workers(aws, queue_url(aws, "JobsQueue"))
    # card, asked; any in each format auto may choose (avif, jxl, webp) and its fallback
    assert len(aws.object_keys(f"variants/{image_id}/")) == 2 + 4
    assert variant(image_id, "preset:card").headers["X-Variant-Cache"] == "hit"
    assert variant(image_id, "preset:asked").headers["X-Variant-Cache"] == "hit"
    for accept, content_type in (("image/avif", "image/avif"), ("*/*", "image/jpeg")):
        fetched = variant(image_id, "preset:any", accept=accept)
        assert fetched.headers["Content-Type"] == content_type
        assert fetched.headers["X-Variant-Cache"] == "hit"
    assert variant(image_id, "preset:never").headers["X-Variant-Cache"] == "miss"


def test_an_upload_without_eager_presets_queues_nothing(aws: Aws, picture: bytes) -> None:
    preset("PUT", "card", {"ops": "thumbnail:100"})
    answer = upload(picture)
    assert answer.status == 201 and "X-Eager-Job" not in answer.headers
    assert receive(aws, queue_url(aws, "JobsQueue")) == []


@pytest.mark.parametrize("named", ["nope", "card,nope", "bad.name", ",".join(["card"] * 21)])
def test_naming_a_preset_to_render_eagerly_that_is_not_saved_stores_nothing(
    aws: Aws, picture: bytes, named: str
) -> None:
    preset("PUT", "card", {"ops": "thumbnail:100"})
    answer = upload(picture, eager=named)
    assert answer.status == 400 and answer.json()["error"]["param"] == "eager"
    assert aws.object_keys("originals/") == []


def test_a_presigned_upload_renders_the_eager_presets_once_ingested(
    aws: Aws, picture: bytes
) -> None:
    preset("PUT", "card", {"ops": "thumbnail:100", "format": "png", "eager": True})
    deps = dependencies()
    (pending,) = uploads.create_uploads(deps, "default", 1, "image/jpeg")
    key = upload_key(pending["id"])
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=picture)
    assert uploads.ingest(deps, key) == "ready"
    run_workers(aws, queue_url(aws, "JobsQueue"))
    assert variant(pending["id"], "preset:card").headers["X-Variant-Cache"] == "hit"


def test_an_upload_succeeds_when_its_eager_job_cannot_be_queued(aws: Aws, picture: bytes) -> None:
    preset("PUT", "card", {"ops": "thumbnail:100", "eager": True})
    aws.sqs.delete_queue(QueueUrl=queue_url(aws, "JobsQueue"))
    answer = upload(picture)
    assert answer.status == 201 and "X-Eager-Job" not in answer.headers
    assert variant(answer.json()["id"], "preset:card").headers["X-Variant-Cache"] == "miss"
