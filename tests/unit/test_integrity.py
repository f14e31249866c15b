"""Truncated uploads are refused from their structure, before anything is stored."""

from __future__ import annotations

import contextlib
import io
import random
import struct
from functools import cache

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence

from progimage_service.errors import InvalidImage, ProgImageError, UnsupportedMedia
from progimage_service.imaging.decode import inspect
from progimage_service.imaging.formats import FORMATS, sniff
from progimage_service.imaging.integrity import check_complete
from progimage_service.imaging.limits import Limits
from tests.hostile.samples import generated
from tests.hostile.structure import png_chunks, png_join, riff_chunks, riff_join
from tests.images import TESTDATA, encode, sample

# Pillow warns about the damage it meets (corrupt EXIF, truncated reads): expected.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

LIMITS = Limits()
EOI = b"\xff\xd9"

GOOD = [
    *sorted(
        f"{folder}/{path.name}"
        for folder in ("formats", "exif-orientation")
        for path in (TESTDATA / folder).iterdir()
        if not path.name.startswith("LICENSE")
    ),
    "bad/hopper_bad_exif.jpg",
]


def refusal(data: bytes) -> str:
    """The message inspect refuses ``data`` with; fails unless it is the invalid-image error."""
    with pytest.raises(InvalidImage) as raised:
        inspect(data, LIMITS)
    return raised.value.message


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A picture with detail everywhere, as a photo's entropy-coded data has."""
    rng = random.Random(seed)
    grey = Image.frombytes(
        "L", (size[0] // 8, size[1] // 8), rng.randbytes(size[0] * size[1] // 64)
    )
    grey = grey.resize(size, Image.Resampling.BICUBIC)
    return Image.merge("RGB", (grey, grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grey))


# --- every good image passes, the known bad ones do not ---------------------------------------


@pytest.mark.parametrize("name", GOOD)
def test_every_good_test_image_is_complete(name: str) -> None:
    info = inspect(sample(name), LIMITS)
    assert info.scans == 1 or info.format.name == "jpeg"


@pytest.mark.parametrize("name", sorted(generated()))
def test_every_generated_seed_is_complete(name: str) -> None:
    data = generated()[name]
    check_complete(data, sniff(data))


@pytest.mark.parametrize("name", ["bad/truncated.jpg", "bad/broken.png"])
def test_the_known_bad_images_are_still_invalid(name: str) -> None:
    refusal(sample(name))


# --- JPEG -------------------------------------------------------------------------------------


@cache
def jpeg_10000() -> bytes:
    """A real 10000x10000 JPEG (greyscale: a 100 MB canvas to encode, not 400)."""
    return encode(Image.new("L", (10000, 10000), 128), "JPEG")


def test_a_631_byte_jpeg_declaring_10000x10000_is_refused() -> None:
    whole = jpeg_10000()
    cut = whole[:629] + EOI  # its headers, a few hundred bytes of its scan, and an end marker
    assert len(cut) == 631
    assert Image.open(io.BytesIO(cut)).size == (10000, 10000)
    message = refusal(cut)
    assert message.startswith("truncated: scan 1 of the JPEG holds"), message
    assert "10000x10000" in message
    assert check_complete(whole, FORMATS["jpeg"]) == 1


def test_a_jpeg_at_the_least_size_its_blocks_allow_is_complete() -> None:
    """Optimised Huffman tables give a flat picture one bit for each block's DC code and one for
    its end of block: exactly the bound."""
    whole = encode(Image.new("L", (2048, 2048), 90), "JPEG", optimize=True)
    blocks = (2048 // 8) ** 2
    scan = whole.index(b"\xff\xda")
    assert len(whole) - scan < blocks * 2 // 8 + 64  # the scan is at the bound, or nearly
    assert inspect(whole, LIMITS).scans == 1
    assert "truncated" in refusal(whole[:-40] + EOI)


def test_restart_markers_show_that_a_jpeg_ending_in_eoi_was_cut() -> None:
    whole = encode(noise((1024, 768)), "JPEG", quality=90, restart_marker_rows=1)
    inspect(whole, LIMITS)
    message = refusal(whole[: len(whole) // 2] + EOI)
    assert "restart markers" in message, message


def test_a_progressive_jpeg_records_its_scans_and_needs_every_one() -> None:
    whole = encode(noise((640, 480)), "JPEG", progressive=True)
    assert inspect(whole, LIMITS).scans == whole.count(b"\xff\xda") > 1
    last_scan = whole.rindex(b"\xff\xda")
    message = refusal(whole[: last_scan + 40])
    assert "ends inside scan" in message, message


def test_a_jpeg_without_its_end_of_image_marker_is_refused() -> None:
    data = sample("formats/hopper_16bit_qtables.jpg")  # Pillow decodes it without the marker
    assert data.endswith(EOI)
    assert "end-of-image" in refusal(data[:-2])


# --- PNG, APNG --------------------------------------------------------------------------------


def test_a_png_without_iend_is_refused() -> None:
    data = sample("formats/hopper.png")
    assert "IEND" in refusal(data[:-12])  # Pillow decodes it without
    assert "IDAT chunk runs past the end" in refusal(data[: len(data) // 2])


def test_an_apng_must_hold_every_frame_it_declares() -> None:
    chunks = png_chunks(generated()["apng"])
    kinds = [kind for kind, _ in chunks]
    assert kinds.count(b"fcTL") == 3
    last_control = len(kinds) - 1 - kinds[::-1].index(b"fcTL")
    without_last_frame = png_join(chunks[:last_control] + chunks[-1:])
    assert "declares 3 frames and holds 2" in refusal(without_last_frame)
    without_its_data = png_join(chunks[: last_control + 1] + chunks[-1:])
    assert "frame 3 of the APNG has no image data" in refusal(without_its_data)


# --- GIF, WebP --------------------------------------------------------------------------------


def test_a_truncated_animated_gif_is_refused() -> None:
    data = sample("formats/dispose_bgnd_rgba.gif")
    cut = data[: len(data) * 2 // 3]
    Image.open(io.BytesIO(cut)).load()  # the first frame is whole: Pillow has nothing to say
    assert "before its trailer" in refusal(cut)
    assert "before its trailer" in refusal(cut + b";")  # read as a sub-block, not a trailer
    assert "before its trailer" in refusal(data[:-1])


def test_a_webp_must_hold_the_riff_data_it_declares() -> None:
    data = sample("formats/hopper.webp")
    assert "WebP" in refusal(data[:-10])
    # The RIFF size made to agree with a cut file: the last chunk still runs past it.
    cut = data[:-10]
    fixed = cut[:4] + struct.pack("<I", len(cut) - 8) + cut[8:]
    assert "WebP" in refusal(fixed)
    # Whole chunks, but none with a picture.
    headers_only = riff_join([(k, b) for k, b in riff_chunks(data) if k not in (b"VP8 ", b"VP8L")])
    with pytest.raises(InvalidImage):
        inspect(headers_only, LIMITS)


# --- TIFF, BMP, AVIF --------------------------------------------------------------------------


def test_a_tiff_must_hold_its_first_directory_and_image_data() -> None:
    data = encode(noise((64, 48)), "TIFF")  # Pillow writes the directory first, then the strips
    assert "image data runs past" in refusal(data[:-100])
    lzw = generated()["tiff-lzw-grey"]  # libtiff writes the directory last
    assert "directory runs past" in refusal(lzw[:-4])


def test_a_bmp_must_hold_its_pixel_array() -> None:
    data = sample("formats/hopper.bmp")
    assert "the BMP's pixels take" in refusal(data[:-1])
    one_bit = generated()["bmp-1"]  # Pillow decodes it without its last row's padding
    assert "the BMP's pixels take" in refusal(one_bit[:-3])


@pytest.mark.parametrize("name", ["avif-rgb", "avif-animated"])
def test_libavif_refuses_every_cut_of_an_avif(name: str) -> None:
    """The AVIF check leaves the items' and frames' extents to libavif, which checks them when
    the file is opened: every cut is refused."""
    whole = generated()[name]
    for cut in range(12, len(whole)):
        with pytest.raises(UnsupportedMedia):
            inspect(whole[:cut], LIMITS)


# --- what follows the end is ignored ----------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "formats/hopper.jpg",
        "formats/hopper.png",
        "formats/dispose_bgnd_rgba.gif",
        "formats/hopper.webp",
        "formats/hopper.tif",
        "formats/hopper.bmp",
        "formats/hopper.avif",
    ],
)
def test_bytes_after_the_end_are_ignored(name: str) -> None:
    data = sample(name)
    assert inspect(data + b"\x00junk\xff\xd8;IEND" * 3, LIMITS) == inspect(data, LIMITS)


# --- properties -------------------------------------------------------------------------------


def frames(data: bytes) -> list[bytes]:
    """Every frame's pixels, decoded by Pillow alone."""
    return [
        frame.convert("RGBA").tobytes()
        for frame in ImageSequence.Iterator(Image.open(io.BytesIO(data)))
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(GOOD), junk=st.binary(max_size=48), data=st.data())
def test_a_cut_is_refused_as_invalid_unless_it_only_removes_what_follows_the_end(
    name: str, junk: bytes, data: st.DataObject
) -> None:
    """Any good image, with any trailing junk, cut anywhere: a cut into the image is refused with
    the invalid-image error (or as no supported format at all, when too little is left to
    recognise it), and a cut into the junk alone is accepted, as the whole image."""
    image = sample(name)
    whole = image + junk
    into_the_image, junk_only = st.integers(0, len(image) - 1), st.integers(len(image), len(whole))
    cut = data.draw(into_the_image | junk_only, label="cut")
    part = whole[:cut]
    if cut >= len(image):
        assert inspect(part, LIMITS) == inspect(image, LIMITS)
        assert frames(part) == frames(image)
        return
    with pytest.raises(ProgImageError) as raised:
        inspect(part, LIMITS)
    error = raised.value
    if not isinstance(error, InvalidImage):
        assert type(error) is UnsupportedMedia and error.code == "unsupported_format", error
        with pytest.raises(UnsupportedMedia):
            sniff(part)


@settings(max_examples=500, deadline=None)
@given(
    name=st.sampled_from(sorted(generated())),
    edits=st.lists(st.tuples(st.floats(0, 1), st.binary(max_size=4)), max_size=4),
    kept=st.none() | st.floats(0, 1),
)
def test_the_walk_raises_nothing_but_the_invalid_image_error(
    name: str, edits: list[tuple[float, bytes]], kept: float | None
) -> None:
    """Whatever follows the signature, the walk ends, or refuses the bytes as invalid."""
    data = bytearray(generated()[name])
    for where, replacement in edits:
        at = round(where * len(data))
        data[at : at + len(replacement)] = replacement
    if kept is not None:
        del data[round(kept * len(data)) :]
    try:
        fmt = sniff(bytes(data))
    except UnsupportedMedia:
        fmt = None
    assume(fmt is not None)
    assert fmt is not None
    with contextlib.suppress(InvalidImage):
        check_complete(bytes(data), fmt)
