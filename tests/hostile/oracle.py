"""The oracle every hostile input is judged by, and the counts the session reports.

An input passes when ``inspect`` (with the upload's working copy) and ``render`` either succeed,
with an output that decodes and is within the limits, or raise one of our own 4xx errors; any
other exception (a 5xx) fails it.
Time is bounded by the Hypothesis deadline; memory is measured per input as the growth of the
process's peak resident set (Pillow allocates pixels outside Python, where tracemalloc cannot
see them) and must stay within a few bytes per pixel the limits admit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from progimage_service.errors import ProgImageError
from progimage_service.imaging.formats import sniff
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import Pipeline
from progimage_service.imaging.plan import serving_copy
from progimage_service.imaging.render import render
from progimage_service.imaging.working_copy import admit

# Small limits keep the bounds tight and the runs fast.
LIMITS = Limits(max_bytes=4 * 1024 * 1024, max_pixels=4_000_000, max_side=4096, max_frames=50)

# Peak memory one input may add: a fixed allowance for libraries' own buffers, plus this many
# bytes per pixel the limits admit for each frame that is decoded. A frame in RGBA is 4 bytes a
# pixel; an operation holds a source and a result, a mask is drawn at 4x4 supersampling, and
# the AVIF encoder alone peaks at about 30 bytes a pixel (measured: 140 MB for 2.7 megapixels).
BASE_ALLOWANCE = 48 * 1024 * 1024
BYTES_PER_PIXEL = 48


@dataclass
class Stats:
    """What the session saw, summed over every hostile input."""

    inputs: int = 0  # images judged
    accepted: int = 0
    specs: int = 0  # pipeline specs parsed
    specs_refused: int = 0  # ... and refused with a 400
    refused: Counter[int] = field(default_factory=Counter)  # by status
    unexpected: list[str] = field(default_factory=list)  # 5xx and foreign exceptions: a bug each
    bombs: int = 0
    max_bomb_ms: float = 0.0
    max_bomb_peak: int = 0  # bytes
    max_peak: int = 0  # bytes, the largest peak growth of one input
    max_seconds: float = 0.0

    def merge(self, other: Mapping[str, object]) -> None:
        for name in ("inputs", "accepted", "specs", "specs_refused", "bombs"):
            setattr(self, name, getattr(self, name) + int(other[name]))  # type: ignore[call-overload]
        self.refused.update({int(k): int(v) for k, v in other["refused"].items()})  # type: ignore[attr-defined]
        self.unexpected.extend(other["unexpected"])  # type: ignore[arg-type]
        for name in ("max_bomb_ms", "max_seconds"):
            setattr(self, name, max(getattr(self, name), float(other[name])))  # type: ignore[arg-type]
        for name in ("max_bomb_peak", "max_peak"):
            setattr(self, name, max(getattr(self, name), int(other[name])))  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, object]:
        return {
            "inputs": self.inputs,
            "accepted": self.accepted,
            "specs": self.specs,
            "specs_refused": self.specs_refused,
            "refused": dict(self.refused),
            "unexpected": list(self.unexpected),
            "bombs": self.bombs,
            "max_bomb_ms": self.max_bomb_ms,
            "max_bomb_peak": self.max_bomb_peak,
            "max_peak": self.max_peak,
            "max_seconds": self.max_seconds,
        }

    def summary(self) -> str:
        refused = ", ".join(f"{k}: {v}" for k, v in sorted(self.refused.items())) or "none"
        return (
            f"images tried: {self.inputs} (rendered {self.accepted}; refused {refused}); "
            f"pipelines parsed: {self.specs} (refused 400: {self.specs_refused}); "
            f"5xx/unexpected: {len(self.unexpected)}; bombs rejected: {self.bombs}, "
            f"slowest {self.max_bomb_ms:.1f} ms, peak {self.max_bomb_peak / 1024:.0f} KiB; "
            f"largest peak memory of one input: {_mb(self.max_peak)}; "
            f"slowest input: {self.max_seconds * 1000:.0f} ms"
        )


STATS = Stats()


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


# --- memory -----------------------------------------------------------------------------------

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None)


def _status_kb(field_name: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field_name)


def _can_reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        _status_kb("VmHWM")
    except (OSError, LookupError):
        return False
    return True


RSS_MEASURED = _can_reset_peak()


@dataclass
class Peak:
    bytes: int = 0  # growth of the peak resident set over the start; 0 where not measurable


@contextmanager
def peak_memory() -> Iterator[Peak]:
    """Measure how far the resident set grows inside the block (Linux: resets VmHWM)."""
    peak = Peak()
    if not RSS_MEASURED:
        yield peak
        return
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:  # give freed heap back, so the start is not inflated by earlier inputs
        trim(0)
    _CLEAR_REFS.write_text("5")  # VmHWM := VmRSS
    start = _status_kb("VmRSS")
    try:
        yield peak
    finally:
        peak.bytes = max(0, _status_kb("VmHWM") - start)


# --- the oracle -------------------------------------------------------------------------------


@dataclass
class Verdict:
    status: int  # 200 when rendered, else the error's status
    inspected: tuple[int, int, int] | None  # width, height, frames
    output: tuple[int, int, int] | None  # the output's width, height, frames
    peak: int
    seconds: float


def memory_budget(frames: int, limits: Limits = LIMITS) -> int:
    return BASE_ALLOWANCE + BYTES_PER_PIXEL * limits.max_pixels * max(1, frames)


def judge(
    data: bytes,
    pipeline: Pipeline | None = None,
    limits: Limits = LIMITS,
    images: Mapping[str, bytes] | None = None,
) -> Verdict:
    """Run the decode/validate and render paths over ``data`` and check the oracle.

    Raises AssertionError (after counting it) for anything but success or a 4xx.
    """
    pipeline = pipeline or Pipeline()
    inspected = output = None
    status = 200
    started = time.perf_counter()
    with peak_memory() as peak:
        try:
            # As an upload does: a large still image also gets its reduced working copy, and a
            # pipeline that fits inside it is rendered from it too.
            info, made, _ = admit(data, limits)
            inspected = (info.width, info.height, info.frames)
            rendered = render(data, pipeline, limits, images)
            output = _check_output(rendered.data, limits)
            size, fmt = (info.width, info.height), info.format
            kind = serving_copy(pipeline, size, tuple(c.kind for c in made))
            for copy in (c for c in made if c.kind == kind):
                from_copy = render(copy.data, pipeline, limits, images, size, fmt, kind.reach)
                _check_output(from_copy.data, limits)
        except ProgImageError as error:
            status = error.status
            if not 400 <= status < 500:
                _unexpected(data, pipeline, error)
        except Exception as error:
            _unexpected(data, pipeline, error)
    seconds = time.perf_counter() - started
    STATS.inputs += 1
    STATS.max_seconds = max(STATS.max_seconds, seconds)
    STATS.max_peak = max(STATS.max_peak, peak.bytes)
    if status == 200:
        STATS.accepted += 1
    else:
        STATS.refused[status] += 1
    frames = inspected[2] if inspected else 1
    budget = memory_budget(frames, limits)
    assert peak.bytes <= budget, (
        f"peak memory grew {_mb(peak.bytes)} for an input of {len(data)} bytes "
        f"({inspected=}, {output=}); the budget is {_mb(budget)}"
    )
    return Verdict(status, inspected, output, peak.bytes, seconds)


def _check_output(data: bytes, limits: Limits) -> tuple[int, int, int]:
    """Our output must be an allowlisted image that its decoder reads, within the limits."""
    image = Image.open(io.BytesIO(data), formats=[sniff(data).pillow])
    frames = getattr(image, "n_frames", 1)
    image.load()
    width, height = image.size
    assert width * height <= limits.max_pixels, (width, height)
    assert max(width, height) <= limits.max_side, (width, height)
    assert 1 <= frames <= limits.max_frames, frames
    return width, height, frames


def _unexpected(data: bytes, pipeline: Pipeline, error: BaseException) -> None:
    detail = "".join(traceback.format_exception(error))
    STATS.unexpected.append(f"{type(error).__name__}: {error}")
    raise AssertionError(
        f"not a 4xx: {type(error).__name__}: {error}\n"
        f"pipeline: {pipeline.canonical()!r} format: {pipeline.format}\n"
        f"input ({len(data)} bytes): {data[:64]!r}...\n{detail}"
    ) from error


def record_bomb(milliseconds: float, peak: int) -> None:
    STATS.bombs += 1
    STATS.max_bomb_ms = max(STATS.max_bomb_ms, milliseconds)
    STATS.max_bomb_peak = max(STATS.max_bomb_peak, peak)


# --- the HTTP edge (test_http_edge.py) --------------------------------------------------------
# Whole requests to the handlers, counted next to the images above. Appended to Stats without
# changing it: its as_dict, merge (under xdist) and summary carry these counts too. Each 5xx is
# also added to STATS.unexpected, so the summary's "5xx/unexpected" counts it and report.py
# prints its line.


@dataclass
class HttpStats:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    routes: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0  # answers of 500 and over
    bad_errors: int = 0  # 4xx without the contract's error body, or with an overlong message
    leftovers: int = 0  # 4xx that left an original or an image record behind
    findings: list[str] = field(default_factory=list)  # the distinct failures, one line each
    max_seconds: float = 0.0
    slowest: str = ""  # the slowest request, in short

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "statuses": dict(self.statuses),
            "routes": dict(self.routes),
            "server_errors": self.server_errors,
            "bad_errors": self.bad_errors,
            "leftovers": self.leftovers,
            "findings": list(self.findings),
            "max_seconds": self.max_seconds,
            "slowest": self.slowest,
        }

    def merge(self, other: Mapping[str, object]) -> None:
        if float(other["max_seconds"]) > self.max_seconds:  # type: ignore[arg-type]
            self.slowest = str(other["slowest"])
        for name in ("requests", "server_errors", "bad_errors", "leftovers"):
            setattr(self, name, getattr(self, name) + int(other[name]))  # type: ignore[call-overload]
        self.statuses.update({int(k): int(v) for k, v in other["statuses"].items()})  # type: ignore[attr-defined]
        self.routes.update(other["routes"])  # type: ignore[arg-type]
        self.findings.extend(other["findings"])  # type: ignore[arg-type]
        self.max_seconds = max(self.max_seconds, float(other["max_seconds"]))  # type: ignore[arg-type]

    def summary(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())) or "none"
        return (
            f"HTTP requests: {self.requests} on {len(self.routes)} routes "
            f"(status {statuses}); 5xx: {self.server_errors}; "
            f"4xx without the error body or with an overlong message: {self.bad_errors}; "
            f"4xx that left something behind: {self.leftovers}; "
            f"distinct failures: {len(self.findings)}; "
            f"slowest request: {self.max_seconds * 1000:.0f} ms ({self.slowest})"
        )


HTTP = HttpStats()

_images_as_dict, _images_merge, _images_summary = Stats.as_dict, Stats.merge, Stats.summary


def _as_dict_with_http(self: Stats) -> dict[str, object]:
    return _images_as_dict(self) | ({"http": HTTP.as_dict()} if self is STATS else {})


def _merge_with_http(self: Stats, other: Mapping[str, object]) -> None:
    _images_merge(self, other)
    if self is STATS and "http" in other:
        HTTP.merge(other["http"])  # type: ignore[arg-type]


def _summary_with_http(self: Stats) -> str:
    text = _images_summary(self)
    return f"{text}; {HTTP.summary()}" if self is STATS and HTTP.requests else text


Stats.as_dict = _as_dict_with_http  # type: ignore[method-assign]
Stats.merge = _merge_with_http  # type: ignore[method-assign]
Stats.summary = _summary_with_http  # type: ignore[method-assign]
