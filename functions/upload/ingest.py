"""Ingest of presigned uploads: S3 ObjectCreated events under uploads/, delivered through SQS."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from progimage_service.queue_events import sqs_handler
from progimage_service.services.uploads import ingest
from progimage_service.wiring import dependencies


def ingest_event(body: Any, attempt: int) -> None:
    """One SQS message: an S3 notification with one or more records (or S3's test event)."""
    for record in body.get("Records", []) if isinstance(body, dict) else []:
        if record.get("eventSource") == "aws:s3" and record["eventName"].startswith(
            "ObjectCreated"
        ):
            ingest(dependencies(), unquote_plus(record["s3"]["object"]["key"]))


handler = sqs_handler(ingest_event)
