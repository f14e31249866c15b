"""What the functions tell their operators: a structured log line per request or message, and
metrics in CloudWatch's embedded metric format (EMF), both JSON on the function's output.

Logs are the standard library's records. Deployed, Lambda's own JSON log format (the template's
``LoggingConfig``) writes each as one JSON object, with its ``extra`` fields as keys and the
request id added, and sets the level from the template's ``LogLevel``: it costs nothing at
import. Powertools' Logger and Metrics would cost 18-50 ms of every cold start (measured in
docs/ARCHITECTURE.md), over this module's whole budget, for what the few lines below do.

Traces: where the deployment turns tracing on (the template's ``Tracing``), each entry point is
wrapped by Powertools' Tracer, which also records every AWS call; Powertools is imported only
then, so a deployment without tracing pays nothing for it.

Metrics are defined once, in ``METRICS``: a name, a unit and the dimensions it is reported
by. Every dimension has a closed set of values (anything else is reported as ``other``), so no
input can make a new series; tenants and image ids go in as metadata, never as dimensions. An
invocation collects its metrics and writes them at its end, one EMF object per set of
dimension values. Importing this module costs the standard library only.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .errors import CODES

logger = logging.getLogger("progimage")

NAMESPACE_ENV = "PROGIMAGE_METRICS_NAMESPACE"
SERVICE_ENV = "PROGIMAGE_SERVICE"
SAMPLE_RATE_ENV = "PROGIMAGE_DEBUG_SAMPLE_RATE"
TRACING_ENV = "PROGIMAGE_TRACING"
DEFAULT_NAMESPACE = "ProgImage"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    dimensions: tuple[str, ...]  # besides Service, which every metric has
    doc: str


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("Requests", "Count", ("Route", "StatusClass"), "requests answered"),
        Metric("Latency", "Milliseconds", ("Route",), "time in the function per request"),
        Metric("BytesIn", "Bytes", ("Route",), "request bodies"),
        Metric("BytesOut", "Bytes", ("Route",), "response bodies (a 307 sends none)"),
        Metric("CacheHits", "Count", ("Route",), "variants served from the cache"),
        Metric("CacheMisses", "Count", ("Route",), "variants rendered on request"),
        Metric("RenderTime", "Milliseconds", ("Format",), "a render, decode to encode"),
        Metric("DecodeTime", "Milliseconds", ("Format",), "its decode (the first frame)"),
        Metric("EncodeTime", "Milliseconds", ("Format",), "its encode"),
        Metric("Outputs", "Count", ("Format",), "renders by the format they produced"),
        Metric("Rejections", "Count", ("Reason",), "4xx answers, by error code"),
        Metric("FetchRefusals", "Count", (), "remote URLs refused (private or not allowed)"),
        Metric(
            "CdnInvalidationFailures",
            "Count",
            (),
            "deletes whose CDN invalidation was not queued, or refused (then tried again)",
        ),
        Metric("EagerFailures", "Count", (), "uploads whose eager variants were not queued"),
        Metric("IngestOutcomes", "Count", ("Outcome",), "presigned uploads ingested"),
        Metric("JobItems", "Count", ("Outcome",), "job items recorded"),
        Metric("ColdStarts", "Count", ("Function",), "first invocations of a process"),
    )
}

OTHER = "other"
# The functions, as they name themselves in logs and metrics.
FUNCTIONS = ("authorizer", "upload", "get", "transform", "ingest", "jobs")
_ROUTE_KEY = re.compile(r"(GET|HEAD|POST|PUT|PATCH|DELETE) (/[a-z_]*|/\{[a-z_]+\+?\})+")
# The values each dimension may take. Route keys come from the API's configuration (templates
# such as "GET /images/{id}", never a requested path).
_VALUES: dict[str, Callable[[str], bool]] = {
    "Route": lambda value: _ROUTE_KEY.fullmatch(value) is not None,
    "StatusClass": lambda value: value in ("2xx", "3xx", "4xx", "5xx"),
    "Format": lambda value: value in ("jpeg", "png", "webp", "gif", "avif"),
    "Reason": lambda value: value in CODES,
    "Outcome": lambda value: value in ("ready", "rejected", "succeeded", "failed"),
    "Function": lambda value: value in FUNCTIONS,
}


def _to_stdout(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")


# Where EMF objects go: stdout, where Lambda's log agent finds them (the local server and the
# tests replace it).
sink: Callable[[dict[str, Any]], None] = _to_stdout


@dataclass
class Invocation:
    """One request or queue message batch: its metrics and what its log line says."""

    started: float = field(default_factory=time.perf_counter)
    fields: dict[str, Any] = field(default_factory=dict)  # logged, and EMF metadata
    _values: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = field(default_factory=dict)

    def add(self, name: str, value: float = 1, **dimensions: str) -> None:
        """Add a value; a metric reported by Route takes the invocation's route if not given."""
        metric = METRICS[name]
        if "Route" in metric.dimensions and "Route" not in dimensions:
            dimensions["Route"] = self.fields.get("route") or OTHER
        if set(dimensions) != set(metric.dimensions):
            raise TypeError(f"{name} is reported by {metric.dimensions}, not {tuple(dimensions)}")
        key = tuple(
            (dim, value if _VALUES[dim](value) else OTHER)
            for dim, value in sorted(dimensions.items())
        )
        self._values.setdefault(key, {}).setdefault(name, []).append(round(value, 3))

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def documents(self, namespace: str, service: str) -> list[dict[str, Any]]:
        """The EMF objects of what was added: one per set of dimension values."""
        metadata = {k: v for k, v in self.fields.items() if v is not None}
        documents = []
        for key, values in self._values.items():
            names = ["Service", *(dim for dim, _ in key)]
            documents.append(
                {
                    "_aws": {
                        "Timestamp": int(time.time() * 1000),
                        "CloudWatchMetrics": [
                            {
                                "Namespace": namespace,
                                "Dimensions": [names],
                                "Metrics": [
                                    {"Name": name, "Unit": METRICS[name].unit} for name in values
                                ],
                            }
                        ],
                    },
                    **metadata,
                    "Service": service,
                    **dict(key),
                    **{name: v[0] if len(v) == 1 else v for name, v in values.items()},
                }
            )
        return documents


