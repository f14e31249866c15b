"""Jobs: large item lists processed asynchronously by queue workers, counted atomically.

A job's status is derived from its counters when read (queued, running, done), so no worker
has to decide which of them finished last.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from .. import observability
from ..attempts import Attempt, died
from ..auth import DEFAULT_TENANT
from ..errors import BadRequest, ProgImageError, ServiceUnavailable, TooLarge, Unprocessable
from ..ids import check_id, new_id, unknown
from ..inputs import decimal
from ..models import now_rfc3339
from ..wiring import Dependencies
from .batch import presented, run_item

logger = logging.getLogger("progimage")

MAX_JOB_ITEMS = 10_000
RETENTION_SECONDS = 7 * 86_400  # jobs and their results expire (DynamoDB TTL, S3 lifecycle)
_MAX_MESSAGE = 250_000  # SQS takes 256 KiB per message, envelope included


def submit(deps: Dependencies, tenant: str, items: Any) -> dict[str, Any]:
    """Record the tenant's job and queue one message per item; answer the job's id and size."""
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_JOB_ITEMS:
        raise BadRequest(f"items must be a list of 1 to {MAX_JOB_ITEMS} items", param="items")
    job_id = new_id()
    messages = [
        {"job_id": job_id, "tenant": tenant, "index": i, "item": item}
        for i, item in enumerate(items)
    ]
    for message in messages:
        if len(json.dumps(message)) > _MAX_MESSAGE:
            raise TooLarge(
                f"item {message['index']} is too large to queue; store its image first and "
                "refer to it by id",
                param=f"items[{message['index']}]",
            )
    deps.jobs.create(job_id, tenant, len(items), now_rfc3339(), _expiry())
    try:
        deps.jobs_queue.send_all(messages)
    except BaseException:
        deps.jobs.delete(job_id)  # messages already sent find no job and count nothing
        raise
    return {"job_id": job_id, "status": "queued", "total": len(items)}


def process(deps: Dependencies, message: dict[str, Any], attempt: Attempt) -> None:
    """Run one queued item and count it, once, however often the message is delivered.

    A retryable failure (5xx, or an unexpected exception) is raised so that the queue
    redelivers the message, until the last attempt, which records the failure so that the job
    still finishes. A run whose invocation ran out (of time or memory) before it recorded a
    result is failed by the next delivery (422), not run again: see ``attempts``.
    """
    job_id, index = message["job_id"], int(message["index"])
    recorded = deps.jobs.recorded(job_id, index)
    if recorded is not None:  # counted again: the delivery that recorded it may have died
        _count(deps, job_id, recorded)
        return
    if attempt.ends_at is not None:  # (a direct call, with no end known, notes nothing)
        earlier = deps.jobs.begin_run(job_id, index, attempt.started, attempt.ends_at, _expiry())
        seconds = died(earlier, attempt)
        if seconds is not None:
            _record(deps, job_id, _unfinished(index, seconds))
            return
    tenant = message.get("tenant", DEFAULT_TENANT)  # messages queued before tenants had none
    result = _run(deps, tenant, message["item"], index, job_id)
    if result["status"] >= 500 and attempt.number < deps.settings.job_max_attempts:
        if attempt.ends_at is not None:
            deps.jobs.end_run(job_id, index)  # not a run that died: the next one starts afresh
        raise RuntimeError(f"job {job_id} item {index}: {result['error']['message']}")
    _record(deps, job_id, result)


def give_up(deps: Dependencies, message: dict[str, Any], attempt: Attempt) -> bool:
    """An item its worker had no time to start: True if it is settled without running.

    On its last delivery it is recorded as failed (503: submit it again), since one more would
    put it in the dead-letter queue with no result, and its job would never finish; before
    that it is left to be delivered again.
    """
    if attempt.number < deps.settings.job_max_attempts:
        return False
    index = int(message["index"])
    error = ServiceUnavailable(
        f"item {index} was not run: its worker ran out of time on every delivery; submit it again"
    )
    _record(deps, message["job_id"], _failed(index, error))
    return True


def _run(deps: Dependencies, tenant: str, item: Any, index: int, job_id: str) -> dict[str, Any]:
    """The item's result; an unexpected exception is a 500 result (retried like a 5xx)."""
    try:
        return run_item(deps, tenant, item, index, job_id)
    except Exception:
        logger.exception("job %s item %d failed unexpectedly", job_id, index)
        return _failed(index, ProgImageError(f"item {index} failed unexpectedly"))


def _unfinished(index: int, seconds: float) -> dict[str, Any]:
    """The result of an item whose run never came back: it needs more than a worker has."""
    error = Unprocessable(
        f"item {index} did not finish in the {seconds:.0f} s it was given (its worker ran out "
        "of time or memory); make it less work: a smaller source, or fewer or cheaper operations"
    )
    return _failed(index, error)


def _failed(index: int, error: ProgImageError) -> dict[str, Any]:
    return {"index": index, "status": error.status, "error": error.body()}


def _record(deps: Dependencies, job_id: str, result: dict[str, Any]) -> None:
    """Write the item's result, unless a delivery before this one did, and count that one."""
    recorded = deps.jobs.record_result(job_id, result["index"], result, _expiry())
    if recorded is result:  # this delivery's: reported once
        outcome = "succeeded" if result["status"] < 400 else "failed"
        observability.add("JobItems", Outcome=outcome)
        observability.annotate(job_id=job_id, index=result["index"], status=result["status"])
    _count(deps, job_id, recorded)


def _count(deps: Dependencies, job_id: str, result: dict[str, Any]) -> None:
    deps.jobs.count(job_id, result["index"], result["status"] < 400, _expiry())


def status(
    deps: Dependencies, tenant: str, job_id: str, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The tenant's job: counts, derived status, a page of results (another's: unknown)."""
    job = deps.jobs.get(check_id(job_id, what="job", param="job_id"))
    if job is None or job.get("tenant", DEFAULT_TENANT) != tenant:
        raise unknown(job_id, "job", "job_id")
    after = _cursor(cursor)
    results, last = deps.jobs.results(job_id, limit, after)
    done = job["succeeded"] + job["failed"]
    state = "done" if done >= job["total"] else "running" if done else "queued"
    return {
        "job_id": job_id,
        "status": state,
        "total": job["total"],
        "succeeded": job["succeeded"],
        "failed": job["failed"],
        "created_at": job["created_at"],
        "results": [presented(deps, tenant, result) for result in results],
        "next_cursor": None if last is None else str(last),
    }


def _cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    after = decimal(cursor)
    if after is None or not 0 <= after < MAX_JOB_ITEMS:
        raise BadRequest("cursor is not one this API returned", param="cursor")
    return after


def _expiry() -> int:
    return int(time.time()) + RETENTION_SECONDS
