"""AWS clients, created once per process, and the translation of AWS errors into ours.

Clients come from botocore directly: boto3 adds nothing these functions use, and importing it
(with s3transfer) costs about 130 ms of every cold start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import get_session

from ..config import Environment, environment
from ..errors import ServiceUnavailable

# Standard retry mode backs off on throttling; a request still failing after that is the client's
# to retry (503), never a silent loss.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=20
)

_RETRYABLE = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "InternalServerError",
    "RequestTimeout",
    "TransactionConflictException",
}


def client(service: str) -> Any:
    """One client per service and environment (clients are thread-safe; creating them is not
    cheap, and in Lambda the environment never changes)."""
    return _client(service, environment())


@cache
def _client(service: str, variables: Environment) -> Any:
    return get_session().create_client(service, config=_CONFIG)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn throttling and transient AWS failures into a retryable 503; let the rest propagate."""
    try:
        yield
    except ClientError as error:
        if (
            error_code(error) in _RETRYABLE
            or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
        ):
            raise ServiceUnavailable(f"{what} is temporarily unavailable; retry") from error
        raise
    except BotoCoreError as error:  # connection and timeout failures
        raise ServiceUnavailable(f"{what} is temporarily unavailable; retry") from error


class Cached[T]:
    """A value ``read`` from a store of configuration, kept for ``ttl_seconds`` and then read
    again: a changed or rotated value takes effect within that time."""

    def __init__(self, read: Callable[[], T], ttl_seconds: float) -> None:
        self._read = read
        self.ttl = ttl_seconds
        self._cached: tuple[float, T] | None = None

    def get(self) -> T:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > self.ttl:
            self._cached = (now, self._read())
        return self._cached[1]
