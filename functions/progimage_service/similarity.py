"""Perceptual hashes compared: the Hamming distance, and the bands near-duplicates are found by.

The 64 bits are split into BANDS bands (eight of 7 bits, one of 8). Two hashes within
MAX_DISTANCE = BANDS - 1 bits of each other differ in at most that many bands, so at least one
band is equal (pigeonhole): looking up the image's value of each band finds every candidate,
whose full hash then says its distance. Pure: no Pillow (imaging/phash.py computes the hash).
"""

from __future__ import annotations

from collections.abc import Iterable

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


# Where a listing of near images resumes: the (distance, id) of the last one it answered.
Position = tuple[int, str]


def nearest_page(
    found: Iterable[tuple[str, str]], phash: str, within: int, after: Position | None, limit: int
) -> tuple[list[Position], Position | None]:
    """Of the (id, hash) pairs found, those within ``within`` bits of ``phash`` as (distance, id),
    nearest first and then newest (ids begin with their creation time): the ``limit`` after
    ``after``, and the position the next page starts after (None: there is none)."""
    near = sorted(
        ((distance(phash, value), image_id) for image_id, value in found),
        key=lambda pair: pair[1],
        reverse=True,
    )
    near.sort(key=lambda pair: pair[0])  # stable: newest first within a distance
    near = [
        pair
        for pair in near
        if pair[0] <= within
        and (after is None or pair[0] > after[0] or (pair[0] == after[0] and pair[1] < after[1]))
    ]
    return near[:limit], (near[limit - 1] if len(near) > limit else None)
