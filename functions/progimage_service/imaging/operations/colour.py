"""Colour: grayscale, sepia, invert, equalize, autocontrast, brightness, contrast, saturation,
posterize, tint. Each changes the colour bands and keeps any alpha as it was."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageOps

from ..grammar import Colour
from .base import RenderState, colour_only, implements, rgb


@implements("grayscale")
def grayscale(image: Image.Image, state: RenderState):
    return image.convert("LA" if image.mode in ("RGBA", "LA") else "L")


_SEPIA = (0.393, 0.769, 0.189, 0, 0.349, 0.686, 0.168, 0, 0.272, 0.534, 0.131, 0)


@implements("sepia")
def sepia(image: Image.Image, state: RenderState):
    return colour_only(image, lambda im: rgb(im).convert("RGB", _SEPIA))


@implements("invert")
def invert(image: Image.Image, state: RenderState):
    return colour_only(image, ImageOps.invert)


@implements("equalize")
def equalize(image: Image.Image, state: RenderState):
    return colour_only(image, ImageOps.equalize)


@implements("autocontrast")
def autocontrast(image: Image.Image, state: RenderState):
    return colour_only(image, ImageOps.autocontrast)


def _mapped(image: Image.Image, value: Callable[[int], float]) -> Image.Image:
    """Every band's values passed through ``value``: one pass, one new image."""
    table = [min(255, max(0, round(value(v)))) for v in range(256)]
    return image.point(table * len(image.getbands()))


@implements("brightness")
def brightness(image: Image.Image, state: RenderState, factor: float):
    return colour_only(image, lambda im: _mapped(im, lambda v: v * factor))


@implements("contrast")
def contrast(image: Image.Image, state: RenderState, factor: float):
    def stretch(im: Image.Image) -> Image.Image:
        counts = (im if im.mode == "L" else im.convert("L")).histogram()
        mean = round(sum(v * n for v, n in enumerate(counts)) / sum(counts))  # the mean grey
        return _mapped(im, lambda v: mean + (v - mean) * factor)

    return colour_only(image, stretch)


_LUMA = (0.299, 0.587, 0.114)


@implements("saturation")
def saturation(image: Image.Image, state: RenderState, factor: float):
    # Each colour moved from its grey (ITU-R 601 luma, as Pillow's "L") by the factor: a single
    # colour matrix, so a single pass and no full-size grey copy to blend with.
    grey = [(1 - factor) * weight for weight in _LUMA]
    matrix = [
        value
        for band in range(3)
        for value in (*(g + (factor if i == band else 0) for i, g in enumerate(grey)), 0)
    ]
    return colour_only(image, lambda im: im if im.mode == "L" else im.convert("RGB", matrix))


@implements("posterize")
def posterize(image: Image.Image, state: RenderState, bits: int):
    return colour_only(image, lambda im: ImageOps.posterize(im, bits))


@implements("tint")
def tint(image: Image.Image, state: RenderState, colour: Colour):
    # Multiplying by a constant colour is a table per band.
    table = [v * c // 255 for c in colour[:3] for v in range(256)]
    return colour_only(image, lambda im: rgb(im).point(table))
