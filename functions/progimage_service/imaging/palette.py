"""The colours of a picture: its average, and its main colours with the share of the picture each
covers. Both read a small RGBA reduction (see summary.py); a pixel counts as much as it is
opaque, so the colours hidden under transparent pixels count for nothing.
"""

from __future__ import annotations

import math

from PIL import Image

from .placeholders import LINEAR, linear_to_srgb

PALETTE_SIZE = 5
# Entries closer than this (Euclidean, 8-bit sRGB) are one colour: median cut splits a nearly
# flat picture into shades that no one would tell apart. The smaller joins the larger.
MERGE_DISTANCE = 12


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def average_colour(image: Image.Image) -> tuple[int, int, int]:
    """The mean colour of an RGBA image in linear light (what the picture looks like from afar,
    and BlurHash's DC term), weighted by alpha; black if nothing is visible."""
    red, green, blue, alpha = (band.tobytes() for band in image.split())
    total = r = g = b = 0.0
    for pr, pg, pb, pa in zip(red, green, blue, alpha, strict=True):
        r += LINEAR[pr] * pa
        g += LINEAR[pg] * pa
        b += LINEAR[pb] * pa
        total += pa
    if not total:
        return (0, 0, 0)
    return (linear_to_srgb(r / total), linear_to_srgb(g / total), linear_to_srgb(b / total))


def palette(image: Image.Image) -> tuple[tuple[tuple[int, int, int], float], ...]:
    """Up to 5 colours of an RGBA image (Pillow's median cut: 3 ms at 64 px, k-means refinement
    would triple it) and the share
    of the visible picture each stands for, largest first; the shares add up to 1. A picture
    with fewer distinct colours gets as many entries; a fully transparent one, none."""
    alpha = image.getchannel("A")
    if alpha.getextrema()[0] == 255:  # opaque: every pixel counts once, counted in C
        quantised = image.convert("RGB").quantize(PALETTE_SIZE, Image.Quantize.MEDIANCUT)
        weights = {index: float(count) for count, index in quantised.getcolors(PALETTE_SIZE)}
    else:
        visible = [(p[:3], p[3]) for p in _pixels(image) if p[3]]
        if not visible:
            return ()
        row = Image.new("RGB", (len(visible), 1))
        row.frombytes(b"".join(bytes(rgb) for rgb, _ in visible))
        quantised = row.quantize(PALETTE_SIZE, Image.Quantize.MEDIANCUT)
        weights = {}
        for index, (_, a) in zip(quantised.tobytes(), visible, strict=True):
            weights[index] = weights.get(index, 0.0) + a
    colours = quantised.getpalette() or []
    ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
    merged: list[tuple[tuple[int, int, int], float]] = []
    for i, weight in ranked:
        rgb = (colours[3 * i], colours[3 * i + 1], colours[3 * i + 2])
        near = next(
            (k for k, (kept, _) in enumerate(merged) if math.dist(kept, rgb) < MERGE_DISTANCE), None
        )
        if near is None:
            merged.append((rgb, weight))
        else:
            merged[near] = (merged[near][0], merged[near][1] + weight)
    total = sum(weights.values())
    merged.sort(key=lambda entry: -entry[1])  # stable: equal shares keep median cut's order
    return tuple((rgb, weight / total) for rgb, weight in merged)


def _pixels(image: Image.Image) -> list[bytes]:
    data = image.tobytes()
    return [data[i : i + 4] for i in range(0, len(data), 4)]
