"""The SQS edge: Lambda's SQS event in, partial batch failures out.

Each message is processed on its own; the ones that raise are reported in
``batchItemFailures`` so that SQS redelivers only those (the event source mapping has
``ReportBatchItemFailures``), and after the queue's maxReceiveCount they go to its dead-letter
queue.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("progimage")

Message = dict[str, Any]


def sqs_handler(
    process: Callable[[Any, int], None],
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda entry point calling ``process(body_as_json, attempt)`` for each message."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event.get("Records", []):
            attempt = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            try:
                process(json.loads(record["body"]), attempt)
            except Exception:
                logger.exception("message %s failed (attempt %d)", record["messageId"], attempt)
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    return handler
