"""A latency model for S3 and DynamoDB calls, injected into botocore clients.

``bench/miss.py`` runs the real handlers against moto in this process; moto answers in well
under a millisecond of network time, so on its own it says nothing about the waits a request
has on AWS. :class:`Injector` hooks botocore's event system on every client created while it is
installed (``before-call`` notes when a call starts, ``after-call`` / ``after-call-error`` hold
it until the modelled time has passed), so each storage call lasts as long as the model says
it would in the region, and calls the code makes from several threads overlap in wall time as
they would there. Every call is recorded with its start and end, from which
:func:`round_trips` counts the sequential round trips.

The defaults (``PROFILES``) and where they come from are in bench/README.md, "Misses and hits
as on AWS"; every figure can be overridden on the command line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

MB = 1_000_000  # transfer figures are per MB of 10^6 bytes

S3_GUIDANCE = (
    "https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/"
    "timeouts-and-retries-for-latency-sensitive-applications.html"
)
S3_EXPRESS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-performance.html"
DYNAMODB_GUIDANCE = "https://repost.aws/knowledge-center/dynamodb-high-latency"


@dataclass(frozen=True)
class LatencyModel:
    """Milliseconds each storage call takes, from the client's request to its last byte.

    An S3 call is a first-byte latency plus, for a body, its size at a per-MB transfer time
    (GET: the object received; PUT: the body sent). A HEAD, and a GET answered 404, carry no
    body: ``s3_head_ms`` alone. DynamoDB items are small (a few hundred bytes): one latency per
    operation, no transfer term.
    """

    s3_get_ms: float = 25.0
    s3_put_ms: float = 30.0
    s3_head_ms: float = 20.0
    s3_get_ms_per_mb: float = 11.0
    s3_put_ms_per_mb: float = 11.0
    s3_other_ms: float = 30.0  # DeleteObject(s), ListObjectsV2, ...
    dynamodb_get_ms: float = 5.0
    dynamodb_put_ms: float = 7.0
    dynamodb_update_ms: float = 7.0
    dynamodb_other_ms: float = 7.0  # Query, DeleteItem, BatchWriteItem, ...

    def charge_ms(
        self, service: str, operation: str, status: int, sent: int = 0, received: int = 0
    ) -> float:
        """The modelled duration of one call (``sent``/``received``: body bytes)."""
        if service == "s3":
            if operation == "HeadObject" or (operation == "GetObject" and status >= 300):
                return self.s3_head_ms
            if operation == "GetObject":
                return self.s3_get_ms + received / MB * self.s3_get_ms_per_mb
            if operation == "PutObject":
                return self.s3_put_ms + sent / MB * self.s3_put_ms_per_mb
            return self.s3_other_ms
        if service == "dynamodb":
            return {
                "GetItem": self.dynamodb_get_ms,
                "PutItem": self.dynamodb_put_ms,
                "UpdateItem": self.dynamodb_update_ms,
            }.get(operation, self.dynamodb_other_ms)
        return 0.0  # any other service is not modelled: it takes what it takes

    def with_overrides(self, **values: float | None) -> LatencyModel:
        return replace(self, **{k: v for k, v in values.items() if v is not None})


# S3 in the Lambda's region (a general-purpose, regional bucket), and S3 Express One Zone (a
# directory bucket in the function's Availability Zone); DynamoDB is the same in both. Express:
# AWS states "consistent single-digit millisecond first-byte read and write request latencies"
# (S3_EXPRESS, "Optimizing S3 Express One Zone performance"); 5/6/4/6 ms are assumed within that.
PROFILES: dict[str, LatencyModel] = {
    "regional": LatencyModel(),
    "express": LatencyModel(s3_get_ms=5.0, s3_put_ms=6.0, s3_head_ms=4.0, s3_other_ms=6.0),
}


@dataclass
class Call:
    """One storage call as the client saw it; times in ms from the request's start."""

    service: str
    operation: str
    what: str  # the S3 key, or the DynamoDB table
    status: int
    sent: int
    received: int
    thread: str
    start_ms: float
    end_ms: float
    charged_ms: float
    real_ms: float  # how long the call took before it was held to the model

    @property
    def label(self) -> str:
        name = f"{self.service} {self.operation}"
        return f"{name} ({self.status})" if self.status >= 300 else name


def overlap_groups(calls: list[Call]) -> list[int]:
    """For each call (in the given order), the number of the sequential round trip it belongs
    to, 1-based: calls whose intervals overlap, directly or through another call, share one."""
    order = sorted(range(len(calls)), key=lambda i: (calls[i].start_ms, calls[i].end_ms))
    groups = [0] * len(calls)
    group, reach = 0, float("-inf")
    for index in order:
        call = calls[index]
        if call.start_ms >= reach:  # starts after every earlier call has ended
            group += 1
        reach = max(reach, call.end_ms)
        groups[index] = group
    return groups


def round_trips(calls: list[Call]) -> int:
    """Sequential round trips: groups of overlapping calls, one after another."""
    return max(overlap_groups(calls), default=0)


