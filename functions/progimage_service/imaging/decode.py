"""Open images safely: allowlisted plugin only, limits checked from the header, errors typed.

Nothing here decodes pixels before the byte size, the dimensions and the frame count have been
checked against the limits.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, PngImagePlugin

from ..errors import InvalidImage, TooLarge
from .formats import Format, sniff
from .gif import GifLayout, gif_layout
from .integrity import check_complete
from .jxl import JxlImageFile
from .limits import Limits
from .plugins import register
from .png import decode_png, plain_after_pixels
from .webp import WebpLayout, webp_layout

_ORIENTATION_TAG = 0x0112
# Orientations 5 to 8 turn the picture a quarter: its displayed width is the stored height.
_SWAPS_SIDES = {5, 6, 7, 8}
DRAFT_GAP = 1.25
# How each EXIF orientation is undone (the same table as Pillow's ImageOps.exif_transpose), by
# the names of Image.Transpose.
_TRANSPOSE = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}


@dataclass(frozen=True)
class ImageInfo:
    """What the record says about an image: its dimensions are as displayed (EXIF applied)."""

    format: Format
    width: int
    height: int
    frames: int
    orientation: int
    scans: int  # of a JPEG's entropy-coded data (a progressive one has several); 1 otherwise


@dataclass
class Opened:
    """An image opened (header read, not decoded) and checked against the limits."""

    image: Image.Image
    format: Format
    frames: int
    orientation: int
    data: bytes  # the file the image was opened from


def open_image(data: bytes, limits: Limits) -> Opened:
    """Sniff, check size and header limits, and open with the one matching plugin only."""
    limits.check_bytes(len(data))
    fmt = sniff(data)
    # Pillow walks a GIF's frames, and libwebp allocates a WebP's canvas, inside Image.open.
    if fmt.name == "gif":
        _check_layout(gif_layout(data, stop_after=limits.max_frames), limits)
    elif fmt.name == "webp":
        _check_layout(webp_layout(data, stop_after=limits.max_frames), limits)
    # HEIC's and JPEG XL's plugins read the header only here (JPEG XL's is jxl.py's own image).
    register(fmt)
    with _decoding(fmt):
        # The limits, checked on the next line, are the only ones: Pillow's own guard (twice its
        # MAX_IMAGE_PIXELS, 179 MP) would refuse first, in its words, whatever ours are set to.
        Image.MAX_IMAGE_PIXELS = None
        image = Image.open(io.BytesIO(data), formats=[fmt.pillow])
        limits.check_dimensions(*image.size)
        # A still format's further pages (TIFF's, an MPO's second JPEG) are never rendered, and
        # counting them would walk every IFD of a TIFF, in quadratic time.
        frames = getattr(image, "n_frames", 1) if fmt.animated else 1
    limits.check_frames(frames, *image.size)
    orientation = _orientation(image, data)
    return Opened(image=image, format=fmt, frames=frames, orientation=orientation, data=data)


def _check_layout(layout: GifLayout | WebpLayout, limits: Limits) -> None:
    limits.check_dimensions(layout.width, layout.height)
    limits.check_frames(layout.frames, layout.width, layout.height)


def inspect(data: bytes, limits: Limits) -> ImageInfo:
    """Validate an upload: ``describe`` it, then decode its first frame (``verify``)."""
    opened, info = describe(data, limits)
    verify(opened)
    return info


def describe(data: bytes, limits: Limits) -> tuple[Opened, ImageInfo]:
    """Open an upload, check that none of its data is missing, and describe it: no pixels yet.

    A truncated file is refused at upload rather than stored: its structure is walked for every
    frame's data (decoders fill in what is missing, and only the first frame is ever decoded).
    """
    try:
        opened = open_image(data, limits)
    except InvalidImage:
        check_complete(data, sniff(data))  # a file cut short says so, not what the decoder hit
        raise
    scans = checked_scans(data, opened.format, limits)
    width, height = displayed(opened)
    return opened, ImageInfo(opened.format, width, height, opened.frames, opened.orientation, scans)


def checked_scans(data: bytes, fmt: Format, limits: Limits) -> int:
    """The image's scans (a progressive JPEG's are many; 1 otherwise), counted by walking its
    structure, which refuses a file cut short; more than the limit is refused too."""
    scans = check_complete(data, fmt)
    limits.check_scans(scans)
    return scans


def verify(opened: Opened) -> None:
    """Decode the first frame, cheaply (a JPEG at 1/8), so that corrupt data is refused too."""
    image = opened.image
    width, height = image.size
    with _decoding(opened.format):
        if opened.format.name == "jpeg":
            image.draft(image.mode, (width // 8 or 1, height // 8 or 1))
        image.load()


def displayed(opened: Opened) -> tuple[int, int]:
    """The picture's size as shown: EXIF orientation applied."""
    width, height = opened.image.size
    return (height, width) if opened.orientation in _SWAPS_SIDES else (width, height)


Box = tuple[float, float, float, float]


