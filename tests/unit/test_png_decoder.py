"""libspng's PNG decode (imaging/png.py): exactly Pillow's pixels where it decodes, Pillow's
decode everywhere else, and the render path unchanged by it."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from progimage_service.errors import InvalidImage
from progimage_service.imaging import decode as decode_module
from progimage_service.imaging import png
from progimage_service.imaging.decode import frames, open_image
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import parse_path
from progimage_service.imaging.render import render
from tests.images import PNG_CHANNELS, decode, encode, png_chunk, raw_png, sample

LIMITS = Limits()
# What libspng decodes to Pillow's pixels, by (colour type, bit depth); what the service has it
# decode (not interlaced). Every other kind is Pillow's.
EXACT = {(0, 8), (2, 8), (2, 16), (4, 8), (6, 8), (6, 16)}
ADOPTED = {(2, 8), (6, 8)}
BIT_DEPTHS = {0: [8, 16], 2: [8, 16], 3: [8], 4: [8, 16], 6: [8, 16]}

pytestmark = pytest.mark.skipif(not png.available(), reason="libspng (pyspng) is not installed")


@pytest.fixture
def pillow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decode path as it is without libspng."""
    monkeypatch.setattr(png, "_library", lambda: None)


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=["PNG"])


def assert_same_pixels(ours: Image.Image, pillow: Image.Image) -> None:
    assert (ours.mode, ours.size) == (pillow.mode, pillow.size)
    assert ours.tobytes() == pillow.tobytes()


@st.composite
def pngs(draw: st.DrawFn) -> tuple[bytes, int, int, bool]:
    """A PNG of any colour type and bit depth of 8 or more, interlaced or not, with random
    samples and the ancillary chunks that could change a decode (tRNS, gAMA, sBIT)."""
    colour_type = draw(st.sampled_from(sorted(BIT_DEPTHS)))
    bit_depth = draw(st.sampled_from(BIT_DEPTHS[colour_type]))
    size = draw(st.tuples(st.integers(1, 33), st.integers(1, 33)))
    count = size[0] * size[1] * PNG_CHANNELS[colour_type] * bit_depth // 8
    samples = draw(st.binary(min_size=count, max_size=count))
    chunks: list[tuple[bytes, bytes]] = []
    if colour_type == 3:
        colours = draw(st.integers(1, 256))
        samples = bytes(value % colours for value in samples)
        chunks.append((b"PLTE", draw(st.binary(min_size=3 * colours, max_size=3 * colours))))
        if draw(st.booleans()):
            chunks.append((b"tRNS", draw(st.binary(min_size=1, max_size=colours))))
    elif colour_type in (0, 2) and draw(st.booleans()):
        sample_bytes = PNG_CHANNELS[colour_type] * 2
        chunks.append((b"tRNS", draw(st.binary(min_size=sample_bytes, max_size=sample_bytes))))
    if draw(st.booleans()):
        chunks.append((b"gAMA", (45455).to_bytes(4, "big")))
    if draw(st.booleans()) and colour_type != 3:
        chunks.append((b"sBIT", bytes([max(1, bit_depth - 3)] * PNG_CHANNELS[colour_type])))
    interlace = draw(st.booleans())
    data = raw_png(samples, size, colour_type, bit_depth, interlace, tuple(chunks))
    return data, colour_type, bit_depth, interlace


@given(pngs())
def test_libspng_decodes_every_kind_it_decodes_exactly_to_pillows_pixels(
    case: tuple[bytes, int, int, bool],
) -> None:
    data, colour_type, bit_depth, _ = case
    ours = png.decode_png(data, opened(data), every_exact=True)
    if (colour_type, bit_depth) not in EXACT:
        assert ours is None  # a palette, a 16-bit grey: Pillow's modes (P, I;16, RGBA for LA16)
        return
    assert ours is not None
    assert_same_pixels(ours, decode(data))


@given(pngs())
def test_the_service_decodes_with_libspng_only_the_kinds_it_adopted(
    case: tuple[bytes, int, int, bool],
) -> None:
    data, colour_type, bit_depth, interlace = case
    ours = png.decode_png(data, opened(data))
    assert (ours is not None) == ((colour_type, bit_depth) in ADOPTED and not interlace)
    if ours is not None:
        assert_same_pixels(ours, decode(data))


@pytest.mark.parametrize(
    "name", ["formats/hopper.png", "formats/blend_transparency.png", "formats/hopper.gif"]
)
def test_the_shared_pngs_decode_as_with_pillow_and_others_are_left_to_it(name: str) -> None:
    data = sample(name)
    ours = png.decode_png(data, opened(data) if name.endswith(".png") else decode(data))
    if name == "formats/hopper.png":  # RGB, 8 bit
        assert ours is not None
        assert_same_pixels(ours, decode(data))
    else:  # an animated PNG, a GIF
        assert ours is None


def test_the_header_chunks_pillow_read_stay_with_the_pixels() -> None:
    """The ICC profile (applied by working_mode) and the transparency come from the header."""
    image = Image.open(io.BytesIO(sample("formats/hopper.png"))).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", icc_profile=b"not a profile", transparency=(1, 2, 3))
    data = buffer.getvalue()
    ours = png.decode_png(data, opened(data))
    assert ours is not None
    assert ours.info["icc_profile"] == b"not a profile"
    assert ours.info["transparency"] == (1, 2, 3)


