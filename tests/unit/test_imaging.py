"""The imaging core, on the shared real test images."""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageSequence, TiffImagePlugin

from progimage_service.errors import InvalidImage, ProgImageError, TooLarge, UnsupportedMedia
from progimage_service.imaging import decode as decode_module
from progimage_service.imaging.decode import inspect
from progimage_service.imaging.formats import FORMATS, for_extension, sniff
from progimage_service.imaging.gif import gif_layout
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import Pipeline, parse_path
from progimage_service.imaging.render import render
from tests.hostile.oracle import peak_memory
from tests.images import TESTDATA, decode, encode, psnr, sample

LIMITS = Limits()

HOPPERS = ["formats/hopper.jpg", "formats/hopper.png", "formats/hopper.avif"]

SAMPLES = {
    "formats/hopper.jpg": "jpeg",
    "formats/hopper.png": "png",
    "formats/hopper.webp": "webp",
    "formats/hopper.gif": "gif",
    "formats/hopper.avif": "avif",
    "formats/hopper.tif": "tiff",
    "formats/hopper.bmp": "bmp",
    "formats/16bit.cropped.tif": "tiff",
    "formats/hopper_gray.jpg": "jpeg",
    "formats/dispose_bgnd_rgba.gif": "gif",
    "formats/blend_op_over_near_transparent.png": "png",
}


def converted(data: bytes, fmt: str) -> Image.Image:
    return decode(render(data, Pipeline(format=FORMATS[fmt]), LIMITS).data)


def near(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 8) -> bool:
    return all(abs(a - b) < tolerance for a, b in zip(pixel, expected, strict=True))


@pytest.mark.parametrize(("name", "expected"), SAMPLES.items())
def test_sniffs_format_from_bytes(name: str, expected: str) -> None:
    assert sniff(sample(name)).name == expected


def test_sniff_ignores_the_file_name() -> None:
    with pytest.raises(UnsupportedMedia):
        sniff(sample("bad/not-an-image.jpg"))


def test_sniff_refuses_formats_outside_the_allowlist() -> None:
    for data in (
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"%PDF-1.7\n",
        b"\x00\x00\x01\x00ico",
    ):
        with pytest.raises(UnsupportedMedia):
            sniff(data)
    pcx = encode(Image.new("RGB", (8, 8)), "PCX")
    with pytest.raises(UnsupportedMedia):
        sniff(pcx)


@pytest.mark.parametrize("n", range(9))
def test_every_exif_orientation_comes_out_upright(n: int) -> None:
    data = sample(f"exif-orientation/Landscape_{n}.jpg")
    info = inspect(data, LIMITS)
    assert (info.width, info.height) == (1800, 1200)
    upright = decode(render(data, Pipeline(format=FORMATS["png"]), LIMITS).data)
    reference = decode(sample("exif-orientation/Landscape_1.jpg"))
    assert upright.size == (1800, 1200)
    # Each example is a separately compressed JPEG: the right orientation scores 25-31 dB against
    # the reference, any wrong one (mirrored, turned) under 10 dB.
    assert psnr(upright, reference) > 20


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize(
    "name", ["formats/hopper.jpg", "formats/hopper.png", "formats/hopper.avif"]
)
def test_converts_to_every_format(name: str, fmt: str) -> None:
    source = decode(sample(name))
    result = render(sample(name), Pipeline(format=FORMATS[fmt]), LIMITS)
    out = decode(result.data)
    assert sniff(result.data).name == fmt
    assert out.size == source.size
    # GIF has 256 colours and lossy formats lose a little: still clearly the same picture.
    assert psnr(out, source) > (20 if fmt == "gif" else 28)


def test_conversion_strips_exif_and_gps() -> None:
    data = sample("formats/exif_gps.jpg")
    assert decode(data).getexif()  # the source has EXIF with GPS
    for fmt in ("jpeg", "png", "webp", "avif", "tiff"):
        out = decode(render(data, Pipeline(format=FORMATS[fmt]), LIMITS).data)
        exif = out.getexif()
        assert 0x8825 not in exif and not exif.get_ifd(0x8825), fmt  # no GPS
        assert 0x8769 not in exif, fmt  # no EXIF sub-IFD (camera, dates)
        assert "exif" not in out.info, fmt


# TIFF's text tags that say who made a picture, where, and with what.
_TIFF_TEXT_TAGS = {
    270: "ImageDescription",
    271: "Make",
    272: "Model",
    305: "Software",
    306: "DateTime",
    315: "Artist",
    33432: "Copyright",
}


