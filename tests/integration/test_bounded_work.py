"""Bounded work in the queue workers (job items, upload ingest), through the real handlers on
moto, on a fake clock.

The context's remaining time and the wall clock move only when a test spends time
(tests/fake_lambda.py); an invocation Lambda stops is a ``Stopped`` raised from inside the work.
What SQS does between deliveries (the same messages again, their receive count one higher, a
visibility timeout later) the tests do by hand.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from progimage_service.errors import ServiceUnavailable
from progimage_service.services import jobs as jobs_service
from progimage_service.wiring import dependencies
from tests.fake_lambda import FakeTime, Stopped
from tests.images import sample
from tests.integration.conftest import ROOT, Aws, call, event
from tests.integration.test_bulk import info, post_uploads, queue_url, receive, stored
from transform.app import handler as transform_handler
from transform.worker import handler as worker_handler
from upload.ingest import handler as ingest_handler

WORKER_TIMEOUT = 120  # JobWorkerFunction's Timeout
VISIBILITY = 720  # JobsQueue's VisibilityTimeout: when SQS delivers a message again
LAST = 5  # QueueMaxReceiveCount


@pytest.fixture
def clock(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    return FakeTime().install(monkeypatch)


def delivered(records: list[dict[str, Any]], receive_count: int) -> list[dict[str, Any]]:
    """The records as SQS delivers them on their ``receive_count``-th receive."""
    return [
        r | {"attributes": r["attributes"] | {"ApproximateReceiveCount": str(receive_count)}}
        for r in records
    ]


def failed(answer: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def submit_job(aws: Aws, count: int) -> tuple[str, list[dict[str, Any]]]:
    """A job of ``count`` thumbnails of one stored image, and its queued messages in order."""
    image_id = stored(aws)
    items = [
        {"source": {"id": image_id}, "ops": f"thumbnail:{16 + i}", "format": "png"}
        for i in range(count)
    ]
    body = json.dumps({"items": items})
    job_id = call(transform_handler, event("post-jobs") | {"body": body}).json()["job_id"]
    records = receive(aws, queue_url(aws, "JobsQueue"))
    return job_id, sorted(records, key=lambda r: json.loads(r["body"])["index"])


def job(job_id: str) -> dict[str, Any]:
    get_job = event("get-job") | {"pathParameters": {"job_id": job_id}}
    return call(transform_handler, get_job).json()


def adds_up(state: dict[str, Any]) -> bool:
    counted = Counter(r["status"] < 400 for r in state["results"])
    return (
        state["succeeded"] + state["failed"] == state["total"] == len(state["results"])
        and counted[True] == state["succeeded"]
        and counted[False] == state["failed"]
    )


class Items:
    """The real item runner, each run spending time on the fake clock: ``seconds[index]``
    (default 5); an index in ``stop`` runs until its invocation is stopped, one in ``bug``
    raises an unexpected exception."""

    def __init__(self, clock: FakeTime, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clock = clock
        self.seconds: dict[int, float] = {}
        self.stop: set[int] = set()
        self.bug: set[int] = set()
        self.runs: Counter[int] = Counter()
        self._real = jobs_service.run_item
        monkeypatch.setattr(jobs_service, "run_item", self.run_item)

    def run_item(self, deps: Any, tenant: str, item: Any, index: int, run_id: str) -> Any:
        self.runs[index] += 1
        self.clock.spend(self.seconds.get(index, 5))
        if index in self.stop:
            self.clock.spend(10 * WORKER_TIMEOUT)
            raise Stopped
        if index in self.bug:
            raise KeyError("a bug")
        return self._real(deps, tenant, item, index, run_id)


@pytest.fixture
def items(clock: FakeTime, monkeypatch: pytest.MonkeyPatch) -> Items:
    return Items(clock, monkeypatch)


def test_an_item_that_outlives_its_invocation_fails_once_and_its_neighbours_succeed(
    aws: Aws, clock: FakeTime, items: Items
) -> None:
    job_id, records = submit_job(aws, 4)
    items.stop = {1}
    with pytest.raises(Stopped):  # Lambda stops the invocation: no answer at all
        worker_handler({"Records": records}, clock.context(WORKER_TIMEOUT))
    assert (job(job_id)["status"], job(job_id)["succeeded"]) == ("running", 1)

    # Without an answer, SQS delivers the whole batch again once it is visible.
    clock.spend(VISIBILITY)
    answer = worker_handler({"Records": delivered(records, 2)}, clock.context(WORKER_TIMEOUT))
    assert answer == {"batchItemFailures": []}

    state = job(job_id)
    assert (state["status"], state["succeeded"], state["failed"]) == ("done", 3, 1)
    assert adds_up(state)
    assert [r["status"] for r in state["results"]] == [200, 422, 200, 200]
    error = state["results"][1]["error"]
    assert error["code"] == "unprocessable"
    assert "did not finish in the 115 s it was given" in error["message"]  # 120 s less item 0's 5
    assert items.runs == {0: 1, 1: 1, 2: 1, 3: 1}  # the bad item is not run again, nor item 0


def test_when_the_clock_runs_out_after_the_first_item_exactly_the_rest_come_again(
    aws: Aws, clock: FakeTime, items: Items
) -> None:
    job_id, records = submit_job(aws, 3)
    items.seconds = {0: 100}  # slow, but done within its invocation
    answer = worker_handler({"Records": records}, clock.context(WORKER_TIMEOUT))
    assert failed(answer) == [r["messageId"] for r in records[1:]]
    assert job(job_id)["succeeded"] == 1

    clock.spend(VISIBILITY)
    again = delivered(records[1:], 2)
    assert worker_handler({"Records": again}, clock.context(WORKER_TIMEOUT)) == {
        "batchItemFailures": []
    }
    state = job(job_id)
    assert (state["status"], state["succeeded"], state["failed"]) == ("done", 3, 0)
    assert adds_up(state)
    assert items.runs == {0: 1, 1: 1, 2: 1}


def test_items_never_started_by_their_last_delivery_are_recorded_as_failed(
    aws: Aws, clock: FakeTime, items: Items
) -> None:
    job_id, records = submit_job(aws, 3)
    items.seconds = {0: 100}
    answer = worker_handler({"Records": delivered(records, LAST)}, clock.context(WORKER_TIMEOUT))
    assert answer == {"batchItemFailures": []}  # none left for the dead-letter queue
    state = job(job_id)
    assert (state["status"], state["succeeded"], state["failed"]) == ("done", 1, 2)
    assert adds_up(state)
    assert [r["status"] for r in state["results"]] == [200, 503, 503]
    assert state["results"][1]["error"]["code"] == "service_unavailable"
    assert items.runs == {0: 1}


def test_an_unexpected_error_is_retried_then_recorded_and_spares_its_neighbours(
    aws: Aws, clock: FakeTime, items: Items
) -> None:
    job_id, records = submit_job(aws, 3)
    items.bug = {1}
    answer = worker_handler({"Records": records}, clock.context(WORKER_TIMEOUT))
    assert failed(answer) == [records[1]["messageId"]]
    assert job(job_id)["succeeded"] == 2

    for receive_count in range(2, LAST + 1):
        clock.spend(VISIBILITY)
        answer = worker_handler(
            {"Records": delivered(records[1:2], receive_count)}, clock.context(WORKER_TIMEOUT)
        )
    assert answer == {"batchItemFailures": []}
    state = job(job_id)
    assert (state["status"], state["succeeded"], state["failed"]) == ("done", 2, 1)
    assert adds_up(state)
    assert state["results"][1]["status"] == 500
    assert state["results"][1]["error"]["code"] == "internal_error"
    assert items.runs[1] == LAST  # a failure given back on purpose is run again, not failed


def test_a_run_whose_invocation_may_still_be_going_is_not_taken_for_dead(
    aws: Aws, clock: FakeTime, items: Items
) -> None:
    """A duplicate delivery while the first run's invocation could still be working runs the
    item as well (its result is kept once), rather than failing it."""
    job_id, records = submit_job(aws, 1)
    items.stop = {0}
    with pytest.raises(Stopped):
        worker_handler({"Records": records}, clock.context(WORKER_TIMEOUT))
    clock.now -= 10 * WORKER_TIMEOUT  # as if the duplicate came while the first was working
    items.stop = set()
    answer = worker_handler({"Records": delivered(records, 2)}, clock.context(WORKER_TIMEOUT))
    assert answer == {"batchItemFailures": []}
    state = job(job_id)
    assert (state["status"], state["succeeded"], state["failed"]) == ("done", 1, 0)
    assert items.runs == {0: 2}


# --- ingest ------------------------------------------------------------------------------------

INGEST_TIMEOUT = 60  # IngestFunction's Timeout
INGEST_VISIBILITY = 420  # IngestQueue's VisibilityTimeout


class Uploads:
    """Presigned uploads made and put to S3, their S3 events taken from the ingest queue in the
    order of ``uploads``; reading an upload spends ``seconds[id]`` (default 1) on the fake clock,
    and one in ``stop`` runs until its invocation is stopped, one in ``down`` finds storage
    unavailable."""

    def __init__(self, aws: Aws, clock: FakeTime, monkeypatch: pytest.MonkeyPatch, count: int):
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self.stop: set[str] = set()
        self.down: set[str] = set()
        self.reads: Counter[str] = Counter()
        self.ids = [u["id"] for u in post_uploads(count).json()["uploads"]]
        for image_id in self.ids:
            aws.s3.put_object(
                Bucket=aws.bucket, Key=f"uploads/{image_id}", Body=sample("formats/hopper.png")
            )
        queued = [
            r for r in receive(aws, queue_url(aws, "IngestQueue")) if "TestEvent" not in r["body"]
        ]
        self.records = [next(r for r in queued if i in r["body"]) for i in self.ids]
        store = dependencies().store
        self._real = store.get
        monkeypatch.setattr(store, "get", self.get)

    def get(self, key: str) -> Any:
        image_id = key.rsplit("/", 1)[-1]
        self.reads[image_id] += 1
        self.clock.spend(self.seconds.get(image_id, 1))
        if image_id in self.stop:
            self.clock.spend(10 * INGEST_TIMEOUT)
            raise Stopped
        if image_id in self.down:
            raise ServiceUnavailable("storage is temporarily unavailable; retry")
        return self._real(key)

    def ingest(self, records: list[dict[str, Any]], receive_count: int) -> dict[str, Any]:
        event_ = {"Records": delivered(records, receive_count)}
        return ingest_handler(event_, self.clock.context(INGEST_TIMEOUT))

    def status(self) -> list[str]:
        return [info(image_id)["status"] for image_id in self.ids]


@pytest.fixture
def uploads(aws: Aws, clock: FakeTime, monkeypatch: pytest.MonkeyPatch) -> Uploads:
    return Uploads(aws, clock, monkeypatch, 3)


def test_an_upload_that_outlives_its_invocation_is_rejected_and_its_neighbours_ingested(
    aws: Aws, clock: FakeTime, uploads: Uploads
) -> None:
    bad = uploads.ids[0]
    uploads.stop = {bad}
    with pytest.raises(Stopped):
        uploads.ingest(uploads.records, 1)
    assert uploads.status() == ["pending"] * 3

    clock.spend(INGEST_VISIBILITY)
    assert uploads.ingest(uploads.records, 2) == {"batchItemFailures": []}
    assert uploads.status() == ["rejected", "ready", "ready"]
    reason = info(bad)["reason"]
    assert "could not be checked and stored in the 60 s its ingest was given" in reason
    assert uploads.reads[bad] == 1  # not read again
    assert not aws.object_keys("uploads/") and not aws.object_keys(f"originals/{bad}")


def test_a_slow_upload_leaves_its_neighbours_for_the_next_delivery_only(
    aws: Aws, clock: FakeTime, uploads: Uploads
) -> None:
    uploads.seconds = {uploads.ids[0]: 40}  # slow, but done within its invocation
    answer = uploads.ingest(uploads.records, 1)
    assert failed(answer) == [r["messageId"] for r in uploads.records[1:]]
    assert uploads.status() == ["ready", "pending", "pending"]

    clock.spend(INGEST_VISIBILITY)
    assert uploads.ingest(uploads.records[1:], 2) == {"batchItemFailures": []}
    assert uploads.status() == ["ready"] * 3
    assert uploads.reads == {image_id: 1 for image_id in uploads.ids}


def test_an_upload_failing_on_every_delivery_is_rejected_on_the_last(
    aws: Aws, clock: FakeTime, uploads: Uploads
) -> None:
    bad = uploads.ids[1]
    uploads.down = {bad}
    answer = uploads.ingest(uploads.records, 1)
    assert failed(answer) == [uploads.records[1]["messageId"]]
    assert uploads.status() == ["ready", "pending", "ready"]
    for receive_count in range(2, LAST + 1):
        clock.spend(INGEST_VISIBILITY)
        answer = uploads.ingest(uploads.records[1:2], receive_count)
    assert answer == {"batchItemFailures": []}
    assert uploads.status() == ["ready", "rejected", "ready"]
    assert "could not be stored (storage is temporarily unavailable" in info(bad)["reason"]
    assert uploads.reads[bad] == LAST  # a failure given back on purpose is tried again
    assert not aws.object_keys("uploads/")


def test_uploads_never_started_by_their_last_delivery_are_rejected(
    aws: Aws, clock: FakeTime, uploads: Uploads
) -> None:
    uploads.seconds = {uploads.ids[0]: 40}
    assert uploads.ingest(uploads.records, LAST) == {"batchItemFailures": []}
    assert uploads.status() == ["ready", "rejected", "rejected"]
    assert "ran out of time on every delivery" in info(uploads.ids[1])["reason"]
    assert not aws.object_keys("uploads/")


def granted_to(role_name: str) -> set[str]:
    """The actions a role of the template grants (on whatever resources)."""
    template = json.loads(json.dumps(cfn_yaml.load(str(ROOT / "template.yaml"))))
    role = template["Resources"][role_name]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    return {
        action
        for statement in statements
        if "Action" in statement  # (a conditional statement is a Fn::If)
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }


def record_calls(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The IAM actions of every S3 and DynamoDB call the functions make from now on."""
    called: set[str] = set()
    deps = dependencies()
    for service, client in (("s3", deps.store.s3), ("dynamodb", deps.catalog.db)):
        real = client._make_api_call

        def make_api_call(operation: str, params: Any, real: Any = real, service: str = service):
            called.add(f"{service}:{'GetObject' if operation == 'HeadObject' else operation}")
            return real(operation, params)

        monkeypatch.setattr(client, "_make_api_call", make_api_call)
    return called


