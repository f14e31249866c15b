"""A 64-bit perceptual hash (pHash, as the imagehash library computes it), in pure Python.

The picture in greyscale is reduced to 32x32 (Lanczos), transformed by a 2-D DCT (type II), and
each of the 64 lowest frequencies (the top-left 8x8, the DC term included) gives one bit: set
if it is above their median. Bits are read row by row, the first the most significant, and
written as 16 hex digits. Resizing, recompressing, a slight crop or a change of brightness
moves few bits; different pictures differ in about half (see similarity.py for the distance).

Only 8 of the 32 frequencies are needed along each axis, so the separable transform is two
small matrix products with a precomputed cosine table: 32x32x8 + 8x32x8 multiplications.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

from PIL import Image

SIDE = 32
BITS_SIDE = 8
# _COSINES[k][n]: cos(pi k (2n + 1) / 2N), the DCT-II basis (its constant factor changes no
# comparison with the median).
_COSINES = tuple(
    tuple(math.cos(math.pi * k * (2 * n + 1) / (2 * SIDE)) for n in range(SIDE))
    for k in range(BITS_SIDE)
)


def phash(image: Image.Image) -> str:
    """The image's perceptual hash: 16 hex digits."""
    grey = image.convert("L").resize((SIDE, SIDE), Image.Resampling.LANCZOS)
    pixels = grey.tobytes()
    rows = [pixels[y * SIDE : (y + 1) * SIDE] for y in range(SIDE)]
    # Along each row, then down each of the 8 resulting columns.
    across = [[_dot(basis, row) for basis in _COSINES] for row in rows]
    low = [
        [_dot(basis, [across[y][u] for y in range(SIDE)]) for u in range(BITS_SIDE)]
        for basis in _COSINES
    ]
    flat = [value for row in low for value in row]
    ordered = sorted(flat)
    median = (ordered[31] + ordered[32]) / 2
    bits = 0
    for value in flat:
        bits = bits << 1 | (value > median)
    return f"{bits:016x}"


def _dot(a: Sequence[float], b: Sequence[float] | bytes) -> float:
    return sum(map(operator.mul, a, b))
