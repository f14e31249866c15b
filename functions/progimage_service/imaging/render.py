"""Run a pipeline over an image's bytes: decode, operate frame by frame, encode."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from PIL import Image

from ..errors import Unprocessable
from .colour import working_mode
from .cost import Reference, check, estimate
from .decode import Opened, checked_scans, displayed, frames, open_image, reduce_on_load
from .encode import DEFAULT_QUALITY, WHITE, EncodeOptions, Frame, encode
from .formats import Format
from .limits import Limits
from .operations.table import Given, RenderState, apply, implementation
from .perceptual import auto_quality
from .pipeline import Pipeline
from .plan import Plan, Source, plan


@dataclass(frozen=True)
class Rendered:
    data: bytes
    format: Format
    timings: Timings


@dataclass(frozen=True)
class Timings:
    """Where a render's time went, in seconds: decoding the frames (into the working mode),
    the pixel steps, and encoding (every encode of a ``maxbytes`` search, and every encode,
    decode and measure of a ``quality:auto`` one)."""

    decode: float
    steps: float
    encode: float

    @property
    def total(self) -> float:
        return self.decode + self.steps + self.encode


def render(
    data: bytes,
    pipeline: Pipeline,
    limits: Limits,
    images: Mapping[str, bytes] | None = None,
    source_size: tuple[int, int] | None = None,
    source_format: Format | None = None,
    copy_reach: float = 1.0,
    focal: tuple[float, float] | None = None,
) -> Rendered:
    """The pipeline's output: upright, sRGB, metadata stripped, animation kept if it can be.

    ``images`` holds the bytes of every other image the pipeline refers to (masks, watermarks).
    ``source_size`` and ``source_format`` describe the picture asked for when ``data`` is a
    reduced working copy of it (which must serve the pipeline: see plan.serving_copy): the
    first pixel step sizes its result from the original's size, and the output keeps the
    original's format; ``copy_reach`` is the share of its size that copy serves (Copy.reach).
    ``focal`` is the picture's focal point (fractions of its width and height), which gravity
    ``auto`` centres on; None: unknown (``auto`` is then ``smart``).
    """
    opened = open_image(data, limits)
    shown = displayed(opened)
    if source_size is None:
        source = Source(*shown, opened.format, opened.frames)
    else:
        fmt = source_format or opened.format
        source = Source(*source_size, fmt, opened.frames, shown, opened.format, copy_reach)
    planned = plan(pipeline, source)
    if source.copy is not None and not planned.geometry.from_copy:
        raise ValueError("this pipeline cannot be rendered from a working copy (see fits)")
    # Only a JPEG's scans change what decoding costs (a progressive one has many).
    scans = checked_scans(data, opened.format, limits) if opened.format.name == "jpeg" else 1
    others = {k: open_image(v, limits) for k, v in (images or {}).items()}
    references = {k: Reference(*displayed(o), o.format.name) for k, o in others.items()}
    cost = estimate(planned, source, scans, references)
    check(cost, limits)
    named = {k: _first_frame(o, cost.largest) for k, o in others.items()}
    return execute(planned, opened, limits, named, focal)


def execute(
    planned: Plan,
    opened: Opened,
    limits: Limits,
    named: Mapping[str, Image.Image],
    focal: tuple[float, float] | None = None,
) -> Rendered:
    """Decode, run the plan's pixel steps over each frame, encode: the plan decides it all."""
    # A reducing first step has a JPEG (the original or its working copy) decode at a fraction
    # of its size; it sizes its result from the picture and resamples from the exact part of
    # the reduced frame that holds it.
    draft = planned.geometry.draft
    box = reduce_on_load(opened, draft) if draft else None
    states = _states(planned, RenderState(limits, named), Given(planned.geometry.size, box), focal)
    output: list[Frame] = []
    decoding = [0.0]
    started = time.perf_counter()
    for decoded, duration in _decoded(opened, decoding):
        frame = decoded
        for step, state in zip(planned.steps, states, strict=True):
            frame = apply(step, frame, state)
        output.append(Frame(frame, duration))
        if not planned.animated:
            break
    fmt = planned.format
    if planned.alpha_format is not None and "A" in output[0].image.getbands():
        fmt = planned.alpha_format
    auto = planned.quality == "auto"
    options = EncodeOptions(
        quality=None if auto else planned.quality,
        background=(planned.background or WHITE)[:3],
        loop=int(opened.image.info.get("loop", 0) or 0),
    )
    encoding = time.perf_counter()
    if auto:  # the lowest quality whose output stays within the format's perceptual target
        chosen = auto_quality(output, fmt, options)
        data, options = chosen.data, replace(options, quality=chosen.quality)
    else:
        data = encode(output, fmt, options)
    if planned.max_bytes is not None:
        data = _within(output, fmt, options, planned.max_bytes, data)
    ended = time.perf_counter()
    timings = Timings(decoding[0], encoding - started - decoding[0], ended - encoding)
    return Rendered(data, fmt, timings)


def _states(
    planned: Plan, shared: RenderState, given: Given, focal: tuple[float, float] | None
) -> list[RenderState]:
    """Each pixel step's state: the first is given the picture's geometry; the focal point
    holds until a step shows other than the whole picture (Implementation.reframes)."""
    states = []
    for index, step in enumerate(planned.steps):
        state = replace(shared, focal=focal, decided={})
        states.append(replace(state, given=given) if index == 0 else state)
        reframes = implementation(step).reframes
        if reframes is not None and reframes(step.args):
            focal = None
    return states


def _decoded(opened: Opened, spent: list[float]) -> Iterator[tuple[Image.Image, int]]:
    """The frames in the working mode, adding the time they took to ``spent[0]``."""
    iterator = frames(opened)
    while True:
        started = time.perf_counter()
        found = next(iterator, None)
        if found is None:
            return
        image, duration = found
        frame = working_mode(image)
        spent[0] += time.perf_counter() - started
        yield frame, duration


def _within(
    frames_: list[Frame], fmt: Format, options: EncodeOptions, max_bytes: int, best: bytes
) -> bytes:
    """The highest quality (up to the requested, auto-chosen or default one, whose output is
    ``best``) whose output fits in max_bytes."""
    if len(best) <= max_bytes:
        return best
    if fmt.name not in DEFAULT_QUALITY:
        raise Unprocessable(
            f"maxbytes: a lossless {fmt.name.upper()} of this image is {len(best)} bytes, "
            f"over {max_bytes}; choose a lossy format (jpg, webp, avif) or resize",
            param="ops",
        )
    low, high, found = 1, (options.quality or DEFAULT_QUALITY[fmt.name]) - 1, None
    while low <= high:  # binary search: about 7 encodes
        middle = (low + high) // 2
        data = encode(frames_, fmt, EncodeOptions(middle, options.background, options.loop))
        if len(data) <= max_bytes:
            found, low = data, middle + 1
        else:
            high = middle - 1
    if found is None:
        raise Unprocessable(
            f"maxbytes: even at quality 1 this image is over {max_bytes} bytes as "
            f"{fmt.name.upper()}; resize it first",
            param="ops",
        )
    return found


def _first_frame(opened: Opened, needed: tuple[int, int]) -> Image.Image:
    reduce_on_load(opened, needed)
    image, _ = next(frames(opened))
    return working_mode(image)
