"""Errors speak the service's terms: its own limits, no Pillow internals, input echoed short."""

from __future__ import annotations

import struct
import zlib

import pytest

from progimage_service.errors import InvalidImage, InvalidOperation, TooLarge, UnsupportedMedia
from progimage_service.imaging.decode import inspect, open_image
from progimage_service.imaging.formats import for_extension
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import Pipeline, parse_ops, parse_path
from progimage_service.imaging.render import render
from tests.hostile import bombs
from tests.hostile.structure import png_join

LIMITS = Limits()
# 192 MP: over Pillow's own guard (twice 89,478,485 pixels), each side within ours.
WIDTH, HEIGHT = 16000, 12000
OVER_PILLOWS_GUARD = {
    "png": bombs.png(WIDTH, HEIGHT),
    "jpeg": bombs.jpeg(WIDTH, HEIGHT),
    "tiff": bombs.tiff(WIDTH, HEIGHT),
    "bmp": bombs.bmp(WIDTH, HEIGHT),
    "avif": bombs.avif(WIDTH, HEIGHT),
}
PILLOWS_WORDS = ("decompression bomb", "DOS attack", "exceeds limit")


@pytest.mark.parametrize("fmt", sorted(OVER_PILLOWS_GUARD))
@pytest.mark.parametrize("path", ["inspect", "render"])
def test_an_image_over_the_pixel_limit_is_refused_in_the_services_words(
    fmt: str, path: str
) -> None:
    data = OVER_PILLOWS_GUARD[fmt]
    with pytest.raises(TooLarge) as raised:
        if path == "inspect":
            inspect(data, LIMITS)
        else:
            render(data, Pipeline(), LIMITS)
    message = raised.value.message
    assert message == (
        f"image is {WIDTH}x{HEIGHT} = {WIDTH * HEIGHT} pixels; the limit is 100000000 per frame"
    )
    assert not any(words in message for words in PILLOWS_WORDS), message
    assert raised.value.param == "pixels"


@pytest.mark.parametrize("fmt", ["png", "jpeg", "tiff"])
def test_limits_configured_above_pillows_guard_are_the_ones_applied(fmt: str) -> None:
    limits = Limits(max_pixels=300_000_000, max_side=20_000)
    opened = open_image(OVER_PILLOWS_GUARD[fmt], limits)  # the header only: nothing decoded
    assert opened.image.size == (WIDTH, HEIGHT)


def test_a_header_pillow_cannot_read_is_described_without_its_object_repr() -> None:
    # Whole chunks (nothing is missing), but an IHDR whose checksum is wrong.
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    good = png_join([(b"IHDR", ihdr), (b"IDAT", zlib.compress(bytes(8 * 25))), (b"IEND", b"")])
    data = good[:29] + bytes(4) + good[33:]
    for refuse in (lambda: inspect(data, LIMITS), lambda: render(data, Pipeline(), LIMITS)):
        with pytest.raises(InvalidImage) as raised:
            refuse()
        message = raised.value.message
        assert (
            message
            == "the data is not a valid PNG image: it cannot be opened (corrupt, or cut short)"
        )
        assert "BytesIO" not in message and "0x" not in message


def test_an_unsupported_output_extension_is_415_unsupported_format() -> None:
    with pytest.raises(UnsupportedMedia) as raised:
        for_extension("svg")
    error = raised.value
    assert (error.status, error.code, error.param) == (415, "unsupported_format", "format")
    assert error.message.startswith("unsupported output format 'svg'; valid: avif, bmp, gif")
    assert for_extension("JPEG").name == "jpeg"


def test_an_echoed_extension_is_cut_to_64_characters() -> None:
    with pytest.raises(UnsupportedMedia) as raised:
        for_extension("x" * 10_000)
    message = raised.value.message
    echoed = message.removeprefix("unsupported output format ").partition(";")[0]
    assert len(echoed) == 64 and echoed.endswith("…"), echoed
    assert len(message) < 200


@pytest.mark.parametrize(
    "spec",
    [
        "x" * 10_000,  # an unknown operation
        "blur:" + "x" * 10_000,  # a number that is not one
        "pixelate:" + "9" * 4_000,  # an integer far out of bounds
        "resize:10:10:" + "x" * 10_000,  # not one of the choices
        "tint:" + "x" * 10_000,  # not a colour
        "mask:" + "x" * 10_000,  # neither a shape nor an image id
    ],
)
def test_an_echoed_pipeline_argument_is_cut_to_64_characters(spec: str) -> None:
    with pytest.raises(InvalidOperation) as raised:
        parse_path(spec)
    assert "…" in raised.value.message
    assert len(raised.value.message) < 400, raised.value.message


@pytest.mark.parametrize(
    "ops",
    [
        [["x"] * 5_000],  # an operation that is neither a string nor an object
        [{"op": "blur", "x" * 10_000: 1}],  # an unknown argument
    ],
)
def test_an_echoed_json_operation_is_cut_to_64_characters(ops: list[object]) -> None:
    with pytest.raises(InvalidOperation) as raised:
        parse_ops(ops)
    assert "…" in raised.value.message
    assert len(raised.value.message) < 400, raised.value.message
