"""Geometry: resize, thumbnail, crop, trim, rotate, flip."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from PIL import Image, ImageChops

from ...errors import Unprocessable
from ..grammar import Colour
from ..registry import FOCAL_GRAVITY
from ..smartcrop import attention, centred, entropy
from .base import TRANSPARENT, RenderState, always, check_output, implements, place, with_alpha

# Resize from a box-reduced copy when shrinking a lot: Pillow's fast path, nearly as sharp.
REDUCING_GAP = 3.0


def _fit_size(w: int, h: int, width: int, height: int, cover: bool = False) -> tuple[int, int]:
    """Scale (w, h) to fit inside (or cover) width x height, keeping its aspect; 0 = free."""
    if width == 0:
        scale = height / h
    elif height == 0:
        scale = width / w
    else:
        scale = (max if cover else min)(width / w, height / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _resized(image: Image.Image, size: tuple[int, int], state: RenderState) -> Image.Image:
    check_output(*size, state.limits)
    box = state.box_of()
    if size == image.size and box is None:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, box, reducing_gap=REDUCING_GAP)


def _resize_draft(args: Mapping[str, Any], w: int, h: int) -> tuple[int, int]:
    width, height, fit = args["width"], args["height"], args["fit"]
    if fit == "stretch" and width and height:
        return width, height
    return _fit_size(w, h, width, height, cover=fit == "fill")


def _resize_size(args: Mapping[str, Any], w: int, h: int) -> tuple[int, int]:
    width, height, fit = args["width"], args["height"], args["fit"]
    if fit in ("fill", "pad", "stretch") and width and height:
        return width, height
    return _fit_size(w, h, width, height)


def _covered(args: Mapping[str, Any], w: int, h: int) -> tuple[int, int]:
    if args["fit"] == "fill" and args["width"] and args["height"]:
        return _fit_size(w, h, args["width"], args["height"], cover=True)
    return _resize_size(args, w, h)


def _resize_reframes(args: Mapping[str, Any]) -> bool:
    return args["fit"] in ("fill", "pad") and bool(args["width"] and args["height"])


@implements(
    "resize",
    draft=_resize_draft,
    size=_resize_size,
    interim=_covered,
    reframes=_resize_reframes,
)
def resize(image: Image.Image, state: RenderState, width: int, height: int, fit: str, gravity: str):
    w, h = state.size_of(image)
    if fit == "stretch" and width and height:
        return _resized(image, (width, height), state)
    if fit == "fill" and width and height:
        covered = _resized(image, _fit_size(w, h, width, height, cover=True), state)
        return _crop_gravity(covered, state, width, height, gravity)
    fitted = _resized(image, _fit_size(w, h, width, height), state)
    if fit == "pad" and width and height and fitted.size != (width, height):
        check_output(width, height, state.limits)  # the canvas, larger than what it holds
        canvas = Image.new(with_alpha(fitted.mode), (width, height))  # 0: transparent
        canvas.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
        return canvas
    return fitted


def _thumbnail_size(args: Mapping[str, Any], w: int, h: int) -> tuple[int, int]:
    if w <= args["width"] and h <= args["height"]:
        return w, h
    return _fit_size(w, h, args["width"], args["height"])


@implements("thumbnail", draft=_thumbnail_size, size=_thumbnail_size)
def thumbnail(image: Image.Image, state: RenderState, width: int, height: int):
    size = _thumbnail_size({"width": width, "height": height}, *state.size_of(image))
    return _resized(image, size, state)


def _crop_gravity(
    image: Image.Image, state: RenderState, width: int, height: int, gravity: str
) -> Image.Image:
    crop = min(width, image.width), min(height, image.height)
    if crop == image.size:
        return image
    x, y = state.once(lambda: _placed(image, crop, gravity, state.focal))
    return image.crop((x, y, x + crop[0], y + crop[1]))


def _placed(
    image: Image.Image, crop: tuple[int, int], gravity: str, focal: tuple[float, float] | None
) -> tuple[int, int]:
    """Where a ``crop`` box goes in the frame by gravity (the first frame's, for them all)."""
    if gravity == FOCAL_GRAVITY and focal is not None:
        return centred(image.size, crop, focal)
    if gravity in ("smart", FOCAL_GRAVITY):
        return attention(image, crop)
    if gravity == "entropy":
        return entropy(image, crop)
    return place(image.size, crop, gravity)


def _crop_size(args: Mapping[str, Any], w: int, h: int) -> tuple[int, int]:
    x, y = args.get("x", 0), args.get("y", 0)  # the gravity form keeps the box inside
    return max(1, min(args["width"], w - x)), max(1, min(args["height"], h - y))


@implements("crop", size=_crop_size, reframes=always)
def crop(image: Image.Image, state: RenderState, width: int, height: int, **at: Any):
    if "gravity" in at:
        return _crop_gravity(image, state, width, height, at["gravity"])
    x, y = at["x"], at["y"]
    box = (x, y, min(x + width, image.width), min(y + height, image.height))
    if box[0] >= box[2] or box[1] >= box[3]:
        raise Unprocessable(
            f"crop: the box {x},{y},{width}x{height} lies outside the "
            f"{image.width}x{image.height} image",
            param="ops",
        )
    return image.crop(box)


@implements("trim", reframes=always)
def trim(image: Image.Image, state: RenderState, tolerance: int):
    """Crop to the box of pixels differing from the top-left one by more than ``tolerance``
    in some channel (the first frame's box, for them all); the picture as it is where every
    pixel is border. Its size is known only from the pixels: the cost model counts it
    unchanged, an upper bound, and as a first step it has no draft (nothing reduced serves)."""
    box = state.once(lambda: _content(image, tolerance))
    return image if box is None else image.crop(box)


def _content(image: Image.Image, tolerance: int) -> tuple[int, int, int, int] | None:
    border = Image.new(image.mode, image.size, image.getpixel((0, 0)))
    bands = ImageChops.difference(image, border).split()
    spread = bands[0]
    for band in bands[1:]:
        spread = ImageChops.lighter(spread, band)
    return spread.point([0] * (tolerance + 1) + [255] * (255 - tolerance)).getbbox()


def _turns(args: Mapping[str, Any]) -> bool:
    return args["angle"] % 360 != 0


_QUARTER_TURNS = {  # names of Image.Transpose (read only when an image is turned)
    90: "ROTATE_270",  # Pillow turns counter-clockwise; the contract clockwise
    180: "ROTATE_180",
    270: "ROTATE_90",
}


def _rotated_size(args: Mapping[str, Any], w: int, h: int) -> tuple[int, int]:
    turn = args["angle"] % 360
    if turn in (0, 180):
        return w, h
    if turn in _QUARTER_TURNS:
        return h, w
    radians = math.radians(turn)
    out_w = math.ceil(abs(w * math.cos(radians)) + abs(h * math.sin(radians)))
    out_h = math.ceil(abs(w * math.sin(radians)) + abs(h * math.cos(radians)))
    return out_w, out_h


@implements("rotate", size=_rotated_size, reframes=_turns)
def rotate(image: Image.Image, state: RenderState, angle: float, background: Colour | None):
    turn = angle % 360
    if turn == 0:
        return image
    if turn in _QUARTER_TURNS:
        return image.transpose(Image.Transpose[_QUARTER_TURNS[turn]])
    check_output(*_rotated_size({"angle": angle}, *image.size), state.limits)
    fill = background or TRANSPARENT
    if image.mode in ("L", "LA") and background is not None:  # a colour needs colour bands
        image = image.convert("RGBA" if image.mode == "LA" or fill[3] < 255 else "RGB")
    elif fill[3] < 255:
        image = image.convert(with_alpha(image.mode))
    return image.rotate(-turn, Image.Resampling.BICUBIC, expand=True, fillcolor=_fill(fill, image))


def _fill(fill: Colour, image: Image.Image) -> Any:
    """The colour as a pixel value in the image's mode (grey modes take its luma)."""
    return Image.new("RGBA", (1, 1), fill).convert(image.mode).getpixel((0, 0))


@implements("flip", reframes=always)
def flip(image: Image.Image, state: RenderState, direction: str):
    method = (
        Image.Transpose.FLIP_LEFT_RIGHT if direction == "h" else Image.Transpose.FLIP_TOP_BOTTOM
    )
    return image.transpose(method)