@given(
    tags=st.dictionaries(
        st.sampled_from(sorted(_TIFF_TEXT_TAGS)),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40),
        min_size=1,
    ),
    pipeline=st.sampled_from(["", "thumbnail:32", "rotate:90", "grayscale"]),
    fmt=st.sampled_from(["tiff", None]),
)
def test_a_tiffs_own_tags_never_reach_the_output(
    tags: dict[int, str], pipeline: str, fmt: str | None
) -> None:
    # Pillow's TIFF writer copies the tags of a TIFF file object it is given; an unchanged
    # picture is that object, so this held for every pipeline but the empty one.
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    for tag, value in tags.items():
        ifd[tag] = value
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buffer, "TIFF", tiffinfo=ifd, dpi=(300, 300))
    data = buffer.getvalue()
    steps = parse_path(pipeline).steps if pipeline else ()
    out = decode(render(data, Pipeline(steps, FORMATS["tiff"] if fmt else None), LIMITS).data)
    assert out.format == "TIFF"
    assert not set(tags) & set(out.tag_v2), {
        _TIFF_TEXT_TAGS[t] for t in set(tags) & set(out.tag_v2)
    }


def test_icc_profile_is_converted_to_srgb() -> None:
    data = sample("formats/hopper.iccprofile.tif")
    out = decode(render(data, Pipeline(format=FORMATS["png"]), LIMITS).data)
    assert out.size == (128, 128)
    assert "icc_profile" not in out.info
    assert psnr(out, decode(sample("formats/hopper.tif"))) > 25


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    out = decode(
        render(sample("formats/16bit.cropped.tif"), Pipeline(format=FORMATS["png"]), LIMITS).data
    )
    low, high = out.getextrema()
    assert out.mode == "L"
    assert high < 255  # a clipping conversion turns every value of this image into 255
    assert low < high


def test_transparency_flattens_onto_white_without_alpha_and_stays_with_alpha() -> None:
    image = Image.new("RGBA", (40, 20), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (20, 0, 40, 20))
    data = encode(image, "PNG")
    jpeg = decode(render(data, Pipeline(format=FORMATS["jpeg"]), LIMITS).data)
    assert jpeg.mode == "RGB"
    assert all(
        abs(a - b) < 8 for a, b in zip(jpeg.getpixel((30, 10)), (255, 255, 255), strict=True)
    )
    assert all(abs(a - b) < 8 for a, b in zip(jpeg.getpixel((5, 10)), (255, 0, 0), strict=True))
    for fmt in ("png", "webp", "avif", "tiff"):
        out = decode(render(data, Pipeline(format=FORMATS[fmt]), LIMITS).data).convert("RGBA")
        assert out.getpixel((30, 10))[3] == 0, fmt
        assert out.getpixel((5, 10))[3] == 255, fmt


@pytest.mark.parametrize("fmt", ["gif", "webp", "png"])
def test_animation_keeps_frames_and_timing(fmt: str) -> None:
    data = sample("formats/dispose_bgnd_rgba.gif")
    source = Image.open(io.BytesIO(data))
    out = Image.open(io.BytesIO(render(data, Pipeline(format=FORMATS[fmt]), LIMITS).data))
    assert out.n_frames == source.n_frames
    assert _durations(out) == _durations(source)
    for index in range(out.n_frames):
        source.seek(index)
        out.seek(index)
        assert psnr(out, source) > 20  # lossy WebP on hard-edged frames: about 23 dB


def _durations(image: Image.Image) -> list[int]:
    durations = []
    for frame in ImageSequence.Iterator(image):
        frame.load()
        durations.append(frame.info["duration"])
    return durations


def test_animation_becomes_its_first_frame_in_still_formats() -> None:
    data = sample("formats/dispose_bgnd_rgba.gif")
    out = Image.open(io.BytesIO(render(data, Pipeline(format=FORMATS["jpeg"]), LIMITS).data))
    assert getattr(out, "n_frames", 1) == 1
    assert out.size == (100, 100)


@pytest.mark.parametrize("fmt", ["avif", "webp", "png"])
def test_the_first_image_of_an_mpo_is_encoded_as_a_still(fmt: str) -> None:
    """An MPO (a JPEG with a second image) renders as one frame; the encoder must see a still
    image, not the file of two: AVIF's set up a sequence encoder for it (680 MB at 4 MP)."""
    first = Image.new("RGB", (2000, 2000), (120, 130, 140))
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[first.resize((200, 200))])
    assert Image.open(io.BytesIO(buffer.getvalue())).n_frames == 2

    with peak_memory() as peak:
        out = render(buffer.getvalue(), Pipeline(format=for_extension(fmt)), Limits())
    image = decode(out.data)
    assert (image.size, getattr(image, "n_frames", 1)) == ((2000, 2000), 1)
    assert peak.bytes < 200 * 2**20, peak.bytes


