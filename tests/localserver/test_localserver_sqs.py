"""S3 notifications to SQS, and the pollers that feed SQS events to functions.

Real HTTP, a real moto server and the ``sqs_template`` of conftest.py, whose tiny handlers
(package ``lssqs``) record what they receive in module-level lists the tests read: they run
in this process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
import requests

from localserver import LocalServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(sqs_template: Path) -> Iterator[LocalServer]:
    with LocalServer(sqs_template, port=0) as running:
        yield running


@pytest.fixture
def app(server: LocalServer) -> Iterator[ModuleType]:
    """The handlers' module, with what they recorded so far forgotten."""
    server.wait_for_queues_idle(10)  # the s3:TestEvent sent when notifications are set up
    module = sys.modules["lssqs.app"]
    module.reset()
    yield module
    module.RELEASE.set()  # no slow handler outlives its test


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Poll until ``condition()`` holds; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def aws(server: LocalServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def records(app: ModuleType, name: str) -> list[dict[str, Any]]:
    return [
        record for handler, event in app.CALLS if handler == name for record in event["Records"]
    ]


def deliveries(app: ModuleType, name: str) -> dict[str, list[int]]:
    """Receive counts of each delivered message, by body."""
    seen: dict[str, list[int]] = {}
    for record in records(app, name):
        seen.setdefault(record["body"], []).append(
            int(record["attributes"]["ApproximateReceiveCount"])
        )
    return seen


def send(server: LocalServer, queue_id: str, *bodies: Any) -> None:
    entries = [
        {"Id": str(index), "MessageBody": body if isinstance(body, str) else json.dumps(body)}
        for index, body in enumerate(bodies)
    ]
    aws(server, "sqs").send_message_batch(QueueUrl=server.resources[queue_id].ref, Entries=entries)


def queue_counts(server: LocalServer, queue_id: str) -> tuple[int, int]:
    """(messages waiting to be received, messages received and not yet deleted)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = aws(server, "sqs").get_queue_attributes(
        QueueUrl=server.resources[queue_id].ref, AttributeNames=names
    )["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


def upload(url: str, fields: dict[str, str], data: bytes) -> None:
    answer = requests.post(url, data=fields, files={"file": ("image.png", data)}, timeout=10)
    assert answer.status_code in (200, 201, 204), answer.text


# -- S3 notifications ---------------------------------------------------------------------


def test_an_upload_under_the_prefix_reaches_the_ingest_handler(
    server: LocalServer, app: ModuleType
) -> None:
    key = "uploads/a photo+1.png"
    answer = requests.post(f"{server.url}/uploads", json={"key": key}, timeout=10)
    assert answer.status_code == 201, answer.text
    post = answer.json()
    assert post["url"].startswith(server.s3_endpoint)
    upload(post["url"], post["fields"], b"\x89PNG not really")

    outside = aws(server, "s3").generate_presigned_post(server.resources["Bucket"].name, "x/y.png")
    upload(outside["url"], outside["fields"], b"elsewhere")
    server.wait_for_queues_idle(10)

    (recorded,) = records(app, "ingest")
    record = dict(recorded)
    queue = server.resources["IngestQueue"]
    body = record.pop("body")
    assert record.pop("md5OfBody") == hashlib.md5(body.encode()).hexdigest()
    assert set(record.pop("attributes")) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record.pop("messageId") and record.pop("receiptHandle")
    assert record == {
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.attributes["Arn"],
        "awsRegion": "us-east-1",
    }
    (s3_record,) = json.loads(body)["Records"]
    assert s3_record["eventSource"] == "aws:s3"
    assert s3_record["eventName"] == "ObjectCreated:Post"
    assert s3_record["s3"]["bucket"]["name"] == server.resources["Bucket"].name
    # URL-encoded: a space is "+", a "+" is "%2B" (moto also encodes "/" as "%2F").
    raw_key = s3_record["s3"]["object"]["key"]
    assert raw_key.endswith("a+photo%2B1.png")
    assert unquote_plus(raw_key) == key
    assert s3_record["s3"]["object"]["size"] == len(b"\x89PNG not really")
    stored = aws(server, "s3").get_object(Bucket=server.resources["Bucket"].name, Key=key)
    assert stored["Body"].read() == b"\x89PNG not really"


def test_setting_up_notifications_sends_a_test_event(sqs_template: Path) -> None:
    """As on AWS: the ingest handler must accept (and ignore) an s3:TestEvent message."""
    if "lssqs.app" in sys.modules:
        sys.modules["lssqs.app"].reset()
    with LocalServer(sqs_template, port=0) as server:
        server.wait_for_queues_idle(10)
        bodies = [json.loads(r["body"]) for r in records(sys.modules["lssqs.app"], "ingest")]
    assert any(body.get("Event") == "s3:TestEvent" for body in bodies)


def test_reset_keeps_the_pipeline_working(server: LocalServer, app: ModuleType) -> None:
    server.reset()
    server.wait_for_queues_idle(10)
    app.reset()
    bucket = server.resources["Bucket"].name
    aws(server, "s3").put_object(Bucket=bucket, Key="uploads/after-reset", Body=b"x")
    server.wait_for_queues_idle(10)
    (record,) = records(app, "ingest")
    (s3_record,) = json.loads(record["body"])["Records"]
    assert s3_record["eventName"] == "ObjectCreated:Put"
    assert unquote_plus(s3_record["s3"]["object"]["key"]) == "uploads/after-reset"


# -- batches, failures, retries -----------------------------------------------------------


def test_batch_item_failures_are_retried_alone(server: LocalServer, app: ModuleType) -> None:
    send(server, "JobsQueue", {"n": 1}, {"n": 2, "fail_until": 1}, {"n": 3})
    server.wait_for_queues_idle(15)
    assert deliveries(app, "jobs") == {
        '{"n": 1}': [1],
        '{"n": 2, "fail_until": 1}': [1, 2],
        '{"n": 3}': [1],
    }


def test_a_message_that_always_fails_ends_in_the_dead_letter_queue(
    server: LocalServer, app: ModuleType
) -> None:
    send(server, "JobsQueue", {"n": "doomed", "fail_until": 99}, {"n": "fine"})
    server.wait_for_queues_idle(20)
    assert deliveries(app, "jobs") == {
        '{"n": "doomed", "fail_until": 99}': [1, 2, 3],  # maxReceiveCount: 3
        '{"n": "fine"}': [1],
    }
    dead = aws(server, "sqs").receive_message(
        QueueUrl=server.resources["JobsDeadLetters"].ref, MaxNumberOfMessages=10
    )["Messages"]
    assert [m["Body"] for m in dead] == ['{"n": "doomed", "fail_until": 99}']


@pytest.mark.parametrize("failure", ["raise", "malformed"])
def test_an_exception_or_a_malformed_response_fails_the_whole_batch(
    server: LocalServer, app: ModuleType, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="localserver")
    send(server, "BatchedJobsQueue", {"n": 1}, {"n": 2, failure: True})
    server.wait_for_queues_idle(15)
    assert deliveries(app, "jobs") == {'{"n": 1}': [1, 2], f'{{"n": 2, "{failure}": true}}': [1, 2]}
    if failure == "raise":
        (logged,) = [r for r in caplog.records if r.exc_info]
        assert "JobWorkerFunction raised an exception" in logged.getMessage()
    else:
        assert "not-in-this-batch" in caplog.text


def test_without_item_failures_an_exception_retries_and_a_result_succeeds(
    server: LocalServer, app: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="localserver")
    send(server, "PlainQueue", "raise", "ok")
    server.wait_for_queues_idle(15)
    # The failed batch came back whole; the batchItemFailures answer was ignored.
    assert deliveries(app, "plain") == {"raise": [1, 2], "ok": [1, 2]}
    assert "Traceback" in caplog.text and "a plain handler failed" in caplog.text
    assert "SQS progimage-local-plainqueue -> 2 messages, 2 failed" in caplog.text
    assert "SQS progimage-local-plainqueue -> 2 messages, 0 failed" in caplog.text


def test_the_batching_window_gathers_messages(server: LocalServer, app: ModuleType) -> None:
    send(server, "PlainQueue", "first")
    # Sent only once the poller holds "first": the window keeps its batch open for "second".
    wait_until(lambda: queue_counts(server, "PlainQueue") == (0, 1))
    assert app.CALLS == []
    send(server, "PlainQueue", "second")
    server.wait_for_queues_idle(15)
    ((_, event),) = app.CALLS
    assert [r["body"] for r in event["Records"]] == ["first", "second"]


def test_batches_run_concurrently(server: LocalServer, app: ModuleType) -> None:
    send(server, "SlowQueue", *[f"m{i}" for i in range(8)])
    # The handlers hold their batches: four run at once (the default --sqs-concurrency), and
    # the other four messages wait in the queue, with no free slot to receive them.
    wait_until(lambda: app.STATE["active"] == 4)
    assert queue_counts(server, "SlowQueue") == (4, 4)
    app.RELEASE.set()
    server.wait_for_queues_idle(20)
    assert sorted(r["body"] for r in records(app, "slow")) == [f"m{i}" for i in range(8)]
    assert app.STATE["max_active"] == 4


def test_maximum_concurrency_bounds_the_pollers(server: LocalServer) -> None:
    sources = {source.event_name: source for source in server.queue_sources}
    assert sources["Jobs"].concurrency == 2
    assert sources["BatchedJobs"].concurrency == 4
    assert sources["Slow"].concurrency == 4  # the default --sqs-concurrency
    assert sources["Plain"].batching_window_s == 30
    assert sources["Uploaded"].report_batch_item_failures
    assert not sources["Plain"].report_batch_item_failures


def test_wait_for_queues_idle_times_out_while_messages_wait(
    server: LocalServer, app: ModuleType
) -> None:
    send(server, "PlainQueue", "raise", "ok")  # a full batch; it fails once, retried after 1 s
    with pytest.raises(TimeoutError, match="plainqueue"):
        server.wait_for_queues_idle(0.3)
    server.wait_for_queues_idle(15)
    assert deliveries(app, "plain") == {"raise": [1, 2], "ok": [1, 2]}


# -- stopping -----------------------------------------------------------------------------


def poller_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if "sqs:" in thread.name]


def test_stop_returns_while_batches_run_and_leaves_no_poller_behind(sqs_template: Path) -> None:
    server = LocalServer(sqs_template, port=0, sqs_concurrency=2).start()
    app = sys.modules["lssqs.app"]
    try:
        server.wait_for_queues_idle(10)
        app.reset()
        send(server, "SlowQueue", "a", "b", "c")
        # Both slots busy with held batches; the other receivers long-polling their queues.
        wait_until(lambda: app.STATE["active"] == 2)
    finally:
        try:
            server.stop()
            held = app.STATE["active"]
        finally:
            app.RELEASE.set()
    assert held == 2  # stop returned while the handlers still ran: it waits for them only so long
    for thread in poller_threads():
        thread.join(30)
    assert poller_threads() == []  # the held batches ended once released; nothing else ran on
    assert sorted(r["body"] for r in records(app, "slow")) == ["a", "b"]
