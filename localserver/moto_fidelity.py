"""Where moto is less than the service it stands for, made as the service is.

DynamoDB applies every write to an item atomically: a conditional ``UpdateItem`` that adds to a
counter and to a set never loses a concurrent one's change. moto evaluates the condition and
applies the update in Python, reading and writing the item in several steps, so two threads
updating one item can each overwrite the other's change (a 1,000-item job through the local
server lost three of its counts that way). Serialising moto's DynamoDB writes gives them
DynamoDB's atomicity; they take microseconds, so nothing waits noticeably.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")
_LOCK = threading.RLock()


def atomic_dynamodb_writes() -> None:
    """Make moto's DynamoDB writes atomic, once per process (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        write = getattr(DynamoDBBackend, name)
        if not getattr(write, "serialised", False):
            setattr(DynamoDBBackend, name, _serialised(write))


def _serialised(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def serialised(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return write(*args, **kwargs)

    serialised.serialised = True  # type: ignore[attr-defined]
    return serialised
