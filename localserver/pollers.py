"""Background workers that feed non-HTTP event sources to functions.

On AWS, an event source mapping polls each SQS queue and invokes the function subscribed to
it (``Events`` of ``Type: SQS``) with batches of messages, deleting the ones the function
did not report as failed (``ReportBatchItemFailures``). Locally that will be one thread per
queue event: receive from the moto queue, build the SQS event, call
:meth:`localserver.server.LocalServer.invoke`, delete what succeeded.

Not implemented yet: :func:`make_pollers` only warns that SQS events are not delivered. A
poller is anything with ``start()`` and ``stop()``; :class:`~localserver.server.LocalServer`
starts them once resources and handlers are ready and stops them before the moto server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .resources import LocalResource
from .template import FunctionSpec

log = logging.getLogger(__name__)

Invoke = Callable[[str, Any], Any]
"""``invoke(function_logical_id, event) -> result``, as LocalServer.invoke."""


class BackgroundWorker(Protocol):
    """Something the server runs alongside the HTTP API (e.g. a queue poller)."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


def make_pollers(
    functions: Mapping[str, FunctionSpec],
    resources: Mapping[str, LocalResource],
    invoke: Invoke,
) -> list[BackgroundWorker]:
    """One worker per queue event source (none yet)."""
    for spec in functions.values():
        for event in spec.queue_events:
            log.warning(
                "%s: SQS event %s is not polled by the local server yet; messages stay queued",
                spec.logical_id,
                event.name,
            )
    return []