@pytest.mark.parametrize("orientation", range(1, 9))
def test_the_reduced_decodes_picture_box_turns_with_the_orientation(orientation: int) -> None:
    """The box of a reduced decode is where _upright() moves the picture's pixels."""
    size, box = (40, 30), (0, 0, 37, 26)  # the last column and row blocks partly outside
    marked = Image.new("L", size, 0)
    marked.paste(255, box)
    upright = decode_module._upright(marked, orientation)
    assert decode_module._upright_box(box, size, orientation) == upright.getbbox()


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_a_thumbnail_from_a_reduced_decode_is_where_the_full_decode_puts_it(
    orientation: int,
) -> None:
    """1365 rows at 1/4 are 341.25: the variant is not stretched by the partial block."""
    rng = random.Random(orientation)
    noise = Image.frombytes("L", (64, 43), rng.randbytes(64 * 43)).resize((2048, 1365))
    picture = Image.merge("RGB", (noise, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(picture, "JPEG", quality=95, exif=exif.tobytes())
    reduced = decode(render(data, parse_path("thumbnail:256.png"), Limits()).data)
    full = decode(data)  # Pillow's plain decode: stored orientation
    full = decode_module._upright(full, orientation)
    expected = full.resize(reduced.size, Image.Resampling.LANCZOS)
    assert psnr(reduced, expected) > 40


def test_bad_inputs_are_refused_with_a_client_error_or_accepted_as_valid() -> None:
    outcomes = {}
    for path in sorted((TESTDATA / "bad").iterdir()):
        if path.name.startswith("LICENSE"):
            continue
        try:
            info = inspect(path.read_bytes(), LIMITS)
            outcomes[path.name] = (info.width, info.height)
        except ProgImageError as error:
            assert 400 <= error.status < 500, (path.name, error)
            outcomes[path.name] = error.status
    assert outcomes == {
        "broken.png": 415,
        "decompression_bomb.gif": 413,
        "decompression_bomb_extents.gif": 413,
        "hopper_bad_exif.jpg": (500, 500),
        "not-an-image.jpg": 415,
        "truncated.jpg": 415,
    }


def test_pixel_limit_is_checked_from_the_header_before_decoding() -> None:
    # A real PNG whose IHDR claims 60000 x 60000; its pixel data is never read.
    small = encode(Image.new("L", (1, 1)), "PNG")
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    forged = small[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    forged += small[33:]
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            inspect(forged, LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000  # refused from the header: the declared 3.6 GB were never allocated


def test_byte_and_frame_limits() -> None:
    data = sample("formats/dispose_bgnd_rgba.gif")
    with pytest.raises(TooLarge):
        inspect(data, Limits(max_bytes=len(data) - 1))
    with pytest.raises(TooLarge):
        inspect(data, Limits(max_frames=4))
    assert inspect(data, Limits(max_frames=5)).frames == 5
    with pytest.raises(TooLarge):
        inspect(sample("formats/hopper.png"), Limits(max_side=127))
    # 5 frames of 100x100: 50,000 pixels in all
    assert inspect(data, Limits(max_animation_pixels=50_000)).frames == 5
    with pytest.raises(TooLarge):
        inspect(data, Limits(max_animation_pixels=49_999))


def test_gif_layout_counts_frames_without_decoding() -> None:
    frames = [Image.new("RGB", (30, 20), (i * 30, 0, 0)) for i in range(7)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50)
    layout = gif_layout(buffer.getvalue(), stop_after=100)
    assert (layout.frames, layout.width, layout.height) == (7, 30, 20)
    assert gif_layout(buffer.getvalue(), stop_after=3).frames == 4  # stops just past the limit


def test_truncated_image_is_invalid_not_a_crash() -> None:
    data = sample("formats/hopper.png")
    with pytest.raises(InvalidImage):
        inspect(data[: len(data) // 2], LIMITS)


def test_unknown_output_extension_names_the_valid_ones() -> None:
    with pytest.raises(ProgImageError) as raised:
        for_extension("svg")
    assert (raised.value.status, raised.value.code) == (415, "unsupported_format")
    assert "webp" in raised.value.message
    assert for_extension("JPEG").name == "jpeg"
    assert for_extension("tif").name == "tiff"
