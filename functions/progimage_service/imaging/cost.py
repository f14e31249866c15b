"""The cost model: a render's CPU time and peak memory, estimated from the plan and the headers
before a pixel is decoded, and refused when over the request's budget.

Every figure is CPU seconds per megapixel on one core, or bytes per pixel, measured on this code
(``make bench-budget`` prints each estimate beside what it measures, and the worst under- and
over-estimate); they are kept in the tables below and nowhere else. An estimate errs high:
refusing a request that would have fitted costs a retry with a smaller pipeline, accepting one
that does not fit costs a 503 after 29 seconds and the memory it held.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import TooLarge, Unprocessable
from .decode import DRAFT_GAP, ImageInfo
from .grammar import Step
from .limits import Limits
from .operations.base import check_output
from .operations.table import implementation
from .perceptual import SAMPLE_PIXELS, most_encodes
from .plan import Plan, Source
from .registry import SMART_GRAVITIES

MP = 1e6

# Decoding a whole frame, s/MP. A JPEG decoded reduced (draft) still entropy-decodes every
# coefficient, and each scan of a progressive one does again: its cost is per megapixel of the
# full picture (ENTROPY, and PER_SCAN beyond the first) plus the inverse transforms at the size
# decoded (DECODE["jpeg"]).
DECODE = {
    "jpeg": 0.011,
    "png": 0.040,
    "webp": 0.050,
    "gif": 0.015,
    "avif": 0.045,
    "tiff": 0.005,
    "bmp": 0.005,
    "heic": 0.060,
    "jxl": 0.065,
}
ENTROPY = 0.004
PER_SCAN = 0.0015
# Encoding at the format's default quality, s/MP of output; PNG's and TIFF's lossless
# compressors and AVIF's encoder dominate any render they finish.
ENCODE = {
    "jpeg": 0.010,
    "png": 0.13,
    "webp": 0.18,
    "gif": 0.05,
    "avif": 1.10,
    "tiff": 0.13,
    "bmp": 0.005,
    "heic": 0.40,  # x265's "ultrafast" (encode.py)
    "jxl": 0.085,  # libjxl's effort 4
}
# maxbytes: one encode at the highest quality allowed, then a binary search over 1..99.
MAX_BYTES_ENCODES = 1 + math.ceil(math.log2(99))
# quality:auto in a lossy format: perceptual.most_encodes(format) encodes of every frame (JPEG
# 7, WebP 6, AVIF 5), each with a decode of the first frame (DECODE) and an SSIM over at most
# perceptual.SAMPLE_PIXELS of it: about 45 passes over 32-bit float planes, 0.10 s/MP measured
# at 1024x683 on a loaded core (75 ms), luma conversions included.
SSIM = 0.11
# ...and what it holds beside the encoder: the rendered frame's luma and the decoded candidate's
# (4 bytes a pixel each), the candidate itself (4), and the SSIM's float planes over the sample,
# in bytes per output pixel (12 measured at 1.7 and 3.8 MP, for JPEG and WebP alike).
AUTO_BYTES = 16


def _sigma_scaled(args: Mapping[str, Any]) -> float:
    return 0.060 if args["sigma"] < 2 else 0.025  # from 2 up it works at 1/f (see filters.py)


def _any_angle(args: Mapping[str, Any]) -> bool:
    """A rotation by other than quarter turns: it expands the canvas and adds alpha."""
    return args["angle"] % 90 != 0


def _rotation(args: Mapping[str, Any]) -> float:
    return 0.16 if _any_angle(args) else 0.004


RESIZE = 0.030
# Placing a crop by attention or entropy (smartcrop.py): a point sample of the frame and a
# 32x32 map in Python, 4-5 ms measured at any frame size (bench-smartcrop), counted high.
ANALYSIS = 0.008


def _analysis(args: Mapping[str, Any]) -> float:
    return ANALYSIS if args.get("gravity") in SMART_GRAVITIES else 0.0


# Each pixel operation, s/MP of the larger of its input and its result.
STEP: dict[str, float | Callable[[Mapping[str, Any]], float]] = {
    "resize": RESIZE,
    "thumbnail": RESIZE,
    "crop": 0.002,
    "trim": 0.008,  # a difference to the corner's colour, its bands' maximum, a threshold
    "rotate": _rotation,
    "flip": 0.003,
    "grayscale": 0.003,
    "sepia": 0.008,
    "invert": 0.004,
    "equalize": 0.006,
    "autocontrast": 0.006,
    "blur": _sigma_scaled,
    "sharpen": 0.075,
    "brightness": 0.004,
    "contrast": 0.006,
    "saturation": 0.008,
    "pixelate": 0.006,
    "posterize": 0.004,
    "tint": 0.004,
    "mask": 0.020,
    "watermark": 0.030,
    "background": 0.006,
}

# ...and seconds per frame whatever its size.
FIXED: dict[str, Callable[[Mapping[str, Any]], float]] = {
    "crop": _analysis,
    "resize": _analysis,
}

FRAME = 4  # bytes per pixel of a decoded frame (Pillow holds RGB in four)
# What any render holds besides frames: the input's and output's bytes, buffers, objects.
BASE = 24 * 2**20
# Scratch beyond an operation's input and result frames, in frames of the larger.
SCRATCH: dict[str, float | Callable[[Mapping[str, Any]], float]] = {
    "rotate": lambda args: 5.5 if _any_angle(args) else 0.0,
    "sharpen": 1.0,
    "trim": 2.0,  # the difference frame, its bands and their maximum
    "mask": 1.0,
    "watermark": 1.0,
}
# An encoder's own peak, in bytes per output pixel (AVIF's is libaom's, measured at 28).
ENCODER = {"avif": 24, "webp": 12, "png": 4, "gif": 8, "tiff": 4, "jpeg": 2, "bmp": 4}
# x265's and libjxl's, measured at 12 MP (bench-footprint: .heic and .jxl add 26 bytes a pixel
# with the frame).
ENCODER |= {"heic": 22, "jxl": 22}
# A decoder's own peak beyond the decoded frame, in bytes per pixel decoded, where it counts:
# libheif's planes, and libjxl's (the pixels it hands over, copied into the frame). Measured at
# 12 MP (bench-footprint's upload:heic 7.3 and upload:jxl 11.0 bytes a pixel, with the copies).
DECODER = {"heic": 4, "jxl": 8}


SMALLER_RESULT = (
    "make a smaller result first (thumbnail or resize as the first operation), or use POST /jobs"
)
# Results no encoder of the format can hold, refused before decoding (libwebp's 16,383 px).
MAX_SIDE = {"webp": 16383}


@dataclass(frozen=True)
class Estimate:
    seconds: float
    peak_bytes: int
    parts: tuple[tuple[str, float], ...]  # what the time goes to, costliest first
    output: tuple[int, int]  # the result's size
    made: tuple[tuple[int, int], ...]  # every frame the steps make, on the way or as results
    frames: int  # the result's frames
    format: str  # the result's format
    # The largest frame the steps work on: nothing a mask or watermark is fitted to is larger,
    # so the images a pipeline names decode reduced to it.
    largest: tuple[int, int]

    def costliest(self, count: int = 3) -> str:
        return ", ".join(f"{what} {seconds:.1f} s" for what, seconds in self.parts[:count])


@dataclass(frozen=True)
class Reference:
    """An image a pipeline names (mask, watermark), as its header describes it."""

    width: int
    height: int
    format: str


def decode_size(
    width: int, height: int, fmt: str, draft: tuple[int, int] | None
) -> tuple[int, int]:
    """The size a source decodes at: a JPEG at the largest reduction (1/2, 1/4, 1/8) that covers
    the draft with the decoder's margin (decode.reduce_on_load), anything else whole."""
    if fmt != "jpeg" or draft is None:
        return width, height
    scale = 1
    while scale < 8 and all(
        math.ceil(side / (scale * 2)) >= round(want * DRAFT_GAP)
        for side, want in zip((width, height), draft, strict=True)
    ):
        scale *= 2
    return math.ceil(width / scale), math.ceil(height / scale)


