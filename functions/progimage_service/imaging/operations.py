"""The operation registry: each operation defined once, with its grammar, bounds and function.

The URL form (``resize:800:600:fill``), the JSON string form and the JSON object form
(``{"op": "resize", "width": 800, "height": 600, "fit": "fill"}``) are all parsed from these
definitions (see pipeline.py), and the canonical form is printed from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import TooLarge, Unprocessable
from .decode import DRAFT_GAP, Box
from .limits import Limits
from .params import (
    GRAVITIES,
    Colour,
    Param,
    choice,
    colour,
    image_id,
    integer,
    number,
    optional,
)
from .pil import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

# Resize from a box-reduced copy when shrinking a lot: Pillow's fast path, nearly as sharp.
REDUCING_GAP = 3.0
MAX_SIDE = 16384  # the grammar's bound; the configured limit is checked on every output
TRANSPARENT: Colour = (0, 0, 0, 0)


@dataclass(frozen=True)
class Given:
    """What the first pixel step receives besides its frame (see plan.py)."""

    # The size of the picture the pipeline was asked of: the frame may be a reduced decode of
    # it, or of its working copy, and the first step sizes its result from this, so the variant
    # comes out exactly as it would from the original at full size.
    size: tuple[int, int]
    # The part of the (reduced) decoded frame that holds the picture; None: all of it.
    box: Box | None = None


@dataclass(frozen=True)
class RenderState:
    """What an operation is given besides its frame and arguments while a pipeline runs."""

    limits: Limits
    images: Mapping[str, Image.Image] = field(default_factory=dict)  # referenced by id, decoded
    given: Given | None = None  # the first pixel step's only

    def size_of(self, image: Image.Image) -> tuple[int, int]:
        """The size to compute from: the picture's (first pixel step only), else the image's."""
        return self.given.size if self.given else image.size

    def box_of(self) -> Box | None:
        """The part of the frame to resample from (first pixel step only; None: all of it)."""
        return self.given.box if self.given else None


Apply = Callable[..., "Image.Image"]


@dataclass(frozen=True)
class Operation:
    """One operation of the contract.

    ``forms`` lists the alternative argument lists (crop has two); the URL form picks one by the
    number of arguments, the JSON form by the names present.
    """

    name: str
    forms: tuple[tuple[Param, ...], ...]
    apply: Apply
    summary: str
    output_only: bool = False  # an encoder option, not a pixel step: takes no part in geometry
    # The smallest decoded size this operation needs from a (w, h) source, for JPEG draft mode.
    draft: Callable[[Mapping[str, Any], int, int], tuple[int, int]] | None = None
    # A check across arguments, returning what is wrong (or None), run when parsing.
    check: Callable[[Mapping[str, Any]], str | None] | None = None
    # Keeps the picture's size although it has a draft (its decoding scale only): a reduced
    # working copy, which cannot give that size back, is no source for it.
    full_size: bool = False

    def usage(self) -> str:
        return " or ".join(self.name + "".join(p.usage() for p in form) for form in self.forms)


REGISTRY: dict[str, Operation] = {}


def operation(
    name: str,
    *params: Param,
    summary: str,
    forms: tuple[tuple[Param, ...], ...] | None = None,
    output_only: bool = False,
    draft: Callable[[Mapping[str, Any], int, int], tuple[int, int]] | None = None,
    check: Callable[[Mapping[str, Any]], str | None] | None = None,
    full_size: bool = False,
) -> Callable[[Apply], Apply]:
    """Register a function as the operation ``name`` (the one place an operation is defined)."""

    def register(apply: Apply) -> Apply:
        REGISTRY[name] = Operation(
            name, forms or (params,), apply, summary, output_only, draft, check, full_size
        )
        return apply

    return register


# --- geometry -------------------------------------------------------------------------------


def _check_output(width: int, height: int, limits: Limits) -> None:
    if width > limits.max_side or height > limits.max_side:
        raise TooLarge(
            f"the result would be {width}x{height}; the limit is {limits.max_side} per side",
            param="ops",
        )
    limits.check_dimensions(width, height)


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
    _check_output(*size, state.limits)
    box = state.box_of()
    if size == image.size and box is None:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, box, reducing_gap=REDUCING_GAP)


def _resize_draft(args: Mapping[str, Any], w: int, h: int) -> tuple[int, int]:
    width, height, fit = args["width"], args["height"], args["fit"]
    if fit == "stretch" and width and height:
        return width, height
    return _fit_size(w, h, width, height, cover=fit == "fill")


def _one_side_given(args: Mapping[str, Any]) -> str | None:
    return "width and height cannot both be 0" if not args["width"] and not args["height"] else None


@operation(
    "resize",
    integer("width", 0, MAX_SIDE, doc="0 keeps the aspect from the height"),
    integer("height", 0, MAX_SIDE, doc="0 keeps the aspect from the width"),
    choice("fit", ("fit", "fill", "stretch", "pad"), **optional("fit")),
    summary="resize: fit inside, fill (cover and centre-crop), stretch, or pad to W×H",
    draft=_resize_draft,
    check=_one_side_given,
)
def resize(image: Image.Image, state: RenderState, width: int, height: int, fit: str):
    w, h = state.size_of(image)
    if fit == "stretch" and width and height:
        return _resized(image, (width, height), state)
    if fit == "fill" and width and height:
        covered = _resized(image, _fit_size(w, h, width, height, cover=True), state)
        return _crop_gravity(covered, width, height, "center")
    fitted = _resized(image, _fit_size(w, h, width, height), state)
    if fit == "pad" and width and height and fitted.size != (width, height):
        _check_output(width, height, state.limits)  # the canvas, larger than what it holds
        canvas = Image.new(_with_alpha(fitted.mode), (width, height))  # 0: transparent
        canvas.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
        return canvas
    return fitted


def _thumbnail_size(args: Mapping[str, Any], w: int, h: int) -> tuple[int, int]:
    if w <= args["width"] and h <= args["height"]:
        return w, h
    return _fit_size(w, h, args["width"], args["height"])


@operation(
    "thumbnail",
    integer("width", 1, MAX_SIDE),
    integer("height", 1, MAX_SIDE, **optional(lambda args: args["width"])),
    summary="shrink to fit inside W×H (H = W), never enlarging",
    draft=_thumbnail_size,
)
def thumbnail(image: Image.Image, state: RenderState, width: int, height: int):
    size = _thumbnail_size({"width": width, "height": height}, *state.size_of(image))
    return _resized(image, size, state)


_GRAVITY_OFFSETS = {
    "center": (0.5, 0.5),
    "north": (0.5, 0.0),
    "south": (0.5, 1.0),
    "east": (1.0, 0.5),
    "west": (0.0, 0.5),
    "northeast": (1.0, 0.0),
    "northwest": (0.0, 0.0),
    "southeast": (1.0, 1.0),
    "southwest": (0.0, 1.0),
}


def _place(outer: tuple[int, int], inner: tuple[int, int], gravity: str, margin: int = 0):
    fx, fy = _GRAVITY_OFFSETS[gravity]
    x = round((outer[0] - inner[0] - 2 * margin) * fx) + margin
    y = round((outer[1] - inner[1] - 2 * margin) * fy) + margin
    return x, y


def _crop_gravity(image: Image.Image, width: int, height: int, gravity: str) -> Image.Image:
    width, height = min(width, image.width), min(height, image.height)
    x, y = _place(image.size, (width, height), gravity)
    return image.crop((x, y, x + width, y + height))


_CROP_BOX = (
    integer("x", 0, MAX_SIDE),
    integer("y", 0, MAX_SIDE),
    integer("width", 1, MAX_SIDE),
    integer("height", 1, MAX_SIDE),
)
_CROP_GRAVITY = (
    integer("width", 1, MAX_SIDE),
    integer("height", 1, MAX_SIDE),
    choice("gravity", GRAVITIES, **optional("center")),
)


@operation(
    "crop",
    summary="crop the box X,Y,W,H, or W×H placed by gravity (default centre)",
    forms=(_CROP_BOX, _CROP_GRAVITY),
)
def crop(image: Image.Image, state: RenderState, width: int, height: int, **place: Any):
    if "gravity" in place:
        return _crop_gravity(image, width, height, place["gravity"])
    x, y = place["x"], place["y"]
    box = (x, y, min(x + width, image.width), min(y + height, image.height))
    if box[0] >= box[2] or box[1] >= box[3]:
        raise Unprocessable(
            f"crop: the box {x},{y},{width}x{height} lies outside the "
            f"{image.width}x{image.height} image",
            param="ops",
        )
    return image.crop(box)


_QUARTER_TURNS = {  # names of Image.Transpose (read only when an image is turned)
    90: "ROTATE_270",  # Pillow turns counter-clockwise; the contract clockwise
    180: "ROTATE_180",
    270: "ROTATE_90",
}


@operation(
    "rotate",
    number("angle", -3600, 3600, doc="any angle; ten turns either way at most"),
    colour("background", **optional(None)),
    summary="rotate clockwise by any angle; others than multiples of 90 expand the canvas",
)
def rotate(image: Image.Image, state: RenderState, angle: float, background: Colour | None):
    turn = angle % 360
    if turn == 0:
        return image
    if turn in _QUARTER_TURNS:
        return image.transpose(Image.Transpose[_QUARTER_TURNS[turn]])
    radians = math.radians(turn)
    w, h = image.size
    out_w = math.ceil(abs(w * math.cos(radians)) + abs(h * math.sin(radians)))
    out_h = math.ceil(abs(w * math.sin(radians)) + abs(h * math.cos(radians)))
    _check_output(out_w, out_h, state.limits)
    fill = background or TRANSPARENT
    if image.mode in ("L", "LA") and background is not None:  # a colour needs colour bands
        image = image.convert("RGBA" if image.mode == "LA" or fill[3] < 255 else "RGB")
    elif fill[3] < 255:
        image = image.convert(_with_alpha(image.mode))
    return image.rotate(-turn, Image.Resampling.BICUBIC, expand=True, fillcolor=_fill(fill, image))


@operation(
    "flip",
    choice("direction", ("h", "v")),
    summary="mirror horizontally (h) or vertically (v)",
)
def flip(image: Image.Image, state: RenderState, direction: str):
    method = (
        Image.Transpose.FLIP_LEFT_RIGHT if direction == "h" else Image.Transpose.FLIP_TOP_BOTTOM
    )
    return image.transpose(method)


# --- colour ---------------------------------------------------------------------------------


def _colour_only(image: Image.Image, change: Callable[[Image.Image], Image.Image]) -> Image.Image:
    """Apply a change to the colour bands and keep any alpha band as it was."""
    if image.mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
        result = change(image.convert(image.mode[:-1]))
        result = result.convert(_with_alpha(result.mode))
        result.putalpha(alpha)
        return result
    return change(image)


@operation("grayscale", summary="convert to shades of grey")
def grayscale(image: Image.Image, state: RenderState):
    return image.convert("LA" if image.mode in ("RGBA", "LA") else "L")


_SEPIA = (0.393, 0.769, 0.189, 0, 0.349, 0.686, 0.168, 0, 0.272, 0.534, 0.131, 0)


@operation("sepia", summary="warm brown tones (the classic sepia matrix)")
def sepia(image: Image.Image, state: RenderState):
    return _colour_only(image, lambda im: _rgb(im).convert("RGB", _SEPIA))


@operation("invert", summary="negative")
def invert(image: Image.Image, state: RenderState):
    return _colour_only(image, ImageOps.invert)


@operation("equalize", summary="equalise the histogram")
def equalize(image: Image.Image, state: RenderState):
    return _colour_only(image, ImageOps.equalize)


@operation("autocontrast", summary="stretch the histogram to the full range")
def autocontrast(image: Image.Image, state: RenderState):
    return _colour_only(image, ImageOps.autocontrast)


def _blur_scale(sigma: float, size: tuple[int, int]) -> int:
    """The reduction a blur of ``sigma`` works at: the largest power of two up to sigma, at
    most 8 (a JPEG's smallest decode), and never below 64 pixels a side."""
    scale = 1
    while scale * 2 <= min(sigma, 8) and min(size) // (scale * 2) >= 64:
        scale *= 2
    return scale


def _blur_draft(args: Mapping[str, Any], w: int, h: int) -> tuple[int, int]:
    # Asks for 0.9/f of the size, which the decoder's margin (DRAFT_GAP) turns into a decode
    # at exactly 1/f: the JPEG is never decoded larger than the blur will work at.
    f = _blur_scale(args["sigma"], (w, h))
    if f == 1:
        return w, h
    return max(1, int(w * 0.9 / (f * DRAFT_GAP))), max(1, int(h * 0.9 / (f * DRAFT_GAP)))


@operation(
    "blur",
    number("sigma", 0, 100, low_open=True),
    summary="Gaussian blur with standard deviation SIGMA pixels",
    draft=_blur_draft,
    full_size=True,
)
def blur(image: Image.Image, state: RenderState, sigma: float):
    size = state.size_of(image)  # a JPEG may have been decoded at 1/f of it
    box = state.box_of()
    # Blur premultiplied, as resize does: the colour hidden under transparent pixels must not
    # bleed into the visible edge (a dark fringe around a shape on a transparent background).
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(image.mode)
    if premultiplied is None:
        return _gaussian_blur(image, sigma, size, box)
    return _gaussian_blur(image.convert(premultiplied), sigma, size, box).convert(image.mode)


def _gaussian_blur(
    image: Image.Image, sigma: float, size: tuple[int, int], box: Box | None
) -> Image.Image:
    """A Gaussian blur of the ``size`` picture that ``image`` holds (within ``box``, when the
    decoder reduced it); from sigma 2 up computed at 1/f of the size (see _blur_scale).

    Such a blur keeps almost nothing finer than the reduced pixel grid (its response there is
    below e^-4.9, -43 dB), so blurring a reduced copy by what remains of sigma, then scaling
    back up, gives the same picture (PSNR 49 dB against the full-size blur on a 12 MP photo)
    for a fraction of the work and memory. The reduction is the JPEG decoder's own (an 8x8
    block's low frequencies) or a triangle filter, which unlike a box does not fold fine detail
    back in; the upscale is bilinear. Each spreads a pixel too, by the variances subtracted.
    """
    f = _blur_scale(sigma, size)
    if f == 1 and image.size == size:
        return _in_bands(image, sigma, lambda band: band.filter(ImageFilter.GaussianBlur(sigma)))
    small_size = (max(1, round(size[0] / f)), max(1, round(size[1] / f)))
    decoded = size[0] / image.width  # what the decoder already reduced (1: nothing)
    spread = (decoded**2 - 1) / 12  # its variance, in the picture's pixels (about a box)
    if image.width > small_size[0] * 1.01:
        image = image.resize(small_size, Image.Resampling.BILINEAR, box)
        box, spread = None, f**2 / 6  # a triangle over f pixels of the picture
    scale = size[0] / image.width
    rest = math.sqrt(max(sigma**2 - spread - scale**2 / 6, 0.0)) / scale
    image = image.filter(ImageFilter.GaussianBlur(rest)) if rest > 0 else image
    return image.resize(size, Image.Resampling.BILINEAR, box)


@operation(
    "sharpen",
    number("amount", 0, 10, **optional(1.0)),
    number("radius", 0, 100, low_open=True, **optional(2.0)),
    summary="unsharp mask: AMOUNT (1 = 100%) at RADIUS pixels",
)
def sharpen(image: Image.Image, state: RenderState, amount: float, radius: float):
    unsharp = ImageFilter.UnsharpMask(radius=radius, percent=round(amount * 100), threshold=0)
    return _colour_only(image, lambda im: _in_bands(im, radius, lambda band: band.filter(unsharp)))


_BANDED_PIXELS = 4_000_000


def _in_bands(
    image: Image.Image, sigma: float, change: Callable[[Image.Image], Image.Image]
) -> Image.Image:
    """A Gaussian-based filter of ``sigma`` applied band by band: the same pixels, without the
    full-size transposed copy Pillow's blur holds (a third frame in memory).

    Each band of rows gets more rows of context above and below than Pillow's three box passes
    reach, so the result is identical (tested); it costs about 5% more time at sigma 2, so
    images under 4 MP, whose copies matter little, are filtered whole.
    """
    margin = int(3 * (math.sqrt(4 * sigma**2 + 1) / 2 + 1)) + 1
    rows = max(512, 16 * margin)
    if image.width * image.height < _BANDED_PIXELS or image.height <= rows + 2 * margin:
        return change(image)
    result = Image.new(image.mode, image.size)
    for top in range(0, image.height, rows):
        bottom = min(top + rows, image.height)
        above, below = max(0, top - margin), min(image.height, bottom + margin)
        band = change(image.crop((0, above, image.width, below)))
        result.paste(band.crop((0, top - above, image.width, bottom - above)), (0, top))
    return result


def _mapped(image: Image.Image, value: Callable[[int], float]) -> Image.Image:
    """Every band's values passed through ``value``: one pass, one new image."""
    table = [min(255, max(0, round(value(v)))) for v in range(256)]
    return image.point(table * len(image.getbands()))


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


@operation("brightness", number("factor", 0, 10), summary="brightness × F (1 = unchanged)")
def brightness(image: Image.Image, state: RenderState, factor: float):
    return _colour_only(image, lambda im: _mapped(im, lambda v: v * factor))


@operation("contrast", number("factor", 0, 10), summary="contrast × F (1 = unchanged)")
def contrast(image: Image.Image, state: RenderState, factor: float):
    def stretch(im: Image.Image) -> Image.Image:
        counts = (im if im.mode == "L" else im.convert("L")).histogram()
        mean = round(sum(v * n for v, n in enumerate(counts)) / sum(counts))  # the mean grey
        return _mapped(im, lambda v: mean + (v - mean) * factor)

    return _colour_only(image, stretch)


_LUMA = (0.299, 0.587, 0.114)


@operation(
    "saturation",
    number("factor", 0, 10),
    summary="colour saturation × F (1 = unchanged, 0 = grey)",
)
def saturation(image: Image.Image, state: RenderState, factor: float):
    # Each colour moved from its grey (ITU-R 601 luma, as Pillow's "L") by the factor: a single
    # colour matrix, so a single pass and no full-size grey copy to blend with.
    grey = [(1 - factor) * weight for weight in _LUMA]
    matrix = [
        value
        for band in range(3)
        for value in (*(g + (factor if i == band else 0) for i, g in enumerate(grey)), 0)
    ]
    return _colour_only(image, lambda im: im if im.mode == "L" else im.convert("RGB", matrix))


@operation("pixelate", integer("size", 1, 1024), summary="blocks of N×N pixels")
def pixelate(image: Image.Image, state: RenderState, size: int):
    if size == 1:
        return image
    small = image.resize(
        (max(1, round(image.width / size)), max(1, round(image.height / size))),
        Image.Resampling.BOX,
    )
    return small.resize(image.size, Image.Resampling.NEAREST)


@operation("posterize", integer("bits", 1, 8), summary="keep BITS bits per colour channel")
def posterize(image: Image.Image, state: RenderState, bits: int):
    return _colour_only(image, lambda im: ImageOps.posterize(im, bits))


@operation("tint", colour("colour"), summary="multiply by a colour, like a coloured filter")
def tint(image: Image.Image, state: RenderState, colour: Colour):
    # Multiplying by a constant colour is a table per band.
    table = [v * c // 255 for c in colour[:3] for v in range(256)]
    return _colour_only(image, lambda im: _rgb(im).point(table))


# --- masks, overlays, background --------------------------------------------------------------

# Masks are drawn larger and reduced, for smooth edges: 4x while that canvas stays small, else
# 2x, where the canvas holds as many bytes as the (RGB) image itself.
_SUPERSAMPLE = 4
_SUPERSAMPLE_CANVAS = 16_000_000


def _shape_mask(size: tuple[int, int], shape: str, radius: int) -> Image.Image:
    w, h = size
    s = _SUPERSAMPLE if w * h * _SUPERSAMPLE**2 <= _SUPERSAMPLE_CANVAS else 2
    big = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(big)
    if shape == "circle":
        d = min(w, h) * s
        x, y = (big.width - d) // 2, (big.height - d) // 2
        draw.ellipse((x, y, x + d - 1, y + d - 1), fill=255)
    elif shape == "ellipse":
        draw.ellipse((0, 0, big.width - 1, big.height - 1), fill=255)
    else:  # rounded
        r = min(radius, min(w, h) // 2) * s
        draw.rounded_rectangle((0, 0, big.width - 1, big.height - 1), radius=r, fill=255)
    return big.resize(size, Image.Resampling.BOX)


@operation(
    "mask",
    Param(
        "shape",
        "shape",
        choices=("circle", "ellipse", "rounded"),
        doc="circle, ellipse, rounded, or the id of an image whose luminance is the mask",
    ),
    integer("radius", 0, MAX_SIDE, **optional(0)),
    summary="make pixels outside a shape (or another image's dark areas) transparent",
)
def mask(image: Image.Image, state: RenderState, shape: str, radius: int):
    if shape in ("circle", "ellipse", "rounded"):
        alpha = _shape_mask(image.size, shape, radius)
    else:
        alpha = state.images[shape].convert("L").resize(image.size, Image.Resampling.LANCZOS)
    result = image.convert(_with_alpha(image.mode))
    result.putalpha(ImageChops.multiply(result.getchannel("A"), alpha))
    return result


@operation(
    "watermark",
    image_id("image"),
    choice("gravity", GRAVITIES, **optional("southeast")),
    number("opacity", 0, 1, **optional(0.5)),
    number("scale", 0, 1, low_open=True, **optional(0.25)),
    summary="overlay another stored image, SCALE of the width, at GRAVITY, with OPACITY",
)
def watermark(
    im: Image.Image, state: RenderState, image: str, gravity: str, opacity: float, scale: float
):
    mark = state.images[image].convert("RGBA")
    width = max(1, round(im.width * scale))
    height = max(1, round(mark.height * width / mark.width))
    _check_output(width, height, state.limits)
    mark = mark.resize((width, height), Image.Resampling.LANCZOS)
    mark.putalpha(mark.getchannel("A").point(lambda a: round(a * opacity)))
    base = im.convert("RGBA" if im.mode in ("RGBA", "LA") else "RGB")
    margin = round(min(im.size) * 0.02)
    base.paste(mark, _place(base.size, mark.size, gravity, margin), mark)
    return base


@operation("background", colour("colour"), summary="flatten transparency onto a colour")
def background(image: Image.Image, state: RenderState, colour: Colour):
    # The last colour given is also what the encoder flattens onto (see plan.py).
    if image.mode not in ("RGBA", "LA"):
        return image
    base = Image.new("RGBA", image.size, (*colour[:3], 255))
    return Image.alpha_composite(base, image.convert("RGBA")).convert("RGB")


@operation(
    "quality",
    integer("quality", 1, 100),
    summary="compression level for lossy formats (JPEG 85, WebP 80, AVIF 60 by default)",
    output_only=True,
)
def quality(image: Image.Image, state: RenderState, quality: int):
    return image  # an output option: the plan hands it to the encoder


@operation(
    "maxbytes",
    integer("bytes", 100, 1_000_000_000),
    summary="the best quality whose output is at most N bytes (422 if impossible)",
    output_only=True,
)
def maxbytes(image: Image.Image, state: RenderState, bytes: int):
    return image  # an output option: the plan hands it to the encoder


def _with_alpha(mode: str) -> str:
    return "LA" if mode in ("L", "LA") else "RGBA"


def _fill(fill: Colour, image: Image.Image) -> Any:
    """The colour as a pixel value in the image's mode (grey modes take its luma)."""
    return Image.new("RGBA", (1, 1), fill).convert(image.mode).getpixel((0, 0))
