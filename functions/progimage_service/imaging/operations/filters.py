"""Filters: blur, sharpen, pixelate."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from PIL import Image, ImageFilter

from ..decode import DRAFT_GAP, Box
from .base import RenderState, colour_only, implements


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


@implements("blur", draft=_blur_draft, full_size=True)
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


@implements("sharpen")
def sharpen(image: Image.Image, state: RenderState, amount: float, radius: float):
    unsharp = ImageFilter.UnsharpMask(radius=radius, percent=round(amount * 100), threshold=0)
    return colour_only(image, lambda im: _in_bands(im, radius, lambda band: band.filter(unsharp)))


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


@implements("pixelate")
def pixelate(image: Image.Image, state: RenderState, size: int):
    if size == 1:
        return image
    small = image.resize(
        (max(1, round(image.width / size)), max(1, round(image.height / size))),
        Image.Resampling.BOX,
    )
    return small.resize(image.size, Image.Resampling.NEAREST)
