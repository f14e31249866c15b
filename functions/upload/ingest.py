"""Ingest of presigned uploads: S3 ObjectCreated events under uploads/, delivered through SQS.

A message is started only while one item's allowance (queue_events.ITEM_SECONDS, what POST
/images gives the same work) of the invocation is left. So a slow upload does not take its
batch neighbours with it; one that needs more than the time left dies with its invocation and
is rejected by its event's next delivery (services.uploads).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from progimage_service.attempts import Attempt
from progimage_service.queue_events import sqs_handler
from progimage_service.services.uploads import give_up, ingest
from progimage_service.wiring import dependencies


def upload_keys(body: Any) -> list[str]:
    """The objects an SQS message's S3 notification reports created (none in S3's test event)."""
    return [
        unquote_plus(record["s3"]["object"]["key"])
        for record in (body.get("Records", []) if isinstance(body, dict) else [])
        if record.get("eventSource") == "aws:s3" and record["eventName"].startswith("ObjectCreated")
    ]


def ingest_event(body: Any, attempt: Attempt) -> None:
    """One SQS message: an S3 notification with one or more records (or S3's test event)."""
    for key in upload_keys(body):
        ingest(dependencies(), key, attempt)


def give_up_event(body: Any, attempt: Attempt) -> bool:
    return all([give_up(dependencies(), key, attempt) for key in upload_keys(body)])


handler = sqs_handler(ingest_event, "ingest", give_up=give_up_event)
