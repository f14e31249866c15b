"""Perceptual hashes compared: the Hamming distance, and the bands near-duplicates are found by.

The 64 bits are split into BANDS bands (eight of 7 bits, one of 8). Two hashes within
MAX_DISTANCE = BANDS - 1 bits of each other differ in at most that many bands, so at least one
band is equal (pigeonhole): looking up the image's value of each band finds every candidate,
whose full hash then says its distance. Pure: no Pillow (imaging/phash.py computes the hash).
"""

from __future__ import annotations

BANDS = 9
MAX_DISTANCE = BANDS - 1
_WIDTHS = (7,) * 8 + (8,)


def distance(a: str, b: str) -> int:
    """The Hamming distance of two hashes (16 hex digits each)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def bands(phash: str) -> list[str]:
    """The hash's value in each band, as hex (the band's index is the position)."""
    bits, values, shift = int(phash, 16), [], 64
    for width in _WIDTHS:
        shift -= width
        values.append(f"{bits >> shift & ((1 << width) - 1):02x}")
    return values