def modelled(calls: list[Call]) -> tuple[list[Call], float]:
    """The calls as they would have run had each taken exactly its modelled time, and how much
    earlier the request would then have ended.

    A call can end later than its modelled time: moto hashes and copies large bodies in this
    process, and on a busy machine a sleep wakes late. Each call is given its modelled time
    from its start, and every round trip after one that overran starts earlier by the overrun:
    the latest of its calls' real ends against the latest of their modelled ends.
    """
    groups = overlap_groups(calls)
    result: list[Call | None] = [None] * len(calls)
    shift = 0.0
    for group in sorted(set(groups)):
        members = [i for i, g in enumerate(groups) if g == group]
        real_end = max(calls[i].end_ms for i in members)
        model_end = max(calls[i].start_ms + calls[i].charged_ms for i in members)
        for i in members:
            call = calls[i]
            start = call.start_ms - shift
            result[i] = replace(call, start_ms=start, end_ms=start + call.charged_ms)
        shift += max(0.0, real_end - model_end)
    return [c for c in result if c is not None], shift


def recharged(
    calls: list[Call], regional: LatencyModel, cache: LatencyModel, is_cache: Callable[[str], bool]
) -> list[Call]:
    """The calls charged as they would be with the variant cache in a bucket of its own: S3
    calls on a cache key (``is_cache``) at ``cache``'s figures, every other call at
    ``regional``'s. :func:`modelled` then starts each later round trip earlier by what the
    cache bucket saved."""
    return [
        replace(
            call,
            charged_ms=(
                cache if call.service == "s3" and is_cache(call.what) else regional
            ).charge_ms(call.service, call.operation, call.status, call.sent, call.received),
        )
        for call in calls
    ]


def storage_ms(calls: list[Call]) -> float:
    """Time with at least one storage call in flight (the union of the calls' intervals)."""
    total, reach = 0.0, float("-inf")
    for call in sorted(calls, key=lambda c: c.start_ms):
        start = max(call.start_ms, reach)
        if call.end_ms > start:
            total += call.end_ms - start
        reach = max(reach, call.end_ms)
    return total


def _body_size(body: Any) -> int:
    if body is None:
        return 0
    if isinstance(body, (bytes, bytearray, memoryview)):
        return len(body)
    if isinstance(body, str):
        return len(body.encode())
    if hasattr(body, "seek") and hasattr(body, "tell"):
        position = body.tell()
        body.seek(0, 2)
        size = body.tell() - position
        body.seek(position)
        return size
    return 0


_START = "bench_latency_start"
_SENT = "bench_latency_sent"
_NAME = "bench_latency_name"


@dataclass
class Injector:
    """Holds every storage call of an instrumented client to the model, and records it while a
    request is being measured (:meth:`request`); outside one, calls run at moto's own speed."""

    model: LatencyModel
    clock: Callable[[], float] = time.perf_counter
    sleep: Callable[[float], None] = time.sleep
    calls: list[Call] = field(default_factory=list)
    _origin: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def instrument(self, client: Any) -> Any:
        """Register the hooks on one client's events (idempotent per client)."""
        events = client.meta.events
        events.register("before-parameter-build", self._name, unique_id="bench-latency-name")
        events.register("before-call", self._before, unique_id="bench-latency-before")
        events.register("after-call", self._after, unique_id="bench-latency-after")
        events.register("after-call-error", self._error, unique_id="bench-latency-error")
        return client

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Instrument every botocore client created meanwhile, wherever the code creates it."""
        from botocore.session import Session

        original = Session.create_client
        injector = self

        def create_client(session: Session, *args: Any, **kwargs: Any) -> Any:
            return injector.instrument(original(session, *args, **kwargs))

        Session.create_client = create_client  # type: ignore[method-assign]
        try:
            yield
        finally:
            Session.create_client = original  # type: ignore[method-assign]

    @contextmanager
    def request(self) -> Iterator[list[Call]]:
        """Measure one request: the list fills with its calls, offsets from now."""
        with self._lock:
            self.calls = []
            self._origin = self.clock()
            calls = self.calls
        try:
            yield calls
        finally:
            with self._lock:
                self._origin = None

    # ---- the hooks

    def _name(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        key = params.get("Key")
        if isinstance(key, dict):  # a DynamoDB key: its first value
            key = next((v for a in key.values() for v in a.values()), "")
        what = key or params.get("Prefix") or params.get("TableName") or ""
        context[_NAME] = (model.service_model.service_name, model.name, str(what))
        context[_START] = self.clock()  # again at before-call, unless a stub answers first

    def _before(self, context: dict[str, Any], params: dict[str, Any], **_: Any) -> None:
        context[_START] = self.clock()
        context[_SENT] = _body_size(params.get("body"))

    def _after(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        status = int(getattr(http_response, "status_code", 0) or 0)
        headers = getattr(http_response, "headers", {}) or {}
        received = int(headers.get("content-length") or 0) if status < 300 else 0
        self._hold(context, status, received)

    def _error(self, context: dict[str, Any], **_: Any) -> None:
        self._hold(context, 599, 0)  # no answer (a connection error): charged as a 404

    def _hold(self, context: dict[str, Any], status: int, received: int) -> None:
        start = context.get(_START)
        if start is None or self._origin is None or _NAME not in context:
            return
        service, operation, what = context[_NAME]
        sent = int(context.get(_SENT, 0))
        charged = self.model.charge_ms(service, operation, status, sent, received)
        real = (self.clock() - start) * 1000
        if charged > real:
            self.sleep((charged - real) / 1000)
        end = self.clock()
        with self._lock:
            origin = self._origin
            if origin is None:
                return
            self.calls.append(
                Call(
                    service=service,
                    operation=operation,
                    what=what,
                    status=status,
                    sent=sent,
                    received=received,
                    thread=threading.current_thread().name,
                    start_ms=(start - origin) * 1000,
                    end_ms=(end - origin) * 1000,
                    charged_ms=charged,
                    real_ms=real,
                )
            )
