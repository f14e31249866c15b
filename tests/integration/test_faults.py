"""Fault injection: every S3 and DynamoDB call of upload, ingest, transform-and-store and delete
fails in turn; the client gets a retryable error, nothing is left half done, and a retry (with
the same Idempotency-Key where there is one) completes exactly once."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from get.app import handler as get_handler
from progimage_service.wiring import dependencies
from tests.integration.conftest import Aws, call, event, with_body
from tests.integration.test_bulk import post_uploads, queue_url, receive
from tests.integration.test_working_copy import photo
from transform.app import handler as transform_handler
from upload.app import handler as upload_handler
from upload.ingest import handler as ingest_handler

LARGE = photo(2400, 1600, progressive=False)  # large enough for a working copy: 3 writes


class Faults:
    """Counts the AWS calls the functions make, and fails the n-th with throttling."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        self.fail_at: int | None = None
        self.active = True
        deps = dependencies()
        for client in {id(c): c for c in (deps.store.s3, deps.catalog.db)}.values():
            self._wrap(monkeypatch, client)

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, client: Any) -> None:
        real = client._make_api_call

        def make_api_call(operation: str, params: dict[str, Any]) -> Any:
            if not self.active:  # setting up, not under test
                return real(operation, params)
            self.calls.append(operation)
            if self.fail_at is not None and len(self.calls) == self.fail_at:
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException", "Message": "injected"}}, operation
                )
            return real(operation, params)

        monkeypatch.setattr(client, "_make_api_call", make_api_call)

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.active = False
        try:
            yield
        finally:
            self.active = True

    @contextmanager
    def failing(self, n: int | None) -> Iterator[None]:
        self.calls.clear()
        self.fail_at = n
        try:
            yield
        finally:
            self.fail_at = None


def consistent(aws: Aws) -> None:
    """Every record has its objects, and every original and working copy has its record."""
    records = {r["pk"]["S"][4:]: r for r in aws.records()}
    for image_id, record in records.items():
        if record["status"]["S"] == "ready":
            assert aws.object_keys(f"originals/{image_id}"), image_id
            if "work_format" in record:
                assert aws.object_keys(f"work/{image_id}"), image_id
    for key in aws.object_keys("originals/") + aws.object_keys("work/"):
        image_id = re.split(r"[.-]", key.split("/", 1)[1])[0]  # work/{id}[-1024|.ext]
        assert image_id in records, f"{key} has no record"


def saving_the_answer_failed(answer: Any, request: dict[str, Any], n: int) -> bool:
    """The one step whose failure the client does not see: the work succeeded, only saving its
    answer under the idempotency key failed. The client gets the answer; a retry within the
    claim's lease is told the key is in progress rather than doing the work twice."""
    if answer.status != 201:
        return False
    handler = upload_handler if request["routeKey"] == "POST /images" else transform_handler
    again = call(handler, request)
    assert again.status == 409, n
    assert again.json()["error"]["code"] == "idempotency_in_progress"
    return True


def every_step(
    aws: Aws, faults: Faults, attempt: Callable[[], Any], check: Callable[[Any, int], None]
) -> int:
    """Run ``attempt`` once cleanly to count its calls, then once with each call failing."""
    with faults.failing(None):
        attempt()
    steps = len(faults.calls)
    for n in range(1, steps + 1):
        with faults.failing(n):
            result = attempt()
        consistent(aws)
        check(result, n)
    return steps


