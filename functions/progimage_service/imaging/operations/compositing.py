"""Compositing: mask, watermark, background."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PIL import Image, ImageChops, ImageDraw

from ..grammar import Colour
from ..registry import SHAPES
from .base import RenderState, check_output, implements, place, with_alpha

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


@implements("mask")
def mask(image: Image.Image, state: RenderState, shape: str, radius: int):
    if shape in SHAPES:
        alpha = _shape_mask(image.size, shape, radius)
    else:
        alpha = state.images[shape].convert("L").resize(image.size, Image.Resampling.LANCZOS)
    result = image.convert(with_alpha(image.mode))
    result.putalpha(ImageChops.multiply(result.getchannel("A"), alpha))
    return result


def mark_size(
    args: Mapping[str, Any], width: int, height: int, mark: tuple[int, int]
) -> tuple[int, int]:
    """The watermark's size on a frame ``width`` wide: ``scale`` of it, its aspect kept."""
    fitted = max(1, round(width * args["scale"]))
    return fitted, max(1, round(mark[1] * fitted / mark[0]))


@implements("watermark", fitted=mark_size)
def watermark(
    im: Image.Image, state: RenderState, image: str, gravity: str, opacity: float, scale: float
):
    mark = state.images[image].convert("RGBA")
    size = mark_size({"scale": scale}, *im.size, mark.size)
    check_output(*size, state.limits)
    mark = mark.resize(size, Image.Resampling.LANCZOS)
    mark.putalpha(mark.getchannel("A").point(lambda a: round(a * opacity)))
    base = im.convert("RGBA" if im.mode in ("RGBA", "LA") else "RGB")
    margin = round(min(im.size) * 0.02)
    base.paste(mark, place(base.size, mark.size, gravity, margin), mark)
    return base


@implements("background")
def background(image: Image.Image, state: RenderState, colour: Colour):
    # The last colour given is also what the encoder flattens onto (see plan.py).
    if image.mode not in ("RGBA", "LA"):
        return image
    base = Image.new("RGBA", image.size, (*colour[:3], 255))
    return Image.alpha_composite(base, image.convert("RGBA")).convert("RGB")
