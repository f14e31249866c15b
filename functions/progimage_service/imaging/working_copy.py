"""The reduced working copy made at upload: variants that fit inside it are computed from it.

Decoding a 24 MP progressive JPEG costs far more than any thumbnail made from it; a baseline
copy of at most 2048 px a side, upright and in sRGB, is decoded in a fraction of the time and,
at this quality, gives variants that cannot be told from those made from the original.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from .colour import working_mode
from .decode import ImageInfo, frames, open_image, reduce_on_load
from .encode import EncodeOptions, Frame, encode
from .formats import FORMATS, Format
from .limits import Limits
from .operations.geometry import REDUCING_GAP
from .pipeline import Pipeline
from .plan import geometry

MAX_SIDE = 2048
QUALITY = 95


@dataclass(frozen=True)
class WorkingCopy:
    data: bytes
    format: Format
    width: int
    height: int


def working_size(width: int, height: int) -> tuple[int, int]:
    scale = MAX_SIDE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_working_copy(data: bytes, info: ImageInfo, limits: Limits) -> WorkingCopy | None:
    """A reduced copy of a large still image, or None where the original is as good."""
    if info.frames > 1 or max(info.width, info.height) <= MAX_SIDE:
        return None
    size = working_size(info.width, info.height)
    opened = open_image(data, limits)
    box = reduce_on_load(opened, size)
    image, _ = next(frames(opened, limits))
    image = working_mode(image).resize(
        size, Image.Resampling.LANCZOS, box, reducing_gap=REDUCING_GAP
    )
    alpha = image.mode in ("LA", "RGBA")
    fmt = FORMATS["webp" if alpha else "jpeg"]
    options = EncodeOptions(quality=QUALITY)
    return WorkingCopy(encode([Frame(image, 0)], fmt, options), fmt, *size)


def fits(pipeline: Pipeline, width: int, height: int) -> bool:
    """Can the pipeline be computed from the working copy of a width x height picture?

    Only when its first pixel step reduces the picture to a size the copy still covers: any
    other first step (a crop by coordinates, a full-size filter) needs the original. The render
    plan decides it, by the rule that gives the first pixel step its geometry.
    """
    return geometry(pipeline, (width, height), working_size(width, height)).from_copy
