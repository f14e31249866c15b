"""Presigned uploads, S3 → SQS ingest, batch and jobs, through the real handlers on moto."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from get.app import handler as get_handler
from progimage_service.errors import ServiceUnavailable
from progimage_service.wiring import dependencies
from tests.images import decode, sample
from tests.integration.conftest import Aws, call, event
from transform.app import handler as transform_handler
from transform.worker import handler as worker_handler
from upload.app import handler as upload_handler
from upload.ingest import handler as ingest_handler


def queue_url(aws: Aws, logical_id: str) -> str:
    """The local URL of a queue the template declares (named after its logical id)."""
    urls = aws.sqs.list_queues().get("QueueUrls", [])
    (url,) = [u for u in urls if u.lower().endswith(logical_id.lower())]
    return url


def receive(aws: Aws, url: str) -> list[dict[str, Any]]:
    """Every message now in the queue, as Lambda's SQS event records."""
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    records = []
    while True:
        messages = aws.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return records
        for message in messages:
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}) | {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn["Attributes"]["QueueArn"],
                    "awsRegion": "us-east-1",
                }
            )


def post_uploads(count: int, content_type: str = "image/jpeg") -> Any:
    body = json.dumps({"count": count, "content_type": content_type})
    return call(upload_handler, event("post-uploads") | {"body": body})


def info(image_id: str) -> dict[str, Any]:
    return call(get_handler, event("get-image-info", id=image_id)).json()


def test_presigned_post_policy_pins_key_bucket_size_type_and_expiry(aws: Aws) -> None:
    answer = post_uploads(3)
    assert answer.status == 201
    uploads = answer.json()["uploads"]
    assert len(uploads) == 3 and len({u["id"] for u in uploads}) == 3
    for upload in uploads:
        fields = upload["fields"]
        assert fields["key"] == f"uploads/{upload['id']}"
        policy = json.loads(base64.b64decode(fields["policy"]))
        conditions = policy["conditions"]
        assert {"bucket": aws.bucket} in conditions
        assert {"key": f"uploads/{upload['id']}"} in conditions
        assert ["content-length-range", 1, 50 * 1024 * 1024] in conditions
        assert ["starts-with", "$Content-Type", "image/"] in conditions
        expires = time.mktime(time.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ"))
        assert 0 < expires - time.mktime(time.gmtime()) <= 15 * 60
        assert upload["expires_at"].endswith("Z")
        assert info(upload["id"])["status"] == "pending"
        assert call(get_handler, event("get-image", id=upload["id"])).status == 409


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"count": 0, "content_type": "image/jpeg"}, "count"),
        ({"count": 101, "content_type": "image/jpeg"}, "count"),
        ({"count": "3", "content_type": "image/jpeg"}, "count"),
        ({"count": 1, "content_type": "text/html"}, "content_type"),
        ({"count": 1, "content_type": "image/svg+xml"}, "content_type"),
    ],
)
def test_bad_upload_requests(aws: Aws, body: dict[str, Any], param: str) -> None:
    answer = call(upload_handler, event("post-uploads") | {"body": json.dumps(body)})
    assert answer.status == 400
    assert answer.json()["error"]["param"] == param
    assert not aws.records()


def test_upload_notification_through_sqs_makes_the_image_ready_once(aws: Aws) -> None:
    uploads = post_uploads(2).json()["uploads"]
    good, bad = uploads
    photo = sample("exif-orientation/Landscape_6.jpg")
    aws.s3.put_object(Bucket=aws.bucket, Key=good["fields"]["key"], Body=photo)
    aws.s3.put_object(Bucket=aws.bucket, Key=bad["fields"]["key"], Body=b"not an image")
    records = receive(aws, queue_url(aws, "IngestQueue"))
    assert records, "S3 sent no notification to the ingest queue"
    result = ingest_handler({"Records": records}, None)
    assert result == {"batchItemFailures": []}

    ready = info(good["id"])
    assert ready["status"] == "ready"
    assert (ready["width"], ready["height"], ready["bytes"]) == (1800, 1200, len(photo))
    assert call(get_handler, event("get-image", id=good["id"])).body == photo
    rejected = info(bad["id"])
    assert rejected["status"] == "rejected" and "not an image" in rejected["reason"]
    assert call(get_handler, event("get-image", id=bad["id"])).status == 404
    assert not aws.object_keys("uploads/")

    # S3 delivers at least once: the same events again change nothing.
    assert ingest_handler({"Records": records}, None) == {"batchItemFailures": []}
    assert info(good["id"]) == ready
    assert aws.object_keys("originals/") == [f"originals/{good['id']}"]


