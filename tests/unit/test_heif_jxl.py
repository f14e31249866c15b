"""HEIC and JPEG XL, in and out: sniffing, header-only opening, orientation, the primary image,
alpha, conversions both ways, and the limits checked before decoding.

Inputs are the shared test photos encoded here by the plugins the service uses, and the small
real files of tests/samples (made by other encoders; see its README).
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from progimage_service.errors import InvalidImage, TooLarge, UnsupportedMedia
from progimage_service.imaging import plugins
from progimage_service.imaging.decode import describe, frames, inspect, open_image
from progimage_service.imaging.encode import DEFAULT_QUALITY, EncodeOptions, Frame, encode
from progimage_service.imaging.formats import EXTENSIONS, FORMATS, for_extension, sniff
from progimage_service.imaging.jxl import read_header
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import Pipeline, parse_path
from progimage_service.imaging.render import render
from tests.hostile.oracle import RSS_MEASURED, peak_memory
from tests.images import psnr, sample

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LIMITS = Limits()
HEIC, JXL = FORMATS["heic"], FORMATS["jxl"]


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _decoded(data: bytes) -> Image.Image:
    fmt = sniff(data)
    plugins.register(fmt)
    image = Image.open(io.BytesIO(data), formats=[fmt.pillow])
    image.load()
    return image


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """The shared landscape photo, at a third of its size (600x400): quick to encode."""
    image = Image.open(io.BytesIO(sample("exif-orientation/Landscape_1.jpg"))).convert("RGB")
    return image.reduce(3)


@pytest.fixture(scope="module")
def encoded(photo: Image.Image) -> dict[str, bytes]:
    return {name: encode([Frame(photo, 0)], FORMATS[name]) for name in ("heic", "jxl")}


# --- sniffing ------------------------------------------------------------------------------------


def test_extensions_name_heic_heif_and_jxl() -> None:
    assert for_extension("heic") is HEIC and for_extension("HEIF") is HEIC
    assert for_extension("jxl") is JXL
    assert HEIC.content_type == "image/heic" and JXL.content_type == "image/jxl"
    assert {"heic", "heif", "jxl"} <= set(EXTENSIONS)


def test_real_files_sniff_as_their_format(encoded: dict[str, bytes]) -> None:
    assert sniff(encoded["heic"]) is HEIC
    assert sniff(encoded["jxl"]) is JXL
    assert encoded["jxl"][:2] == b"\xff\x0a"  # the encoder writes a bare codestream
    assert sniff(_sample("multi-primary-grey.heic")) is HEIC
    assert sniff(_sample("rgba-29x100.heif")) is HEIC
    assert sniff(_sample("rgba-40x50.jxl")) is JXL
    container = _sample("jpeg-reconstruction.jxl")
    assert container[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n" and sniff(container) is JXL


def test_avif_stays_avif(photo: Image.Image) -> None:
    """AVIF files are HEIF too (mif1, miaf): every kind Pillow writes, and the shared one."""
    small = photo.reduce(8)
    rgba = small.convert("RGBA")
    files = [
        sample("formats/hopper.avif"),
        _save(small, "AVIF", speed=10),
        _save(rgba, "AVIF", speed=10),
        _save(small, "AVIF", speed=10, save_all=True, append_images=[small.rotate(90)]),
    ]
    for data in files:
        assert data[4:8] == b"ftyp" and b"mif1" in data[:64]
        assert sniff(data) is FORMATS["avif"]


def _save(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


HEIC_BRANDS = [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"]
HEIC_BRANDS += [b"mif1", b"msf1"]
OTHER_BRANDS = [b"miaf", b"avif", b"avis", b"MA1B", b"isom", b"mp41", b"jxl ", b"crx "]
BRANDS = st.sampled_from(HEIC_BRANDS + OTHER_BRANDS) | st.binary(min_size=4, max_size=4)


def _ftyp(major: bytes, compatible: list[bytes]) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body


def _heif_plugin_accepts(data: bytes) -> bool:
    plugins.register(HEIC)
    _, accept = Image.OPEN["HEIF"]
    return bool(accept(io.BytesIO(data)))


@given(major=BRANDS, compatible=st.lists(BRANDS, max_size=8), tail=st.binary(max_size=32))
def test_ftyp_brands(major: bytes, compatible: list[bytes], tail: bytes) -> None:
    """Any AVIF brand makes it AVIF (never HEIC); else a HEIC major brand makes it HEIC."""
    data = _ftyp(major, compatible) + tail
    brands = [major, *compatible][: (len(data[:64]) - 16) // 4 + 1]
    if any(b in (b"avif", b"avis") for b in brands):
        assert sniff(data) is FORMATS["avif"]
    elif major in HEIC_BRANDS:
        assert sniff(data) is HEIC
        assert _heif_plugin_accepts(data)  # the one plugin allowed to open it would
    else:
        with pytest.raises(UnsupportedMedia):
            sniff(data)


@given(st.binary(max_size=80))
def test_any_bytes_sniff_to_an_allowlisted_format_or_415(data: bytes) -> None:
    try:
        fmt = sniff(data)
    except UnsupportedMedia as error:
        assert error.status == 415
    else:
        assert FORMATS[fmt.name] is fmt


# --- opening and decoding ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["heic", "jxl"])
def test_opening_reads_the_header_only(name: str, encoded: dict[str, bytes]) -> None:
    opened = open_image(encoded[name], LIMITS)
    assert opened.image.format == FORMATS[name].pillow
    assert opened.image.size == (600, 400) and opened.image.mode == "RGB"
    assert opened.image._im is None  # nothing decoded yet
    assert opened.frames == 1 and opened.orientation == 1


@pytest.mark.parametrize("name", ["heic", "jxl"])
def test_decodes_close_to_the_photo(
    name: str, encoded: dict[str, bytes], photo: Image.Image
) -> None:
    image, _ = next(frames(open_image(encoded[name], LIMITS)))
    assert image.size == photo.size and image.mode == "RGB"
    assert psnr(image, photo) > 35


def test_the_primary_image_of_a_multi_image_heif_is_the_picture() -> None:
    """Three images, the second primary (64x64 grey; the others are RGB, one 96x64)."""
    data = _sample("multi-primary-grey.heic")
    opened, info = describe(data, LIMITS)
    assert (info.width, info.height, info.frames) == (64, 64, 1)
    image, _ = next(frames(opened))
    assert image.mode == "L" and image.size == (64, 64)
    out = _decoded(render(data, Pipeline(format=FORMATS["png"]), LIMITS).data)
    assert out.size == (64, 64) and out.mode == "L"


def test_heic_orientation_is_applied_once(photo: Image.Image) -> None:
    """A HEIC whose EXIF says 6 (as an iPhone's): libheif turns it (irot), the EXIF is reset,
    and the service does not turn it again."""
    stored = photo.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways stores
    exif = Image.Exif()
    exif[0x0112] = 6
    plugins.register(HEIC)
    data = _save(stored, "HEIF", quality=80, exif=exif.tobytes())
    assert b"irot" in data
    opened = open_image(data, LIMITS)
    assert opened.orientation == 1 and opened.image.size == photo.size
    out = _decoded(render(data, Pipeline(format=FORMATS["png"]), LIMITS).data)
    assert out.size == photo.size
    assert psnr(out.convert("RGB"), photo) > 30  # upright, as the photo was taken


def test_jpeg_xl_holding_a_jpeg_decodes_to_it() -> None:
    data = _sample("jpeg-reconstruction.jxl")
    header = read_header(data)
    assert header.jpeg and (header.width, header.height) == (1280, 720)
    image, _ = next(frames(open_image(data, LIMITS)))
    assert image.size == (1280, 720) and image.mode == "RGB"
    assert "icc_profile" in image.info  # applied by the render, as any image's


@pytest.mark.parametrize(
    ("name", "mode", "size"),
    [("rgba-40x50.jxl", "RGBA", (40, 50)), ("grey16-40x50.jxl", "L", (40, 50))],
)
def test_jpeg_xl_header_says_the_mode_the_decoder_gives(
    name: str, mode: str, size: tuple[int, int]
) -> None:
    data = _sample(name)
    opened = open_image(data, LIMITS)
    assert (opened.image.mode, opened.image.size) == (mode, size)
    image, _ = next(frames(opened))
    assert (image.mode, image.size) == (mode, size)
    assert image.getextrema() != ((0, 0),) * len(mode)  # 16-bit grey scaled, not clipped


# --- output --------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["heic", "jxl"])
@pytest.mark.parametrize("out", ["jpeg", "png", "webp"])
def test_converts_to_other_formats(
    source: str, out: str, encoded: dict[str, bytes], photo: Image.Image
) -> None:
    image = _decoded(render(encoded[source], Pipeline(format=FORMATS[out]), LIMITS).data)
    assert image.format == FORMATS[out].pillow and image.size == photo.size
    assert psnr(image.convert("RGB"), photo) > 33


@pytest.mark.parametrize("ext", ["heic", "heif", "jxl"])
def test_jpeg_converts_to_heic_and_jxl(ext: str, photo: Image.Image) -> None:
    jpeg = _save(photo, "JPEG", quality=95)
    rendered = render(jpeg, parse_path(f"thumbnail:300.{ext}"), LIMITS)
    assert sniff(rendered.data) is EXTENSIONS[ext]
    image = _decoded(rendered.data)
    assert image.size == (300, 200) and image.mode == "RGB"
    assert psnr(image, photo.resize((300, 200), Image.Resampling.LANCZOS)) > 32


@pytest.mark.parametrize("ext", ["heic", "jxl"])
@pytest.mark.parametrize("quality", [1, 99, 100])
def test_every_quality_encodes(ext: str, quality: int, photo: Image.Image) -> None:
    """The ends of the grammar's range: libjxl takes quality 100 only as lossless."""
    rendered = render(
        _save(photo, "PNG"), parse_path(f"thumbnail:60/quality:{quality}.{ext}"), LIMITS
    )
    image = _decoded(rendered.data)
    assert image.size == (60, 40)
    floor = 30 if quality >= 99 else 15  # (the thumbnail resamples otherwise than LANCZOS)
    assert psnr(image.convert("RGB"), photo.resize((60, 40), Image.Resampling.LANCZOS)) > floor


@pytest.mark.parametrize("name", ["heic", "heic-sample", "jxl"])
def test_alpha_is_kept(name: str, photo: Image.Image) -> None:
    if name == "heic-sample":  # libheif's encoder, 8-bit RGBA
        data, name = _sample("rgba-29x100.heif"), "heic"
    else:  # the photo fading out from left to right, as the service encodes it
        rgba = photo.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").rotate(90).resize(photo.size))
        data = encode([Frame(rgba, 0)], FORMATS[name])
    source = _decoded(data)
    out = _decoded(render(data, Pipeline(format=FORMATS[name]), LIMITS).data)
    assert source.mode == out.mode == "RGBA" and out.size == source.size
    alpha_in, alpha_out = source.getchannel("A"), out.getchannel("A")
    assert alpha_in.getextrema()[0] < 250  # there is transparency to keep
    assert psnr(alpha_in.convert("RGB"), alpha_out.convert("RGB")) > 30
    assert psnr(source, out) > 28


def test_an_animation_becomes_its_first_frame() -> None:
    gif = sample("formats/dispose_bgnd_rgba.gif")
    for ext in ("heic", "jxl"):
        image = _decoded(render(gif, parse_path(f"thumbnail:64.{ext}"), LIMITS).data)
        assert getattr(image, "n_frames", 1) == 1


def test_output_carries_no_orientation(photo: Image.Image) -> None:
    """A frame still holding its source's EXIF orientation is written upright, no irot."""
    tagged = photo.copy()
    exif = Image.Exif()
    exif[0x0112] = 6
    tagged.info["exif"] = exif.tobytes()
    for fmt in (HEIC, JXL):
        data = encode([Frame(tagged, 0)], fmt, EncodeOptions(quality=DEFAULT_QUALITY[fmt.name]))
        assert b"irot" not in data and b"Exif" not in data
        assert _decoded(data).size == photo.size


# --- limits before decoding ----------------------------------------------------------------------


def _jxl_header(width: int, height: int) -> bytes:
    """A bare codestream's headers declaring ``width`` x ``height``, then nothing decodable."""
    bits, count = 0, 0

    def put(value: int, n: int) -> None:
        nonlocal bits, count
        bits |= value << count
        count += n

    put(0, 1)  # not small
    put(3, 2)  # height: U32 selector 3, 30 bits + 1
    put(height - 1, 30)
    put(0, 3)  # ratio 0: the width follows
    put(3, 2)
    put(width - 1, 30)
    put(1, 1)  # ImageMetadata all default
    return b"\xff\x0a" + bits.to_bytes((count + 7) // 8 + 8, "little")


def _heic_declaring(data: bytes, width: int, height: int) -> bytes:
    at = data.find(b"ispe")
    return data[: at + 8] + struct.pack(">II", width, height) + data[at + 16 :]


@pytest.mark.parametrize("name", ["heic", "jxl"])
def test_a_huge_declared_size_is_refused_from_the_header(
    name: str, encoded: dict[str, bytes]
) -> None:
    forged = (
        _heic_declaring(encoded["heic"], 60000, 60000)
        if name == "heic"
        else _jxl_header(60000, 60000)
    )
    if name == "jxl":
        assert read_header(forged).displayed == (60000, 60000)
    with peak_memory() as peak, pytest.raises(TooLarge) as raised:
        inspect(forged, LIMITS)
    assert raised.value.status == 413 and raised.value.param == "pixels"
    if RSS_MEASURED:
        assert peak.bytes < 64 * 2**20  # the declared 14 GB were never allocated


def test_a_header_that_disagrees_with_the_picture_is_invalid(encoded: dict[str, bytes]) -> None:
    forged = _heic_declaring(encoded["heic"], 1200, 800)
    with pytest.raises(InvalidImage):
        inspect(forged, LIMITS)
    with pytest.raises(InvalidImage):
        inspect(_jxl_header(64, 64), LIMITS)  # declares 64x64, holds no picture


def test_a_size_within_the_limits_but_over_the_side_limit() -> None:
    with pytest.raises(TooLarge):
        open_image(_jxl_header(20000, 10), LIMITS)


# --- cold starts ---------------------------------------------------------------------------------

_RENDER_ONE = """
import io, sys
from PIL import Image
from progimage_service.imaging.formats import FORMATS
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import Pipeline
from progimage_service.imaging.render import render

buffer = io.BytesIO()
Image.new("RGB", (64, 48), "teal").save(buffer, "JPEG")
data = buffer.getvalue()
for name in sys.argv[1:]:
    data = render(data, Pipeline(format=FORMATS[name]), Limits()).data
print(",".join(sorted(m for m in ("pillow_heif", "pillow_jxl") if m in sys.modules)))
"""


@pytest.mark.parametrize(
    ("chain", "imported"),
    [
        (["png", "webp", "avif"], ""),
        (["heic", "png"], "pillow_heif"),
        (["jxl"], "pillow_jxl"),
        (["heic", "jxl"], "pillow_heif,pillow_jxl"),
    ],
)
def test_the_plugins_are_imported_by_their_formats_only(chain: list[str], imported: str) -> None:
    """A render that neither reads nor writes HEIC or JPEG XL never imports their plugins."""
    functions = Path(__file__).resolve().parents[2] / "functions"
    done = subprocess.run(
        [sys.executable, "-c", _RENDER_ONE, *chain],
        env={**os.environ, "PYTHONPATH": str(functions)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == imported
