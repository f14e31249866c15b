"""Bounded work in the queue workers, through the real handlers on moto, on a fake clock.

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

from progimage_service.services import jobs as jobs_service
from tests.fake_lambda import FakeTime, Stopped
from tests.integration.conftest import Aws, call, event
from tests.integration.test_bulk import queue_url, receive, stored
from transform.app import handler as transform_handler
from transform.worker import handler as worker_handler

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