def reduce_on_load(opened: Opened, size: tuple[int, int]) -> Box | None:
    """Have a JPEG decode at the largest reduction (1/2, 1/4, 1/8) that still covers ``size``
    (upright) with a margin; return the part of the reduced frame that holds the picture.

    Reduced decoding is far faster than a full decode. The margin leaves some of the reduction
    to a proper resampling filter: the decoder's scaling alone, landing exactly on the size, is
    visibly coarser (38 dB against 48 measured on a thumbnail). A margin of 2, as Pillow's own
    thumbnail() takes, doubled the time of a resize to 1024 px from 12 MP for no visible gain.

    The decoder rounds a reduced side up: a 1365-row picture at 1/4 is 342 rows, of which
    341.25 are picture. Resampling from that box (upright: where the partial block ends up
    depends on the orientation) keeps a variant exactly where the full decode would put it.
    Returns None when nothing was reduced.
    """
    if opened.format.name != "jpeg":
        return None
    width, height = (round(side * DRAFT_GAP) for side in size)
    if opened.orientation in _SWAPS_SIDES:
        width, height = height, width
    with _decoding(opened.format):
        stored = opened.image.size
        reduced = opened.image.draft(opened.image.mode, (width, height))
    if reduced is None or opened.image.size == stored:
        return None
    return _upright_box(reduced[1], opened.image.size, opened.orientation)


def _upright_box(box: Box, size: tuple[int, int], orientation: int) -> Box:
    """``box`` (anchored at the top left of a ``size`` frame) where _upright() moves it."""
    _, _, bw, bh = box
    w, h = size
    return {
        2: (w - bw, 0, w, bh),
        3: (w - bw, h - bh, w, h),
        4: (0, h - bh, bw, h),
        5: (0, 0, bh, bw),
        6: (h - bh, 0, h, bw),
        7: (h - bh, w - bw, h, w),
        8: (0, w - bw, bh, w),
    }.get(orientation, (0, 0, bw, bh))


def frames(opened: Opened) -> Iterator[tuple[Image.Image, int]]:
    """Each frame, decoded (at the size reduce_on_load chose, if called), upright, with its
    duration in milliseconds. What decoding may cost was estimated before (cost.py)."""
    with _decoding(opened.format):
        size = opened.image.size
        # A file of several frames rendered as one (an MPO's first JPEG, a TIFF's first page) is
        # copied out of its file object too: encoders read `is_animated` from the image they are
        # given, and AVIF's would set up for a sequence (680 MB for a 2000x2000 MPO, measured).
        detach = opened.frames > 1 or getattr(opened.image, "is_animated", False)
        for index in range(opened.frames):
            if index:
                opened.image.seek(index)
            frame = decode_png(opened.data, opened.image)  # None: Pillow decodes it
            if frame is None:
                opened.image.load()
                frame = opened.image.copy() if detach else opened.image
            if frame.size != size:  # a GIF frame beyond the screen: Pillow grew the canvas
                frame = frame.crop((0, 0, *size))
            duration = int(opened.image.info.get("duration", 0) or 0)
            yield _upright(frame, opened.orientation), duration


def upright(opened: Opened) -> Image.Image:
    """The frame decoded last (by ``verify`` or ``frames``), upright."""
    return _upright(opened.image, opened.orientation)


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return image.transpose(Image.Transpose[method]) if method is not None else image


def _orientation(image: Image.Image, data: bytes) -> int:
    """The EXIF orientation left to apply. HEIF's (irot, imir) and JPEG XL's (the codestream's)
    are the decoders' to apply, which they do: pillow-heif sets the EXIF's to 1 as it opens, and
    a JPEG XL image says what is left (jxl.py)."""
    if isinstance(image, JxlImageFile):
        return image.orientation
    try:
        value = _exif(image, data).get(_ORIENTATION_TAG, 1)
    except Exception:  # corrupt EXIF: the pixels are still an image, shown as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _exif(image: Image.Image, data: bytes) -> Image.Exif:
    """The image's EXIF (and XMP orientation), without decoding its pixels where it can be.

    Pillow's PNG plugin decodes the whole image first, for the chunks that may follow the
    pixels; where none that it would parse does, what the header gave is all there is.
    """
    if isinstance(image, PngImagePlugin.PngImageFile) and plain_after_pixels(data):
        return Image.Image.getexif(image)
    return image.getexif()


@contextmanager
def _decoding(fmt: Format) -> Iterator[None]:
    """Turn whatever a decoder raises on hostile bytes into the client's error, not a 500."""
    try:
        yield
    except (TooLarge, InvalidImage):
        raise
    except Image.UnidentifiedImageError as error:  # its message names a Python object
        raise InvalidImage(
            f"the data is not a valid {fmt.name.upper()} image: it cannot be opened (corrupt, "
            "or cut short)"
        ) from error
    except MemoryError as error:
        raise TooLarge("image needs more memory to decode than allowed", param="pixels") from error
    except Exception as error:  # any decoder failure on these bytes is the input's fault
        raise InvalidImage(f"the data is not a valid {fmt.name.upper()} image: {error}") from error