def test_a_failing_message_is_the_only_one_retried(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads = post_uploads(2).json()["uploads"]
    for upload in uploads:
        aws.s3.put_object(
            Bucket=aws.bucket, Key=upload["fields"]["key"], Body=sample("formats/hopper.png")
        )
    records = [
        r for r in receive(aws, queue_url(aws, "IngestQueue")) if "TestEvent" not in r["body"]
    ]
    assert len(records) == 2
    store = dependencies().store
    real_put = store.put
    broken = f"originals/{uploads[1]['id']}"

    def flaky_put(key: str, *args: Any, **kwargs: Any) -> bool:
        if key == broken:
            raise ServiceUnavailable("storage is temporarily unavailable; retry")
        return real_put(key, *args, **kwargs)

    monkeypatch.setattr(store, "put", flaky_put)
    result = ingest_handler({"Records": records}, None)
    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    broken_message = next(r for r in records if uploads[1]["id"] in r["body"])
    assert failed == [broken_message["messageId"]]
    assert info(uploads[0]["id"])["status"] == "ready"
    assert info(uploads[1]["id"])["status"] == "pending"  # untouched, the upload kept for a retry
    monkeypatch.setattr(store, "put", real_put)
    assert ingest_handler({"Records": [broken_message]}, None) == {"batchItemFailures": []}
    assert info(uploads[1]["id"])["status"] == "ready"


def stored(aws: Aws) -> str:
    answer = call(upload_handler, event("post-images-raw"))
    assert answer.status == 201
    return answer.json()["id"]


def test_batch_answers_each_item_in_order(aws: Aws) -> None:
    image_id = stored(aws)
    items = [
        {"source": {"id": image_id}, "ops": "thumbnail:32", "format": "webp"},
        {"source": {"id": image_id}, "ops": "spin:3"},
        {
            "source": {"data": base64.b64encode(sample("formats/hopper.jpg")).decode()},
            "ops": [{"op": "grayscale"}],
            "format": "png",
        },
        {"source": {"id": image_id}, "ops": "rotate:90", "store": True},
        {"source": {"id": "0Ojp8iUHJrV2bQ4mJmGpV1rNY"}},
        "not an item",
    ]
    answer = call(transform_handler, event("post-batch") | {"body": json.dumps({"items": items})})
    assert answer.status == 200
    results = answer.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, 200),
        (1, 400),
        (2, 200),
        (3, 201),
        (4, 404),
        (5, 400),
    ]
    assert results[0]["url"] == f"/images/{image_id}/thumbnail:32.webp"
    variant = event("get-variant", id=image_id)
    variant["pathParameters"]["pipeline"] = "thumbnail:32.webp"
    assert decode(call(transform_handler, variant).body).size == (32, 32)
    assert results[1]["error"]["code"] == "invalid_operation"
    assert "results/" in results[2]["url"] and len(aws.object_keys("results/")) == 1
    assert results[3]["image"]["status"] == "ready"
    too_many = {"items": [items[0]] * 101}
    assert (
        call(transform_handler, event("post-batch") | {"body": json.dumps(too_many)}).status == 400
    )


def run_workers(aws: Aws, url: str, deliveries: int = 1) -> None:
    """Deliver every queued message (each ``deliveries`` times), batches of 5, 4 at once."""
    records = receive(aws, url)
    batches = [records[i : i + 5] for i in range(0, len(records), 5)] * deliveries
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda batch: worker_handler({"Records": batch}, None), batches))
    assert all(r == {"batchItemFailures": []} for r in results)


