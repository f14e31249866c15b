"""The functions' logs and metrics, as the local server shows them.

Deployed, Lambda's JSON log format writes each record of the functions as one JSON object with
its ``extra`` fields as keys, and the embedded-metric objects go to CloudWatch. Here the same
records are printed one readable line each (``message  key=value ...``), and the metrics, with
``--verbose``, as a line per object.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

# The attributes every LogRecord has: the rest of a record's attributes are its extra fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
metrics_log = logging.getLogger("localserver.metrics")


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record carries besides the standard ones: the keys of its JSON object."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None}


class Readable(logging.Formatter):
    """``HH:MM:SS LEVEL message  key=value ...``, the traceback (if any) below."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extra_fields(record)
        if not fields:
            return line
        first, *rest = line.split("\n", 1)
        shown = " ".join(f"{key}={_value(value)}" for key, value in fields.items())
        return "\n".join([f"{first}  {shown}", *rest])


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return value if isinstance(value, str) and " " not in value else json.dumps(value)


def metrics_line(document: dict[str, Any]) -> None:
    """One embedded-metric object as a line: its metrics, then its dimensions."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    names = [metric["Name"] for metric in directive["Metrics"]]
    dimensions = [name for name in directive["Dimensions"][0] if name != "Service"]
    metrics_log.debug(
        "metrics %s  %s",
        " ".join(f"{name}={_value(document[name])}" for name in names),
        " ".join(f"{name}={_value(document[name])}" for name in dimensions),
    )


def configure(level: int, verbose: bool) -> None:
    """Print the functions' records at ``level`` (the template's LogLevel, deployed), and their
    metrics when ``verbose``."""
    handler = logging.StreamHandler()
    handler.setFormatter(Readable())
    functions = logging.getLogger("progimage")
    functions.addHandler(handler)
    functions.setLevel(level)
    functions.propagate = False
    metrics_log.setLevel(logging.DEBUG if verbose else logging.WARNING)


def show_metrics() -> Callable[[], None]:
    """Send the functions' embedded metrics to ``metrics_line`` instead of stdout, once the
    functions are loaded (their observability module is then imported); answer what puts the
    sink back (a server stopped in a process that goes on, such as a test run, must)."""
    observability = sys.modules.get("progimage_service.observability")
    if observability is None:
        return lambda: None
    previous, observability.sink = observability.sink, metrics_line

    def restore() -> None:
        observability.sink = previous

    return restore
