"""The jobs worker: one queued job item per SQS message.

Each item is allowed ITEM_SECONDS, what the API gives the same work done synchronously (the
HTTP functions' Timeout): an item is started only while that much of the invocation is left.
"""

from __future__ import annotations

from typing import Any

from progimage_service.attempts import Attempt
from progimage_service.queue_events import sqs_handler
from progimage_service.services.jobs import process
from progimage_service.wiring import dependencies

ITEM_SECONDS = 29


def process_message(body: Any, attempt: Attempt) -> None:
    process(dependencies(), body, attempt.number)


handler = sqs_handler(process_message, allowance_seconds=ITEM_SECONDS)