def test_job_counts_each_item_once_under_concurrent_duplicate_delivery(aws: Aws) -> None:
    image_id = stored(aws)
    items = [
        {"source": {"id": image_id}, "ops": f"thumbnail:{8 + i}", "format": "png"}
        for i in range(22)
    ]
    items += [{"source": {"id": image_id}, "ops": "blur:0"}] * 3
    answer = call(transform_handler, event("post-jobs") | {"body": json.dumps({"items": items})})
    assert answer.status == 202
    job_id = answer.json()["job_id"]
    get_job = event("get-job") | {"pathParameters": {"job_id": job_id}}
    queued = call(transform_handler, get_job).json()
    assert (queued["status"], queued["total"], queued["succeeded"]) == ("queued", 25, 0)

    run_workers(aws, queue_url(aws, "JobsQueue"), deliveries=2)

    seen, cursor = [], None
    while True:
        page_event = get_job | {
            "queryStringParameters": {"limit": "10"} | ({"cursor": cursor} if cursor else {})
        }
        page = call(transform_handler, page_event).json()
        seen += page["results"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (page["status"], page["succeeded"], page["failed"]) == ("done", 22, 3)
    assert [r["index"] for r in seen] == list(range(25))
    assert seen[0]["url"] == f"/images/{image_id}/thumbnail:8.png"
    assert {r["status"] for r in seen[22:]} == {400}


def test_a_worker_that_died_after_recording_leaves_no_job_short(aws: Aws) -> None:
    image_id = stored(aws)
    body = json.dumps({"items": [{"source": {"id": image_id}, "ops": "thumbnail:9"}] * 150})
    job_id = call(transform_handler, event("post-jobs") | {"body": body}).json()["job_id"]
    records = receive(aws, queue_url(aws, "JobsQueue"))
    jobs = dependencies().jobs
    for died in records[:60]:  # each recorded, then its worker died before counting it
        message = json.loads(died["body"])
        jobs.record_result(job_id, message["index"], {"index": message["index"], "status": 200}, 1)
    get_job = event("get-job") | {"pathParameters": {"job_id": job_id}}
    assert call(transform_handler, get_job).json()["succeeded"] == 0

    for batch in (records, records):  # every message redelivered, then all once more
        assert worker_handler({"Records": batch}, None) == {"batchItemFailures": []}
    job = call(transform_handler, get_job).json()
    assert (job["status"], job["succeeded"], job["failed"]) == ("done", 150, 0)


def test_retryable_item_failures_are_retried_then_recorded(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id = stored(aws)
    body = json.dumps({"items": [{"source": {"id": image_id}, "ops": "thumbnail:9"}]})
    job_id = call(transform_handler, event("post-jobs") | {"body": body}).json()["job_id"]
    (record,) = receive(aws, queue_url(aws, "JobsQueue"))
    store = dependencies().store

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise ServiceUnavailable("storage is temporarily unavailable; retry")

    monkeypatch.setattr(store, "get", unavailable)
    monkeypatch.setattr(store, "exists", unavailable)
    first = worker_handler({"Records": [record]}, None)
    assert first["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]
    get_job = event("get-job") | {"pathParameters": {"job_id": job_id}}
    assert call(transform_handler, get_job).json()["failed"] == 0
    last = record | {"attributes": record["attributes"] | {"ApproximateReceiveCount": "5"}}
    assert worker_handler({"Records": [last]}, None) == {"batchItemFailures": []}
    job = call(transform_handler, get_job).json()
    assert (job["status"], job["failed"], job["results"][0]["status"]) == ("done", 1, 503)


def test_unknown_job_and_bad_job_requests(aws: Aws) -> None:
    get_job = event("get-job")
    assert call(transform_handler, get_job).status == 404
    for body in ({"items": []}, {"items": "x"}, {}, {"items": [{}] * 10_001}):
        answer = call(transform_handler, event("post-jobs") | {"body": json.dumps(body)})
        assert answer.status == 400, body
