"""The SQS edge alone: which messages it reports for redelivery, given the time left."""

from __future__ import annotations

import json
from typing import Any

import pytest

from progimage_service.attempts import Attempt, ended
from progimage_service.errors import BadRequest, ServiceUnavailable
from progimage_service.queue_events import RESERVE_SECONDS, sqs_handler
from tests.fake_lambda import EPOCH, FakeTime

ALLOWANCE = 20.0


def records(*bodies: Any, receive_count: int = 1) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
            }
            for i, body in enumerate(bodies)
        ]
    }


def failed(answer: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    return FakeTime().install(monkeypatch)


class Worker:
    """A consumer that spends each message's ``seconds`` and remembers what it was given."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.seen: list[tuple[Any, Attempt]] = []
        self.given_up: list[tuple[Any, Attempt]] = []
        self.settle = False

    def process(self, body: Any, attempt: Attempt) -> None:
        self.seen.append((body, attempt))
        self.clock.spend(body.get("seconds", 1))
        if "raise" in body:
            raise {"client": BadRequest("bad"), "server": ServiceUnavailable("down")}.get(
                body["raise"], RuntimeError("bug")
            )

    def give_up(self, body: Any, attempt: Attempt) -> bool:
        self.given_up.append((body, attempt))
        return self.settle


def test_the_clock_running_out_after_the_first_item_reports_exactly_the_rest(
    clock: FakeTime,
) -> None:
    worker = Worker(clock)
    handler = sqs_handler(worker.process, "jobs", allowance_seconds=ALLOWANCE)
    bodies = [{"n": 0, "seconds": 45}, {"n": 1}, {"n": 2}]
    answer = handler(records(*bodies), clock.context(60))
    assert [body["n"] for body, _ in worker.seen] == [0]
    assert failed(answer) == ["m1", "m2"]


def test_items_start_while_one_allowance_and_the_reserve_are_left(clock: FakeTime) -> None:
    worker = Worker(clock)
    handler = sqs_handler(worker.process, "jobs", allowance_seconds=ALLOWANCE)
    # 60 s: after 39 s, 21 s are left (start); after 39.5 s more, none.
    first = ALLOWANCE + RESERVE_SECONDS
    bodies = [{"n": 0, "seconds": 60 - first}, {"n": 1, "seconds": 0.5}, {"n": 2}, {"n": 3}]
    answer = handler(records(*bodies), clock.context(60))
    assert [body["n"] for body, _ in worker.seen] == [0, 1]
    assert failed(answer) == ["m2", "m3"]


def test_once_out_of_time_no_later_message_is_started(clock: FakeTime) -> None:
    """Stopping is for the rest of the batch, whatever the context says later."""

    class Scripted:
        def __init__(self, *seconds: float) -> None:
            self.left = list(seconds)

        def get_remaining_time_in_millis(self) -> int:
            return int(self.left.pop(0) * 1000)

    worker = Worker(clock)
    handler = sqs_handler(worker.process, "jobs", allowance_seconds=ALLOWANCE)
    answer = handler(records({"n": 0}, {"n": 1}, {"n": 2}), Scripted(60, 5, 60))
    assert [body["n"] for body, _ in worker.seen] == [0]
    assert failed(answer) == ["m1", "m2"]


def test_each_item_is_told_its_attempt_and_when_its_invocation_ends(clock: FakeTime) -> None:
    worker = Worker(clock)
    handler = sqs_handler(worker.process, "jobs", allowance_seconds=ALLOWANCE)
    handler(records({"seconds": 5}, {"seconds": 5}, receive_count=3), clock.context(60))
    (_, first), (_, second) = worker.seen
    assert (first.number, first.started, first.ends_at) == (3, EPOCH, EPOCH + 60)
    assert (second.number, second.started, second.ends_at) == (3, EPOCH + 5, EPOCH + 60)
    assert second.seconds == 55


def test_without_a_context_there_is_no_limit_and_no_end(clock: FakeTime) -> None:
    worker = Worker(clock)
    handler = sqs_handler(worker.process, "jobs", allowance_seconds=ALLOWANCE)
    answer = handler(records(*[{"seconds": 1000}] * 3), None)
    assert answer == {"batchItemFailures": []}
    assert [attempt.ends_at for _, attempt in worker.seen] == [None] * 3


def test_a_client_error_is_not_redelivered_but_a_server_error_or_a_bug_is(
    clock: FakeTime,
) -> None:
    worker = Worker(clock)
    handler = sqs_handler(worker.process, "jobs", allowance_seconds=ALLOWANCE)
    bodies = [{"raise": "client"}, {"raise": "server"}, {"raise": "bug"}, {"n": 3}]
    answer = handler(records(*bodies), clock.context(60))
    assert len(worker.seen) == 4
    assert failed(answer) == ["m1", "m2"]


def test_a_message_with_no_time_left_is_offered_to_give_up(clock: FakeTime) -> None:
    worker = Worker(clock)
    handler = sqs_handler(
        worker.process, "jobs", allowance_seconds=ALLOWANCE, give_up=worker.give_up
    )
    bodies = [{"n": 0, "seconds": 50}, {"n": 1}, {"n": 2}]
    answer = handler(records(*bodies, receive_count=5), clock.context(60))
    assert failed(answer) == ["m1", "m2"]  # not settled: delivered again
    assert [(body["n"], attempt.number) for body, attempt in worker.given_up] == [(1, 5), (2, 5)]

    worker.settle = True
    answer = handler(records(*bodies, receive_count=5), clock.context(60))
    assert answer == {"batchItemFailures": []}  # settled: not delivered again


def test_a_give_up_that_fails_leaves_the_message_to_be_delivered_again(clock: FakeTime) -> None:
    def give_up(body: Any, attempt: Attempt) -> bool:
        raise ServiceUnavailable("the table is throttling")

    worker = Worker(clock)
    handler = sqs_handler(worker.process, "jobs", allowance_seconds=ALLOWANCE, give_up=give_up)
    answer = handler(records({"seconds": 50}, {}), clock.context(60))
    assert failed(answer) == ["m1"]


def test_an_invocation_is_ended_only_well_after_its_end() -> None:
    assert not ended(None, EPOCH)
    assert not ended(EPOCH, EPOCH)
    assert not ended(EPOCH, EPOCH + 5)  # clocks of two environments may differ a little
    assert ended(EPOCH, EPOCH + 60)
