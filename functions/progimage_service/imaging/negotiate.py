"""The ``auto`` output format: the best format the client's ``Accept`` header names.

Browsers name the newer image formats they decode (``image/avif``, ``image/jxl``,
``image/webp``); only a format named outright, with a q-value above 0, counts: ``image/*`` and
``*/*`` promise nothing, since browsers send them whatever they decode. Of those named, the
first in the deployment's order of preference is chosen; none named gives the fallback, which
every client decodes (see ``Pipeline.output_format``).

The CDN's viewer-request function reduces ``Accept`` to :func:`normalised` with the same rules
(its cache key cannot follow ``Vary``), so the origin sees at most one spelling per choice.
This module imports no imaging code: a cache hit resolves its format with nothing else loaded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .formats import FORMATS, Format

AUTO = "auto"  # the URL extension and JSON "format" that ask for a negotiated format
CANDIDATES = ("avif", "jxl", "webp")  # what Accept can choose, in the normalised order
# An HTTP qvalue (RFC 9110 12.4.2): 0 to 1, at most three decimals. Any other q drops its entry.
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


def accepted(accept: str | None) -> tuple[str, ...]:
    """The candidate formats the header names outright with q > 0, in ``CANDIDATES`` order.

    Only an entry's first ``q`` counts; a type named twice counts if any entry has q > 0.
    """
    named: set[str] = set()
    for entry in (accept or "").split(","):
        media, *params = entry.split(";")
        kind, _, sub = media.strip().lower().partition("/")
        if kind == "image" and sub in CANDIDATES and _q(params) > 0:
            named.add(sub)
    return tuple(c for c in CANDIDATES if c in named)


def normalised(accept: str | None) -> str:
    """The header as the CDN forwards it: ``image/avif,image/webp``, or empty."""
    return ",".join(f"image/{name}" for name in accepted(accept))


def choose(accept: str | None, preference: Sequence[str]) -> Format | None:
    """The first format of ``preference`` that ``accept`` names (None: the fallback)."""
    named = accepted(accept)
    return next((FORMATS[n] for n in preference if n in named), None)


def _q(params: Sequence[str]) -> float:
    """The q-value of a media range's parameters: 1 when absent, 0 when not a qvalue."""
    for param in params:
        name, eq, value = param.partition("=")
        if name.strip().lower() == "q":
            value = value.strip() if eq else ""
            return float(value) if _QVALUE.fullmatch(value) else 0.0
    return 1.0
