"""summarise: the average colour and palette on pictures of known colours and areas, the
properties every summary has, and frames of every mode."""

from __future__ import annotations

import base64
import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from progimage_service.imaging.summary import Summary, summarise
from tests.images import TESTDATA

HEX = re.compile(r"#[0-9a-f]{6}")
STRIPES = [((200, 30, 40), 0.5), ((20, 120, 200), 0.3), ((240, 220, 60), 0.2)]


def _stripes(size: tuple[int, int], stripes, vertical: bool = False) -> Image.Image:
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    length = size[1] if vertical else size[0]
    start = 0
    for colour, share in stripes:
        end = start + round(length * share)
        box = [0, start, size[0], end - 1] if vertical else [start, 0, end - 1, size[1]]
        draw.rectangle(box, fill=colour)
        start = end
    return image


def _rgb(text: str) -> tuple[int, int, int]:
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def _linear_mean(stripes) -> tuple[int, ...]:
    """The area-weighted mean of the stripes in linear light, straight from the sRGB formulas."""

    def linear(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    def srgb(c: float) -> int:
        return round(255 * (12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055))

    return tuple(
        srgb(sum(linear(colour[i]) * share for colour, share in stripes)) for i in range(3)
    )


@pytest.mark.parametrize("size", [(1000, 700), (700, 1000), (1024, 683), (37, 23)])
@pytest.mark.parametrize("vertical", [False, True])
def test_palette_recovers_known_colours_and_areas(size, vertical):
    """Each colour within a small distance, its share within 2.5 % of its drawn area: a boundary
    falling inside a pixel of the 64 px reduction makes a row of blended pixels (1/43 of a 3:2
    picture), a colour of its own that both neighbours' shares pay for."""
    image = _stripes(size, STRIPES, vertical)
    pixels = size[0] * size[1]
    drawn = {colour: count / pixels for count, colour in image.getcolors()}
    summary = summarise(image)
    found = [(_rgb(colour), share) for colour, share in summary.palette]
    for colour, _ in STRIPES:
        match = min(found, key=lambda entry: math.dist(entry[0], colour))
        assert math.dist(match[0], colour) <= 6, (colour, found)
        assert abs(match[1] - drawn[colour]) <= 0.025, (colour, found)
    # the largest first: the stripes' own order
    order = [min(range(len(found)), key=lambda i: math.dist(found[i][0], c)) for c, _ in STRIPES]
    assert order == sorted(order)


@pytest.mark.parametrize("size", [(1000, 700), (37, 23)])
def test_average_colour_is_the_mean_in_linear_light(size):
    image = _stripes(size, STRIPES)
    pixels = size[0] * size[1]
    drawn = [(colour, count / pixels) for count, colour in image.getcolors()]
    average = _rgb(summarise(image).average_colour)
    expected = _linear_mean(drawn)
    assert all(abs(a - b) <= 2 for a, b in zip(average, expected, strict=True)), (average, expected)


def test_a_flat_picture_is_one_colour():
    summary = summarise(Image.new("RGB", (300, 200), (12, 200, 99)))
    assert summary.average_colour == "#0cc863"
    assert summary.palette == (("#0cc863", 1.0),)
    assert summary.blurhash[2:6] == _base83(0x0CC863)  # BlurHash's DC is the colour itself


def _base83(value: int) -> str:
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
    return "".join(chars[value // 83 ** (3 - i) % 83] for i in range(4))


def test_transparent_pixels_count_for_nothing():
    """The right half is transparent and hides green: only the red half is the picture's."""
    image = Image.new("RGBA", (200, 100), (0, 255, 0, 0))
    image.paste((220, 20, 30, 255), (0, 0, 100, 100))
    summary = summarise(image)
    assert summary.average_colour == "#dc141e"
    assert summary.palette == (("#dc141e", 1.0),)
    assert summary.blurhash[2:6] == _base83(0xDC141E)  # composited over the average: all red
    assert base64.b64decode(summary.thumbhash)[2] >> 7 == 1  # ThumbHash keeps the alpha


def test_nothing_visible():
    summary = summarise(Image.new("RGBA", (50, 40), (255, 255, 255, 0)))
    assert summary.average_colour == "#000000"
    assert summary.palette == ()


def test_blurhash_follows_the_pictures_aspect_ratio():
    for size, flag in (
        ((1600, 1200), 3 + 2 * 9),
        ((900, 1600), 2 + 4 * 9),
        ((3000, 900), 8 + 2 * 9),
    ):
        text = summarise(Image.new("RGB", size, (90, 90, 90))).blurhash
        chars = (
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
        )
        assert chars.index(text[0]) == flag, size


def _photo() -> Image.Image:
    with Image.open(TESTDATA / "formats" / "hopper.png") as image:
        return image.convert("RGB")


@pytest.mark.parametrize("mode", ["L", "LA", "P", "PA", "RGBA", "I;16", "I", "F", "CMYK", "1"])
def test_any_mode_gives_the_colours_of_the_picture(mode):
    """Each mode of the same picture: the colours of its RGB (or grey) rendering."""
    photo = _photo()
    if mode in ("I;16", "I", "F"):
        grey = photo.convert("L")
        scale = 257 if mode == "I;16" else 1
        frame = grey.convert("I").point(lambda v: v * scale)
        frame = frame.convert(mode) if mode != "I" else frame
        expected = summarise(grey)
    elif mode == "1":
        frame = photo.convert("1")
        expected = summarise(frame.convert("L"))
    else:
        frame = photo.convert(mode)
        expected = summarise(photo.convert("L") if mode in ("L", "LA") else photo)
    summary = summarise(frame)
    distance = math.dist(_rgb(summary.average_colour), _rgb(expected.average_colour))
    assert distance <= 4, (summary.average_colour, expected.average_colour)
    assert summary.blurhash[0] == expected.blurhash[0]


def test_an_icc_profile_is_applied():
    with Image.open(TESTDATA / "formats" / "hopper.iccprofile.tif") as image:
        image.load()
        tagged = summarise(image)
    plain = summarise(_photo())
    assert math.dist(_rgb(tagged.average_colour), _rgb(plain.average_colour)) <= 4


@st.composite
def _frames(draw: st.DrawFn) -> Image.Image:
    mode = draw(st.sampled_from(["RGB", "RGBA", "L", "LA", "P"]))
    width, height = draw(st.integers(1, 120)), draw(st.integers(1, 120))
    base = Image.new("RGB", (width, height), draw(st.tuples(*[st.integers(0, 255)] * 3)))
    for _ in range(draw(st.integers(0, 6))):
        x0, y0 = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
        x1, y1 = draw(st.integers(x0, width - 1)), draw(st.integers(y0, height - 1))
        fill = draw(st.tuples(*[st.integers(0, 255)] * 3))
        ImageDraw.Draw(base).rectangle([x0, y0, x1, y1], fill=fill)
    if mode in ("RGBA", "LA"):
        alpha = Image.new("L", base.size, draw(st.integers(0, 255)))
        alpha.paste(draw(st.integers(0, 255)), (0, 0, max(1, width // 2), height))
        base = base.convert("RGBA")
        base.putalpha(alpha)
    return base.convert(mode) if mode != "P" else base.convert("RGB").quantize(16)


@settings(max_examples=60, deadline=None)
@given(frame=_frames())
def test_every_summary_is_well_formed(frame):
    before = (frame.mode, frame.size, frame.tobytes(), dict(frame.info))
    summary = summarise(frame)
    assert (frame.mode, frame.size, frame.tobytes(), dict(frame.info)) == before, "frame changed"
    assert summarise(frame) == summary  # deterministic
    assert HEX.fullmatch(summary.average_colour)
    assert len(summary.palette) <= 5
    shares = [share for _, share in summary.palette]
    assert shares == sorted(shares, reverse=True)
    assert all(share > 0 for share in shares)
    assert all(HEX.fullmatch(colour) for colour, _ in summary.palette)
    if shares:
        assert math.isclose(sum(shares), 1.0)
    assert len(set(colour for colour, _ in summary.palette)) == len(summary.palette)
    thumb = base64.b64decode(summary.thumbhash, validate=True)
    assert len(thumb) >= 5
    record = json.loads(json.dumps(summary.to_json()))
    assert set(record) == {"blurhash", "thumbhash", "average_colour", "palette"}
    assert [entry["colour"] for entry in record["palette"]] == [c for c, _ in summary.palette]
    assert abs(sum(entry["share"] for entry in record["palette"]) - (1 if shares else 0)) <= 0.005


def test_summary_is_frozen():
    summary = Summary("00", "AA==", "#000000", ())
    with pytest.raises(AttributeError):
        summary.blurhash = "x"  # type: ignore[misc]