_CURRENT: ContextVar[Invocation | None] = ContextVar("invocation", default=None)
_started: set[str] = set()  # the functions this process has invoked: later ones are warm


def add(name: str, value: float = 1, **dimensions: str) -> None:
    """Add to a metric of the current invocation (outside one, e.g. in a script: nothing)."""
    current = _CURRENT.get()
    if current is not None:
        current.add(name, value, **dimensions)


def annotate(**fields: Any) -> None:
    """Say more in the current invocation's log line and metadata (tenant, image id ...)."""
    current = _CURRENT.get()
    if current is not None:
        current.fields.update(fields)


@contextmanager
def invocation(function: str, **fields: Any) -> Iterator[Invocation]:
    """Collect an invocation's metrics and write them at its end; the first in a process
    counts a cold start. A share of invocations (``PROGIMAGE_DEBUG_SAMPLE_RATE``) is logged at
    DEBUG."""
    cold = function not in _started
    _started.add(function)
    current = Invocation(fields={"cold_start": cold, **fields})
    if cold:
        current.add("ColdStarts", Function=function)
    level = logger.level
    if random.random() < float(os.environ.get(SAMPLE_RATE_ENV) or 0):
        logger.setLevel(logging.DEBUG)
        current.fields["debug_sampled"] = True
    token = _CURRENT.set(current)
    try:
        yield current
    finally:
        _CURRENT.reset(token)
        logger.setLevel(level)
        namespace = os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE
        service = os.environ.get(SERVICE_ENV) or "progimage"
        for document in current.documents(namespace, service):
            sink(document)


def _tracing() -> bool:
    return os.environ.get(TRACING_ENV, "").lower() == "true"


def traced[**P, R](handler: Callable[P, R]) -> Callable[P, R]:
    """The Lambda handler traced with X-Ray where tracing is on; else the handler itself."""
    if not _tracing():
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer().capture_lambda_handler(handler)


@contextmanager
def segment(name: str) -> Iterator[None]:
    """A subsegment of the trace, where tracing is on: the time of one part of the work."""
    if not _tracing():
        yield
        return
    from aws_lambda_powertools import Tracer

    with Tracer().provider.in_subsegment(name):
        yield