def test_ingest_calls_only_what_its_role_allows(
    aws: Aws, clock: FakeTime, uploads: Uploads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto grants everything; the deployed role does not. Every AWS call ingest makes, on
    every path (ready, rejected as invalid, rejected as out of time), is one the role grants."""
    called = record_calls(monkeypatch)
    aws.s3.put_object(Bucket=aws.bucket, Key=f"uploads/{uploads.ids[1]}", Body=b"not an image")
    uploads.stop = {uploads.ids[2]}
    with pytest.raises(Stopped):
        uploads.ingest(uploads.records, 1)
    clock.spend(INGEST_VISIBILITY)
    assert uploads.ingest(uploads.records, 2) == {"batchItemFailures": []}
    assert uploads.status() == ["ready", "rejected", "rejected"]
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "s3:PutObject"} <= called
    assert called <= granted_to("IngestFunctionRole")


def test_the_job_worker_calls_only_what_its_role_allows(
    aws: Aws, clock: FakeTime, items: Items, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, records = submit_job(aws, 4)
    called = record_calls(monkeypatch)
    items.stop = {1}
    items.bug = {2}
    with pytest.raises(Stopped):
        worker_handler({"Records": records}, clock.context(WORKER_TIMEOUT))
    clock.spend(VISIBILITY)
    worker_handler({"Records": delivered(records, LAST)}, clock.context(WORKER_TIMEOUT))
    by_worker = set(called)  # (reading the job below is the API's doing)
    assert job(job_id)["status"] == "done"
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "s3:PutObject"} <= by_worker
    assert by_worker <= granted_to("JobWorkerFunctionRole")
