"""The render plan: everything a render decides, decided once from the pipeline and the header.

A pipeline is pixel steps and output options. Only the pixel steps touch the picture; the first
of them receives the picture's geometry: the size it sizes its result from (the original's,
when the frames are a reduced working copy of it), the reduced decode it needs (a JPEG's draft),
and the part of the decoded frame that holds the picture (known once the decoder has reduced).
Output options (quality, maxbytes) only configure the encoder, wherever they were written, so
every spelling of one canonical form gets one plan. Which working copy serves a pipeline is read
from the same rule. Nothing here decodes a pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

from .copies import COPIES, Copy, copy_size
from .formats import Format
from .grammar import Colour, Step
from .operations.table import implementation
from .pipeline import Pipeline

# The shapes a miss assumes before it has read the picture's record: landscape 2:1 to portrait.
SHAPES = ((2, 1), (1, 1), (1, 2))


@dataclass(frozen=True)
class Source:
    """What the header says about the picture asked of (sizes as displayed: EXIF applied)."""

    width: int
    height: int
    format: Format
    frames: int = 1
    # The displayed size of the reduced working copy being read instead of the original, if
    # any, and its format.
    copy: tuple[int, int] | None = None
    copy_format: Format | None = None
    copy_reach: float = 1.0  # the share of the copy's size it serves (Copy.reach)

    @property
    def decoded(self) -> tuple[tuple[int, int], Format]:
        """The size and format of what is decoded: the working copy, or the picture."""
        if self.copy is not None:
            return self.copy, self.copy_format or self.format
        return (self.width, self.height), self.format


@dataclass(frozen=True)
class Geometry:
    """What the first pixel step receives, and which source is read."""

    size: tuple[int, int]  # the picture's size, to size the first step's result from
    draft: tuple[int, int] | None  # the smallest (upright) decode it needs; None: full size
    from_copy: bool  # the working copy serves: the first step reduces to within it


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]  # the pixel steps, in order; steps[0] receives the geometry
    geometry: Geometry
    format: Format  # of the output
    alpha_format: Format | None  # written instead where the result has alpha (auto's fallback)
    # The encoder's quality; None: the format's default; "auto": the lowest within the format's
    # perceptual target (perceptual.auto_quality).
    quality: int | str | None
    max_bytes: int | None  # the encoded size to stay within, lowering the quality
    background: Colour | None  # what the encoder flattens transparency onto: the last given
    animated: bool  # every frame is rendered (else the first only)


def geometry(
    pipeline: Pipeline,
    size: tuple[int, int],
    copy: tuple[int, int] | None = None,
    reach: float = 1.0,
) -> Geometry:
    """The first pixel step's geometry over a picture of ``size``, and whether a working copy
    of size ``copy`` can serve it (the first step reduces to ``reach`` of the copy's size or
    less; not a full-size filter, which keeps the picture's size)."""
    if not pipeline.pixel_steps:
        return Geometry(size, None, False)
    first = pipeline.pixel_steps[0]
    pixels = implementation(first)
    draft = pixels.draft(first.args, *size) if pixels.draft else None
    from_copy = (
        copy is not None
        and draft is not None
        and not pixels.full_size
        and draft[0] <= copy[0] * reach
        and draft[1] <= copy[1] * reach
    )
    return Geometry(size, draft, from_copy)


def _serves(pipeline: Pipeline, size: tuple[int, int], copy: Copy) -> bool:
    return geometry(pipeline, size, copy_size(size, copy), copy.reach).from_copy


def likely_copy(pipeline: Pipeline) -> Copy:
    """The copy a miss opens beside the picture's record, before it knows the picture: the
    smallest that serves the pipeline over a picture of any usual shape larger than every copy,
    else the largest."""
    longest = 4 * COPIES[-1].side
    shapes = [(longest * w // max(w, h), longest * h // max(w, h)) for w, h in SHAPES]
    return next(
        (c for c in COPIES if all(_serves(pipeline, shape, c) for shape in shapes)), COPIES[-1]
    )


def serving_copy(
    pipeline: Pipeline, size: tuple[int, int], copies: tuple[Copy, ...]
) -> Copy | None:
    """Which of the picture's working copies a render of the pipeline reads (None: the
    original): the one a miss opens before it knows the picture, where it serves, else the
    smallest that does. One rule for every request, so a variant's pixels never depend on
    which request made it."""
    serving = [c for c in copies if _serves(pipeline, size, c)]
    likely = likely_copy(pipeline)
    return likely if likely in serving else next(iter(serving), None)


def plan(pipeline: Pipeline, source: Source) -> Plan:
    """The plan of ``pipeline`` over ``source``: pure, and alike for every spelling."""
    settings = pipeline.settings()
    fmt = pipeline.output_format(source.format)
    return Plan(
        steps=pipeline.pixel_steps,
        geometry=geometry(pipeline, (source.width, source.height), source.copy, source.copy_reach),
        format=fmt,
        alpha_format=pipeline.alpha_format(source.format),
        quality=settings.get("quality"),
        max_bytes=settings.get("max_bytes"),
        background=settings.get("background"),
        animated=fmt.animated and source.frames > 1,
    )
