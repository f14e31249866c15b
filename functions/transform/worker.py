"""The jobs worker: one queued job item per SQS message.

An item is started only while one item's allowance (queue_events.ITEM_SECONDS) of the
invocation is left. An item that needs more than the time left dies with its invocation and is
recorded as failed by its next delivery (services.jobs).
"""

from __future__ import annotations

from typing import Any

from progimage_service.attempts import Attempt
from progimage_service.queue_events import sqs_handler
from progimage_service.services.jobs import give_up, process
from progimage_service.wiring import dependencies


def process_message(body: Any, attempt: Attempt) -> None:
    process(dependencies(), body, attempt)


def give_up_message(body: Any, attempt: Attempt) -> bool:
    return give_up(dependencies(), body, attempt)


handler = sqs_handler(process_message, "jobs", give_up=give_up_message)
