"""The jobs worker: one queued job item per SQS message."""

from __future__ import annotations

from typing import Any

from progimage_service.queue_events import sqs_handler
from progimage_service.services.jobs import process
from progimage_service.wiring import dependencies


def process_message(body: Any, attempt: int) -> None:
    process(dependencies(), body, attempt)


handler = sqs_handler(process_message)
