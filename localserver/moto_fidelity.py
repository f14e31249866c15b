"""Where moto is less than the service it stands for, made as the service is.

DynamoDB applies every write to an item atomically: a conditional ``UpdateItem`` that adds to a
counter and to a set never loses a concurrent one's change. moto evaluates the condition and
applies the update in Python, reading and writing the item in several steps, so two threads
updating one item can each overwrite the other's change (a 1,000-item job through the local
server lost three of its counts that way). Serialising moto's DynamoDB writes gives them
DynamoDB's atomicity; they take microseconds, so nothing waits noticeably.

S3 answers a browser by the bucket's CORS rules alone. moto's server adds
``Access-Control-Allow-Origin: *`` to every answer of every service (unless
``MOTO_DISABLE_GLOBAL_CORS`` was set before it was imported), and its answer to a form ``POST``
(a presigned upload) has no CORS header at all, so a page could post to a bucket without CORS
rules, and could not read the answer of one with them. Without the global headers and with the
rules' headers on that answer, moto's buckets answer browsers as S3's do (the preflight
``OPTIONS`` and the other answers already follow the rules).
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


def s3_cors_as_configured() -> None:
    """Make moto's S3 answer browsers by the buckets' CORS rules only, once per process
    (idempotent; before the moto server starts)."""
    from moto.moto_server import werkzeug_app
    from moto.s3.responses import S3Response

    werkzeug_app.DISABLE_GLOBAL_CORS = True  # read when a service's app is created
    post = S3Response._bucket_response_post
    if getattr(post, "with_cors", False):
        return

    @functools.wraps(post)
    def with_cors(self: S3Response, request: Any, bucket_name: str) -> Any:
        status, headers, body = post(self, request, bucket_name)
        if status < 300:
            self.bucket_name = bucket_name
            headers = {**self._get_cors_headers_other(), **headers}
        return status, headers, body

    with_cors.with_cors = True  # type: ignore[attr-defined]
    S3Response._bucket_response_post = with_cors  # type: ignore[method-assign]