def rendered(data: bytes) -> Image.Image:
    return decode(render(data, parse_path("thumbnail:64.png"), LIMITS).data)


@pytest.mark.parametrize("colour_type", [2, 6])
def test_a_large_png_decodes_and_renders_as_with_pillow(
    colour_type: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An RGB image of several strips of rows (png._STRIP_BYTES), and an RGBA one."""
    photo = decode(sample("exif-orientation/Landscape_1.jpg"))
    data = encode(photo.convert("RGBA" if colour_type == 6 else "RGB"), "PNG", compress_level=1)
    ours = png.decode_png(data, opened(data))
    assert ours is not None
    assert_same_pixels(ours, decode(data))
    with_libspng = rendered(data)
    monkeypatch.setattr(png, "_library", lambda: None)
    assert_same_pixels(rendered(data), with_libspng)


def test_without_the_library_pillow_decodes(pillow_only: None) -> None:
    data = sample("formats/hopper.png")
    assert not png.available()
    assert png.decode_png(data, opened(data)) is None
    (frame, _), *_ = frames(open_image(data, LIMITS))
    assert_same_pixels(frame, decode(data))


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _after_pixels(data: bytes, chunk: bytes) -> bytes:
    """``data`` with ``chunk`` put just before IEND, after the image data."""
    return data[:-12] + chunk + data[-12:]


@pytest.mark.parametrize(
    "chunk",
    [
        png_chunk(b"eXIf", _exif(6)),
        png_chunk(b"tEXt", b"Raw profile type exif\0" + b"\nexif\n" + b"0" * 8),
    ],
)
def test_exif_after_the_pixels_is_still_found(chunk: bytes) -> None:
    plain = sample("formats/hopper.png")
    data = _after_pixels(plain, chunk)
    assert not png.plain_after_pixels(data)
    assert png.plain_after_pixels(plain)
    assert png.decode_png(data, opened(data)) is None  # Pillow decodes it, reading the chunk
    if chunk[4:8] == b"eXIf":  # Pillow reads it only on decoding: the orientation still holds
        assert open_image(data, LIMITS).orientation == 6


def test_text_after_the_pixels_that_holds_no_exif_does_not_count() -> None:
    data = _after_pixels(sample("formats/hopper.png"), png_chunk(b"tEXt", b"date:modify\0now"))
    assert png.plain_after_pixels(data)
    assert png.decode_png(data, opened(data)) is not None


def test_a_broken_chunk_after_the_pixels_leaves_the_png_to_pillow() -> None:
    """libspng never reads past the image data; Pillow reads a chunk that runs past the end,
    and fails on it."""
    plain = sample("formats/hopper.png")
    data = plain[:-12] + png_chunk(b"tEXt", b"comment\0" + b"x" * 40)[:-20]
    assert not png.plain_after_pixels(data)
    assert png.decode_png(data, opened(data)) is None
    with pytest.raises(OSError, match="Truncated"):
        decode(data)


def test_opening_a_png_decodes_no_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The header is all open_image reads: the pixels are decoded once, in frames()."""
    loads: list[Image.Image] = []
    original = Image.Image.load

    def counting(image: Image.Image) -> object:
        loads.append(image)
        return original(image)

    monkeypatch.setattr(Image.Image, "load", counting)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", counting)
    open_image(sample("formats/hopper.png"), LIMITS)
    assert loads == []


def _corrupt_image_data(data: bytes) -> Iterator[bytes]:
    """``data`` with its compressed image data damaged, its CRC made right again."""
    start = data.index(b"IDAT") - 4
    length = int.from_bytes(data[start : start + 4], "big")
    body = bytearray(data[start + 8 : start + 8 + length])
    for offset in (2, length // 2, length - 6):
        damaged = bytearray(body)
        damaged[offset] ^= 0xFF
        yield data[:start] + png_chunk(b"IDAT", bytes(damaged)) + data[start + 12 + length :]


def test_corrupt_image_data_is_refused_as_pillow_refuses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for data in _corrupt_image_data(sample("formats/hopper.png")):
        outcomes = []
        for library in (png._library(), None):
            monkeypatch.setattr(png, "_library", lambda library=library: library)
            try:
                frame, _ = next(frames(open_image(data, LIMITS)))
                outcomes.append((frame.mode, frame.size, frame.tobytes()))
            except InvalidImage as error:
                outcomes.append(type(error))
        assert outcomes[0] == outcomes[1]


def test_the_decode_module_uses_libspng_for_a_covered_png(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = decode_module.decode_png

    def spy(data: bytes, image: Image.Image) -> Image.Image | None:
        decoded = real(data, image)
        calls.append(data)
        assert decoded is not None
        return decoded

    monkeypatch.setattr(decode_module, "decode_png", spy)
    data = sample("formats/hopper.png")
    (frame, _), *_ = frames(open_image(data, LIMITS))
    assert calls == [data]
    assert_same_pixels(frame, decode(data))
