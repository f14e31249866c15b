"""The reduced working copy made at upload: variants that fit inside it are computed from it.

Decoding a 24 MP progressive JPEG costs far more than any thumbnail made from it; a baseline
copy of at most 2048 px a side, upright and in sRGB, is decoded in a fraction of the time and,
at this quality, gives variants that cannot be told from those made from the original.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from .colour import working_mode
from .cost import check_budget, upload_estimate
from .decode import ImageInfo, Opened, describe, frames, reduce_on_load, verify
from .encode import EncodeOptions, Frame, encode
from .formats import FORMATS, Format
from .limits import Limits
from .operations.geometry import REDUCING_GAP
from .pipeline import Pipeline
from .plan import geometry

MAX_SIDE = 2048
QUALITY = 95
SMALLER_UPLOAD = (
    "send fewer or smaller images per request, or use presigned uploads (POST /uploads)"
)


@dataclass(frozen=True)
class WorkingCopy:
    data: bytes
    format: Format
    width: int
    height: int


def working_size(width: int, height: int) -> tuple[int, int]:
    scale = MAX_SIDE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def copy_size(info: ImageInfo) -> tuple[int, int] | None:
    """The working copy's size for a large still image; None where the original is as good."""
    if info.frames > 1 or max(info.width, info.height) <= MAX_SIDE:
        return None
    return working_size(info.width, info.height)


def admit(data: bytes, limits: Limits) -> tuple[ImageInfo, WorkingCopy | None]:
    """Validate an upload within the request's budget and make its working copy, decoding it
    once: the copy's decode checks the pixels where there is a copy, else the first frame is
    decoded (cheaply) for that alone."""
    opened, info = describe(data, limits)
    size = copy_size(info)
    alpha = "A" in opened.image.getbands() or "transparency" in opened.image.info
    cost = upload_estimate(info, size, alpha)
    check_budget(cost, limits, SMALLER_UPLOAD, param="pixels")
    if size is None:
        verify(opened)
        return info, None
    return info, _working_copy(opened, size)


def _working_copy(opened: Opened, size: tuple[int, int]) -> WorkingCopy:
    box = reduce_on_load(opened, size)
    image, _ = next(frames(opened))
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