@pytest.fixture
def faults(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Faults:
    return Faults(monkeypatch)


def test_upload(aws: Aws, faults: Faults) -> None:
    counter = iter(range(1000))

    def attempt() -> tuple[Any, dict[str, Any]]:
        request = with_body(event("post-images-raw"), LARGE, "image/jpeg")
        request["headers"]["idempotency-key"] = f"upload-{next(counter)}"
        return call(upload_handler, request), request

    def check(result: tuple[Any, dict[str, Any]], n: int) -> None:
        answer, request = result
        if saving_the_answer_failed(answer, request, n):
            return
        assert answer.status == 503, (n, faults.calls, answer.body)
        before = len(aws.records())
        retried = call(upload_handler, request)
        assert retried.status == 201, (n, retried.body)
        assert call(upload_handler, request).json() == retried.json()  # exactly once
        assert len(aws.records()) == before + 1
        consistent(aws)

    steps = every_step(aws, faults, attempt, check)
    assert steps >= 4  # claim the key, the original, the working copy, the record, ...


def test_transform_and_store(aws: Aws, faults: Faults) -> None:
    source = call(upload_handler, event("post-images-raw")).json()["id"]
    counter = iter(range(1000))

    def attempt() -> tuple[Any, dict[str, Any]]:
        body = {"source": {"id": source}, "ops": "thumbnail:32", "store": True}
        request = event("post-transform-json") | {"body": json.dumps(body)}
        request["headers"] = request["headers"] | {"idempotency-key": f"t-{next(counter)}"}
        return call(transform_handler, request), request

    def check(result: tuple[Any, dict[str, Any]], n: int) -> None:
        answer, request = result
        if saving_the_answer_failed(answer, request, n):
            return
        assert answer.status == 503, (n, faults.calls, answer.body)
        retried = call(transform_handler, request)
        assert retried.status == 201
        assert call(transform_handler, request).json() == retried.json()

    every_step(aws, faults, attempt, check)


def test_delete(aws: Aws, faults: Faults) -> None:
    def prepare() -> str:
        with faults.paused():
            request = with_body(event("post-images-raw"), LARGE, "image/jpeg")
            image_id = call(upload_handler, request).json()["id"]
            assert call(get_handler, event("get-image-webp", id=image_id)).status == 200
        return image_id

    prepared = [prepare() for _ in range(12)]

    def attempt() -> tuple[Any, str]:
        image_id = prepared.pop()
        return call(get_handler, event("delete-image", id=image_id)), image_id

    def check(result: tuple[Any, str], n: int) -> None:
        answer, image_id = result
        assert answer.status == 503, (n, faults.calls, answer.body)
        # Hidden already, or untouched: never half there.
        info = call(get_handler, event("get-image-info", id=image_id))
        assert info.status in (200, 404), n
        assert call(get_handler, event("delete-image", id=image_id)).status == 204
        for prefix in ("originals/", "work/", "variants/"):
            assert not aws.object_keys(f"{prefix}{image_id}"), (n, prefix)
        assert call(get_handler, event("get-image-info", id=image_id)).status == 404

    assert every_step(aws, faults, attempt, check) >= 6


def test_ingest(aws: Aws, faults: Faults) -> None:
    def attempt() -> tuple[dict[str, Any], list[dict[str, Any]], str]:
        with faults.paused():
            (upload,) = post_uploads(1).json()["uploads"]
            aws.s3.put_object(Bucket=aws.bucket, Key=upload["fields"]["key"], Body=LARGE)
            queued = receive(aws, queue_url(aws, "IngestQueue"))
        records = [r for r in queued if "TestEvent" not in r["body"]]
        return ingest_handler({"Records": records}, None), records, upload["id"]

    def check(result: tuple[dict[str, Any], list[dict[str, Any]], str], n: int) -> None:
        outcome, records, image_id = result
        failed = [f["itemIdentifier"] for f in outcome["batchItemFailures"]]
        if faults.calls[n - 1] == "Query":  # the eager presets, read once the image is ready:
            assert not failed, n  # best effort, counted, never the ingest's failure
            assert call(get_handler, event("get-image-info", id=image_id)).status == 200
            return
        assert failed == [r["messageId"] for r in records], n  # SQS will deliver it again
        assert ingest_handler({"Records": records}, None) == {"batchItemFailures": []}
        info = call(get_handler, event("get-image-info", id=image_id)).json()
        assert info["status"] == "ready", n
        consistent(aws)
        assert not aws.object_keys(f"uploads/{image_id}")

    every_step(aws, faults, attempt, check)