def _decode_seconds(fmt: str, decoded: tuple[int, int], full: tuple[int, int], scans: int) -> float:
    """Decoding at ``decoded`` a picture of ``full`` size: a JPEG entropy-decodes every
    coefficient of the full picture, once per scan, whatever size it is decoded at."""
    seconds = DECODE[fmt] * decoded[0] * decoded[1] / MP
    if fmt == "jpeg":
        seconds += (ENTROPY + PER_SCAN * max(0, scans - 1)) * full[0] * full[1] / MP
    return seconds


def _unit(table: Mapping[str, Any], step: Step, default: float = 0.0) -> float:
    value = table.get(step.name, default)
    return value(step.args) if callable(value) else value


def estimate(
    plan: Plan, source: Source, scans: int = 1, references: Mapping[str, Reference] | None = None
) -> Estimate:
    """CPU seconds and peak bytes of rendering ``plan`` over ``source`` (its header facts)."""
    references = references or {}
    parts: dict[str, float] = {}

    def spend(what: str, seconds: float) -> None:
        parts[what] = parts.get(what, 0.0) + seconds

    frames = source.frames if plan.animated else 1
    picture, read = source.decoded
    fmt = read.name
    decoded = decode_size(*picture, fmt, plan.geometry.draft)
    spend(
        f"decode {fmt} {decoded[0]}x{decoded[1]}",
        _decode_seconds(fmt, decoded, picture, scans) * frames,
    )
    peak = (FRAME + DECODER.get(fmt, 0)) * decoded[0] * decoded[1]
    walked = _walk(plan)
    results = [result for _, result in walked]
    largest = max(w for w, _ in [decoded, *results]), max(h for _, h in [decoded, *results])
    # Referenced images are decoded once, reduced to what the render can use, and held.
    held = 0
    for image_id, ref in references.items():
        width, height = decode_size(ref.width, ref.height, ref.format, largest)
        spend(f"decode {image_id}", DECODE[ref.format] * width * height / MP)
        held += FRAME * width * height
    current, fitted = decoded, []
    for step, result in zip(plan.steps, results, strict=True):
        pixels_in = current[0] * current[1]
        pixels_out = result[0] * result[1]
        mark = _fitted(step, current, references)
        if mark is not None:
            fitted.append(mark)
            pixels_out = max(pixels_out, mark[0] * mark[1])
        larger = max(pixels_in, pixels_out)
        spend(step.canonical(), (_unit(STEP, step) * larger / MP + _unit(FIXED, step)) * frames)
        peak = max(peak, FRAME * (pixels_in + pixels_out) + _unit(SCRATCH, step) * FRAME * larger)
        current = result
    out_pixels = current[0] * current[1]
    # Every output frame is held until encoded; then the encoder's own peak.
    held += FRAME * out_pixels * (frames - 1)
    # auto's fallback writes PNG for JPEG where the result has alpha: dearer in time and memory,
    # and counted as often as a JPEG's quality:auto search would encode (an upper bound).
    lossy, out_fmt = plan.format.name, (plan.alpha_format or plan.format).name
    auto = most_encodes(lossy) if plan.quality == "auto" else 1
    encodes = auto + (MAX_BYTES_ENCODES if plan.max_bytes is not None else 0)
    encoding = ENCODE[out_fmt] * out_pixels / MP * frames * encodes
    spend(f"encode {out_fmt} {current[0]}x{current[1]}", encoding)
    if auto > 1:  # a lossy format: each encode decoded and measured (but maybe the last)
        sample = min(out_pixels, SAMPLE_PIXELS)
        measuring = auto * (DECODE[lossy] * out_pixels + SSIM * sample) / MP
        spend(f"quality:auto {lossy} {current[0]}x{current[1]}", measuring)
    held_auto = AUTO_BYTES * out_pixels if auto > 1 else 0
    peak = max(
        peak, FRAME * out_pixels + ENCODER[out_fmt] * out_pixels * min(frames, 2) + held_auto
    )
    ordered = tuple(sorted(parts.items(), key=lambda part: -part[1]))
    made = tuple(size for interim, result in walked for size in (interim, result) if size)
    made += tuple(fitted)
    return Estimate(
        sum(parts.values()), BASE + held + peak, ordered, current, made, frames, out_fmt, largest
    )


