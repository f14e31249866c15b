"""The jobs worker: one queued job item per SQS message; and, from the edge queue, the CDN
invalidations that deletes queued (services/edge.py), a batch of many deletes at a time.

An item is started only while one item's allowance (queue_events.ITEM_SECONDS) of the
invocation is left. An item that needs more than the time left dies with its invocation and is
recorded as failed by its next delivery (services.jobs).
"""

from __future__ import annotations

from typing import Any

from progimage_service.attempts import Attempt
from progimage_service.queue_events import batch_handler, from_queue, sqs_handler
from progimage_service.services.edge import invalidate
from progimage_service.services.jobs import give_up, process
from progimage_service.wiring import dependencies


def process_message(body: Any, attempt: Attempt) -> None:
    process(dependencies(), body, attempt)


def give_up_message(body: Any, attempt: Attempt) -> bool:
    return give_up(dependencies(), body, attempt)


def invalidate_batch(bodies: list[Any]) -> None:
    invalidate(dependencies(), bodies)


jobs = sqs_handler(process_message, "jobs", give_up=give_up_message)
edge = batch_handler(invalidate_batch, "edge", failures="CdnInvalidationFailures")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A batch comes from one queue: the edge queue's go to ``edge``, the jobs queue's to
    ``jobs``."""
    if from_queue(event, dependencies().settings.edge_queue_url):
        return edge(event, context)
    return jobs(event, context)
