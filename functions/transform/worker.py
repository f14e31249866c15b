"""The jobs worker: one queued job item per SQS message.

Each item is allowed ITEM_SECONDS, what the API gives the same work done synchronously (the
HTTP functions' Timeout): an item is started only while that much of the invocation is left,
and the function's Timeout leaves it to each of a full batch (BatchSize x ITEM_SECONDS plus the
handler's reserve; the template's tests check this). An item that needs more than the time
left dies with its invocation and is recorded as failed by its next delivery (services.jobs).
"""

from __future__ import annotations

from typing import Any

from progimage_service.attempts import Attempt
from progimage_service.queue_events import sqs_handler
from progimage_service.services.jobs import give_up, process
from progimage_service.wiring import dependencies

ITEM_SECONDS = 29


def process_message(body: Any, attempt: Attempt) -> None:
    process(dependencies(), body, attempt)


def give_up_message(body: Any, attempt: Attempt) -> bool:
    return give_up(dependencies(), body, attempt)


handler = sqs_handler(process_message, allowance_seconds=ITEM_SECONDS, give_up=give_up_message)
