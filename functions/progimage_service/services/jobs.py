"""Jobs: large item lists processed asynchronously by queue workers, counted atomically.

A job's status is derived from its counters when read (queued, running, done), so no worker
has to decide which of them finished last.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..auth import DEFAULT_TENANT
from ..errors import BadRequest, TooLarge
from ..ids import check_id, new_id, unknown
from ..inputs import decimal
from ..models import now_rfc3339
from ..wiring import Dependencies
from .batch import presented, run_item

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


def process(deps: Dependencies, message: dict[str, Any], attempt: int) -> None:
    """Run one queued item and count it, once, however often the message is delivered.

    A retryable failure (5xx) is raised so that the queue redelivers the message, until the
    last attempt, which records the failure so that the job still finishes.
    """
    job_id, index = message["job_id"], int(message["index"])
    if deps.jobs.has_result(job_id, index):
        return
    tenant = message.get("tenant", DEFAULT_TENANT)  # messages queued before tenants had none
    result = run_item(deps, tenant, message["item"], index, job_id)
    if result["status"] >= 500 and attempt < deps.settings.job_max_attempts:
        raise RuntimeError(f"job {job_id} item {index}: {result['error']['message']}")
    if deps.jobs.record_result(job_id, index, result, _expiry()):
        deps.jobs.count(job_id, succeeded=result["status"] < 400)


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
