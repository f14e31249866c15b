"""The SQS edge: Lambda's SQS event in, partial batch failures out.

Each message is processed on its own; the ones that raise are reported in
``batchItemFailures`` so that SQS redelivers only those (the event source mapping has
``ReportBatchItemFailures``), and after the queue's maxReceiveCount they go to its dead-letter
queue. A client error (a ProgImageError below 500) is the message's own fault and would fail
again: it is logged and not redelivered (the consumers record such outcomes themselves).

Time: Lambda stops an invocation at its Timeout, and then reports the whole batch as failed,
the finished messages with the rest. So before each message the handler asks the context for
the time left, and starts the message only if one item's allowance is left besides
RESERVE_SECONDS to answer; otherwise it stops, and the messages not started are reported as
failures, to be delivered again, while the finished ones are not. A consumer may settle a
message it had no time for instead (``give_up``: on its last delivery, say, where a redelivery
would put it in the dead-letter queue unrecorded). Without a context (a direct call) there is
no limit.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from . import observability
from .attempts import Attempt
from .errors import ProgImageError

logger = logging.getLogger("progimage")

Message = dict[str, Any]
Process = Callable[[Any, Attempt], None]
GiveUp = Callable[[Any, Attempt], bool]

# Seconds kept after the last message started, for the handler to answer Lambda.
RESERVE_SECONDS = 1.0
# The time one item (a job item, an upload to ingest) is allowed: what the API gives the same
# work done synchronously (the HTTP functions' Timeout). A function's Timeout leaves it to each
# of a full batch (BatchSize x ITEM_SECONDS plus the reserve; the template's tests check this).
ITEM_SECONDS = 29


def wall_clock() -> float:
    """Epoch seconds: what a note of an invocation's end is written in (tests replace it)."""
    return time.time()


def sqs_handler(
    process: Process,
    function: str,
    *,
    allowance_seconds: float = ITEM_SECONDS,
    give_up: GiveUp | None = None,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point of ``function``, calling ``process(body_as_json, attempt)`` for
    each message, and logging one line for each: its outcome and time.

    A message is started only while ``allowance_seconds`` (the time one item may need) and the
    reserve are left. ``give_up(body, attempt)``, if given, is asked about each message there
    was no time for: True if it settled the message, which then is not delivered again.
    """

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        out_of_time = False
        with observability.invocation(function) as current:
            invocation_fields = dict(current.fields)
            for record in event.get("Records", []):
                current.fields = dict(invocation_fields)  # what the message adds is its own
                message_id = record["messageId"]
                number = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
                left = seconds_left(context)
                now = wall_clock()
                attempt = Attempt(number, now, None if left is None else now + left)
                out_of_time = out_of_time or (
                    left is not None and left < allowance_seconds + RESERVE_SECONDS
                )
                outcome = _handle(record, attempt, process, give_up, out_of_time)
                if outcome in ("failed", "not started"):
                    failures.append({"itemIdentifier": message_id})
                logger.info(
                    "message %s %s",
                    message_id,
                    outcome,
                    extra=current.fields
                    | {
                        "message_id": message_id,
                        "attempt": number,
                        "outcome": outcome,
                        "latency_ms": round((wall_clock() - now) * 1000, 1),
                    },
                )
            current.fields = invocation_fields
        return {"batchItemFailures": failures}

    return observability.traced(handler)


def batch_handler(
    process: Callable[[list[Any]], None], function: str, *, failures: str
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point of ``function`` for a queue whose messages are worked on together:
    ``process(bodies)`` once for the batch. If it raises, every message is delivered again
    (counted in the metric ``failures``); a message that is not JSON is logged and dropped."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with observability.invocation(function) as current:
            taken = []
            for record in event.get("Records", []):
                try:
                    taken.append((record["messageId"], json.loads(record["body"])))
                except ValueError:
                    logger.warning("message %s is not JSON: dropped", record["messageId"])
            started = wall_clock()
            try:
                process([body for _, body in taken])
                outcome, failed = "done", []
            except Exception:
                logger.exception("a batch of %d messages failed", len(taken))
                observability.add(failures, len(taken))
                outcome, failed = "failed", [{"itemIdentifier": i} for i, _ in taken]
            logger.info(
                "batch of %d messages %s",
                len(taken),
                outcome,
                extra=current.fields
                | {
                    "messages": len(taken),
                    "outcome": outcome,
                    "latency_ms": round((wall_clock() - started) * 1000, 1),
                },
            )
        return {"batchItemFailures": failed}

    return observability.traced(handler)


def from_queue(event: dict[str, Any], queue_url: str) -> bool:
    """Whether the batch came from the queue at ``queue_url`` (an SQS queue's URL and ARN both
    end in its name)."""
    records = event.get("Records") or [{}]
    source = str(records[0].get("eventSourceARN", ""))
    return bool(queue_url) and source.rsplit(":", 1)[-1] == queue_url.rstrip("/").rsplit("/", 1)[-1]


def _handle(
    record: Message, attempt: Attempt, process: Process, give_up: GiveUp | None, no_time: bool
) -> str:
    """Process one message (with ``no_time``, settle it by ``give_up`` or leave it); its
    outcome: done, refused (a 4xx, not retried), given up, not started, or failed."""
    message_id = record["messageId"]
    try:
        body = json.loads(record["body"])
        if no_time:
            return "given up" if give_up is not None and give_up(body, attempt) else "not started"
        process(body, attempt)
    except ProgImageError as error:
        if error.status >= 500:
            logger.exception("message %s failed (attempt %d)", message_id, attempt.number)
            return "failed"
        logger.warning("message %s refused, not retried: %s", message_id, error.message)
        return "refused"
    except Exception:
        logger.exception("message %s failed (attempt %d)", message_id, attempt.number)
        return "failed"
    return "done"


def seconds_left(context: Any) -> float | None:
    """The invocation's remaining time, from Lambda's context; None without one."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else remaining() / 1000