def upload_estimate(
    info: ImageInfo, copies: Sequence[tuple[int, int]], alpha: bool = False
) -> Estimate:
    """What validating an upload costs: its first frame decoded (a JPEG at 1/8), or, where it
    gets working copies of ``copies`` sizes (smallest first), the decode at the largest copy's
    scale, each reduction (from the next larger frame) and each encode (JPEG, or WebP where
    there is alpha: WebP's cost is counted). Pillow reduces a picture with ``alpha`` from a
    premultiplied copy of the whole decoded frame: one more."""
    fmt, width, height = info.format.name, info.width, info.height
    target = copies[-1] if copies else (max(1, width // 8), max(1, height // 8))
    decoded = decode_size(width, height, fmt, target)
    pixels = decoded[0] * decoded[1]
    seconds = _decode_seconds(fmt, decoded, (width, height), info.scans)
    parts = [(f"decode {fmt} {decoded[0]}x{decoded[1]}", seconds)]
    peak = (FRAME + DECODER.get(fmt, 0)) * pixels + (FRAME * pixels if alpha and copies else 0)
    source = pixels
    for copy in reversed(copies):
        out = copy[0] * copy[1]
        work = (RESIZE * source + ENCODE["webp"] * out) / MP
        parts.append((f"working copy {copy[0]}x{copy[1]}", work))
        peak += FRAME * out
        source = out
    if copies:
        peak += ENCODER["webp"] * copies[-1][0] * copies[-1][1]
    ordered = tuple(sorted(parts, key=lambda part: -part[1]))
    total = sum(s for _, s in parts)
    return Estimate(total, BASE + peak, ordered, (width, height), (), 1, fmt, decoded)


def _fitted(
    step: Step, frame: tuple[int, int], references: Mapping[str, Reference]
) -> tuple[int, int] | None:
    """The size the image a step names is resized to, where its own size decides it."""
    fitted, named = implementation(step).fitted, references.get(step.args.get("image", ""))
    if fitted is None or named is None:
        return None
    return fitted(step.args, *frame, (named.width, named.height))


def _walk(plan: Plan) -> list[tuple[tuple[int, int] | None, tuple[int, int]]]:
    """Each pixel step's frames: a larger one it makes on the way (or None), and its result.
    The first step sizes its result from the picture."""
    walked, current = [], plan.geometry.size
    for step in plan.steps:
        pixels = implementation(step)
        interim = pixels.interim(step.args, *current) if pixels.interim else None
        current = pixels.result_size(step.args, *current)
        walked.append((interim, current))
    return walked


def check(cost: Estimate, limits: Limits) -> None:
    """Refuse a render over the budget, before decoding: 413 for a result too large for its
    format or the animation limit, or for the memory; 422 ``work_budget`` for the time."""
    for size in cost.made:
        check_output(*size, limits)
    width, height = cost.output
    if max(width, height) > MAX_SIDE.get(cost.format, limits.max_side):
        raise TooLarge(
            f"the result would be {width}x{height}; {cost.format.upper()} holds at most "
            f"{MAX_SIDE.get(cost.format, limits.max_side)} pixels a side",
            param="ops",
        )
    if cost.frames > 1 and cost.frames * width * height > limits.max_animation_pixels:
        raise TooLarge(
            f"the result would be {cost.frames} frames of {width}x{height}, "
            f"{cost.frames * width * height} pixels in all; the limit is "
            f"{limits.max_animation_pixels}",
            param="ops",
        )
    check_budget(cost, limits)


def check_budget(
    cost: Estimate, limits: Limits, smaller: str = SMALLER_RESULT, param: str = "ops"
) -> None:
    """Refuse work over the request's memory (413) or time (422), both ``work_budget``, naming
    ``param`` as the cause; charge it to the budget the request's items share, if any (see
    limits.shared_budget)."""
    if cost.peak_bytes > limits.max_memory:
        raise TooLarge(
            f"this would hold about {cost.peak_bytes // 2**20} MB, over the "
            f"{limits.max_memory // 2**20} MB a request may use ({cost.costliest()}); {smaller}",
            param=param,
            code="work_budget",
        )
    if cost.seconds > limits.max_seconds:
        raise Unprocessable(
            f"this would take about {cost.seconds:.0f} s of work, over the "
            f"{limits.max_seconds:g} s a request may use; the costliest parts: "
            f"{cost.costliest()}. {smaller[0].upper()}{smaller[1:]}",
            param=param,
            code="work_budget",
        )
    limits.charge(cost.seconds, param)
