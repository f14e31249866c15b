"""The perceptual hash against a textbook computation, under controlled edits of real photos, and
the bands near-duplicates are found by."""

from __future__ import annotations

import io
import itertools
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageEnhance, ImageOps

from progimage_service.ids import new_id
from progimage_service.imaging.phash import phash
from progimage_service.similarity import BANDS, MAX_DISTANCE, bands, distance, nearest_page
from tests.images import sample

PHOTOS = ("exif-orientation/Landscape_1.jpg", "formats/flower.jpg", "formats/flower2.jpg")


def photo(name: str) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(io.BytesIO(sample(name)))).convert("RGB")


def textbook(image: Image.Image) -> str:
    """pHash written out from its definition: each of the 64 low DCT-II coefficients as one
    double sum over the 32x32 grey picture, bits above the median, row by row."""
    grey = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    pixels = [[grey.getpixel((x, y)) for x in range(32)] for y in range(32)]

    def basis(k: int, n: int) -> float:
        return math.cos(math.pi * (2 * n + 1) * k / 64)

    coefficients = [
        sum(pixels[y][x] * basis(u, y) * basis(v, x) for y in range(32) for x in range(32))
        for u in range(8)
        for v in range(8)
    ]
    median = statistics.median(coefficients)
    bits = "".join("1" if c > median else "0" for c in coefficients)
    return f"{int(bits, 2):016x}"


def recompressed(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def edits(image: Image.Image) -> dict[str, Image.Image]:
    """The controlled edits: half size, JPEG at quality 60, 3 % cropped (1.5 % off each side),
    10 % brighter."""
    width, height = image.size
    dx, dy = round(width * 0.015), round(height * 0.015)
    return {
        "half": image.resize((width // 2, height // 2), Image.Resampling.LANCZOS),
        "q60": recompressed(image, 60),
        "crop": image.crop((dx, dy, width - dx, height - dy)),
        "brighter": ImageEnhance.Brightness(image).enhance(1.1),
    }


# Measured on PHOTOS: half 0, q60 0, crop 0-4, brighter 0 bits; asserted with margin.
BOUNDS = {"half": 2, "q60": 2, "crop": 6, "brighter": 3}


@pytest.mark.parametrize("name", PHOTOS)
def test_the_hash_is_the_textbook_one(name: str) -> None:
    image = photo(name)
    assert phash(image) == textbook(image)
    for edited in edits(image).values():
        assert phash(edited) == textbook(edited)


@pytest.mark.parametrize("name", PHOTOS)
def test_controlled_edits_stay_near(name: str) -> None:
    image = photo(name)
    original = phash(image)
    found = {kind: distance(original, phash(edited)) for kind, edited in edits(image).items()}
    assert all(found[kind] <= bound for kind, bound in BOUNDS.items()), found
    assert max(found.values()) <= MAX_DISTANCE


def test_different_photos_are_far_apart() -> None:
    """Measured: 26 to 36 bits between these photos."""
    hashes = {name: phash(photo(name)) for name in (*PHOTOS, "formats/hopper.jpg")}
    for a, b in itertools.combinations(hashes, 2):
        assert distance(hashes[a], hashes[b]) > 16, (a, b)


def test_the_hash_is_16_hex_digits_whatever_the_mode() -> None:
    for mode in ("L", "RGBA", "P", "I;16", "1"):
        digest = phash(
            photo(PHOTOS[1]).convert(mode) if mode != "I;16" else Image.new(mode, (9, 7))
        )
        assert len(digest) == 16 and int(digest, 16) >= 0


hashes = st.integers(0, 2**64 - 1)


@given(hashes, st.sets(st.integers(0, 63), max_size=MAX_DISTANCE))
def test_hashes_within_reach_share_a_band(value: int, flipped: set[int]) -> None:
    """The pigeonhole the index relies on: at most 8 bits apart, some band is equal."""
    a = f"{value:016x}"
    b = f"{value ^ sum(1 << bit for bit in flipped):016x}"
    assert distance(a, b) == len(flipped)
    assert len(bands(a)) == BANDS
    assert any(x == y for x, y in zip(bands(a), bands(b), strict=True))


@given(hashes)
def test_bands_hold_every_bit(value: int) -> None:
    parts = [int(v, 16) for v in bands(f"{value:016x}")]
    widths = (7,) * 8 + (8,)
    rebuilt = 0
    for part, width in zip(parts, widths, strict=True):
        assert part < 1 << width
        rebuilt = rebuilt << width | part
    assert rebuilt == value


def test_nine_bits_apart_may_share_no_band() -> None:
    """The bound is tight: one bit flipped in each band leaves none equal."""
    a = "0" * 16
    starts = [0, 7, 14, 21, 28, 35, 42, 49, 56]
    b = f"{sum(1 << (63 - s) for s in starts):016x}"
    assert distance(a, b) == BANDS
    assert all(x != y for x, y in zip(bands(a), bands(b), strict=True))


@given(
    st.lists(st.tuples(st.integers(0, 10**6), hashes), max_size=40),
    hashes,
    st.integers(0, MAX_DISTANCE),
    st.integers(1, 12),
)
def test_pages_of_near_images_add_up_to_the_whole_listing(
    made: list[tuple[int, int]], value: int, within: int, limit: int
) -> None:
    """Paged by any size, every image within reach comes once, nearest and then newest first."""
    phash = f"{value:016x}"
    # Hashes a few bits from the image's, so that many are within reach.
    found = {new_id(ms): f"{value ^ (other & 0x0101_0101_0101_0101):016x}" for ms, other in made}
    expected = sorted(
        ((distance(phash, h), i) for i, h in found.items() if distance(phash, h) <= within),
        key=lambda pair: (pair[0], [-ord(c) for c in pair[1]]),
    )
    listed, after = [], None
    while True:
        page, after = nearest_page(found.items(), phash, within, after, limit)
        assert len(page) <= limit
        listed += page
        if after is None:
            break
        assert after == page[-1]
    assert listed == expected
