"""Ingest of presigned uploads: S3 ObjectCreated events under uploads/, delivered through SQS.

Each upload is allowed ITEM_SECONDS, what POST /images gives the same work (the HTTP functions'
Timeout): a message is started only while that much of the invocation is left.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from progimage_service.attempts import Attempt
from progimage_service.queue_events import sqs_handler
from progimage_service.services.uploads import ingest
from progimage_service.wiring import dependencies

ITEM_SECONDS = 29


def ingest_event(body: Any, attempt: Attempt) -> None:
    """One SQS message: an S3 notification with one or more records (or S3's test event)."""
    for record in body.get("Records", []) if isinstance(body, dict) else []:
        if record.get("eventSource") == "aws:s3" and record["eventName"].startswith(
            "ObjectCreated"
        ):
            ingest(dependencies(), unquote_plus(record["s3"]["object"]["key"]))


handler = sqs_handler(ingest_event, allowance_seconds=ITEM_SECONDS)
