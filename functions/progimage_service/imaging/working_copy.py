"""The reduced working copies made at upload: variants they serve are computed from them.

Decoding a 24 MP progressive JPEG costs far more than any thumbnail made from it; a baseline
copy of at most 2048 px a side, upright and in sRGB, is decoded in a fraction of the time and,
at this quality, gives variants that cannot be told from those made from the original. A second
copy of 1024 px serves small outputs (thumbnails) from a quarter of the bytes. Which copies a
picture gets is copies.COPIES' to say, which one serves a pipeline the render plan's
(plan.serving_copy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from PIL import Image

from .colour import working_mode
from .copies import Copy, copies_made, copy_size
from .cost import check_budget, upload_estimate
from .decode import ImageInfo, Opened, describe, frames, reduce_on_load, upright, verify
from .encode import EncodeOptions, Frame, encode
from .formats import FORMATS, Format
from .limits import Limits
from .looks import Looks, look_at
from .operations.geometry import REDUCING_GAP

QUALITY = 95
SMALLER_UPLOAD = (
    "send fewer or smaller images per request, or use presigned uploads (POST /uploads)"
)


@dataclass(frozen=True)
class WorkingCopy:
    kind: Copy
    data: bytes
    format: Format
    width: int
    height: int


class Admitted(NamedTuple):
    """A validated upload: what the record says of it, its working copies (smallest first)
    and its looks (looks.py)."""

    info: ImageInfo
    copies: tuple[WorkingCopy, ...]
    looks: Looks


def admit(data: bytes, limits: Limits) -> Admitted:
    """Validate an upload within the request's budget, make its working copies and read its
    looks, decoding it once: the largest copy's decode checks the pixels where there is a copy
    (the smallest is looked at), else the first frame is decoded (cheaply) for both."""
    opened, info, kinds, sizes = _described(data, limits)
    if not kinds:
        verify(opened)
        return Admitted(info, (), look_at(working_mode(upright(opened))))
    copies, smallest = _working_copies(opened, kinds, sizes)
    return Admitted(info, copies, look_at(smallest))


def remake_copies(data: bytes, limits: Limits) -> tuple[WorkingCopy, ...]:
    """The working copies ``admit`` made of an original (the same bytes), without its looks:
    for a copy lost from the store."""
    opened, _, kinds, sizes = _described(data, limits)
    return _working_copies(opened, kinds, sizes)[0] if kinds else ()


def _described(
    data: bytes, limits: Limits
) -> tuple[Opened, ImageInfo, tuple[Copy, ...], list[tuple[int, int]]]:
    """The upload opened, its header's facts, the copies it gets and their sizes, once what
    admitting it costs is known to be within the budget."""
    opened, info = describe(data, limits)
    picture = (info.width, info.height)
    kinds = copies_made(picture, info.frames)
    sizes = [copy_size(picture, kind) for kind in kinds]
    alpha = "A" in opened.image.getbands() or "transparency" in opened.image.info
    check_budget(upload_estimate(info, sizes, alpha), limits, SMALLER_UPLOAD, param="pixels")
    return opened, info, kinds, sizes


def _working_copies(
    opened: Opened, kinds: tuple[Copy, ...], sizes: list[tuple[int, int]]
) -> tuple[tuple[WorkingCopy, ...], Image.Image]:
    """Each copy resampled from the next larger one (the largest from the decoded frame); and
    the smallest's pixels."""
    box = reduce_on_load(opened, sizes[-1])
    image, _ = next(frames(opened))
    image = working_mode(image)
    fmt = FORMATS["webp" if image.mode in ("LA", "RGBA") else "jpeg"]
    options = EncodeOptions(quality=QUALITY)
    made: list[WorkingCopy] = []
    for kind, size in reversed(list(zip(kinds, sizes, strict=True))):
        image = image.resize(size, Image.Resampling.LANCZOS, box, reducing_gap=REDUCING_GAP)
        box = None
        data = encode([Frame(image, 0)], fmt, options)
        made.append(WorkingCopy(kind, data, fmt, *size))
    return tuple(reversed(made)), image
