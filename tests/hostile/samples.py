"""Small real images of every allowlisted format: the seeds that hostile inputs are mutated from.

Most are encoded here with Pillow (several modes, compressions and animations per format); the
small shared test images are added to them.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image

from progimage_service.imaging import plugins
from progimage_service.imaging.formats import FORMATS, sniff
from tests.images import TESTDATA, raw_png

SIZE = (40, 24)


def picture(mode: str = "RGB", size: tuple[int, int] = SIZE, shift: int = 0) -> Image.Image:
    """A small picture with gradients in every band, so that no encoder finds it trivial."""
    w, h = size
    across = Image.linear_gradient("L").resize((w, h)).rotate(90 + shift)
    down = Image.linear_gradient("L").resize((w, h))
    round_ = Image.radial_gradient("L").resize((w, h))
    rgb = Image.merge("RGB", (across, down, round_))
    if mode == "RGBA":
        rgba = rgb.copy()
        rgba.putalpha(down.transpose(Image.Transpose.FLIP_TOP_BOTTOM))
        return rgba
    return rgb.convert(mode)


def save(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _frames(mode: str, count: int = 3) -> list[Image.Image]:
    return [picture(mode, shift=30 * i) for i in range(count)]


def _animated(fmt: str, mode: str, **params: Any) -> bytes:
    first, *rest = _frames(mode)
    return save(first, fmt, save_all=True, append_images=rest, duration=[40, 80, 120], **params)


def _exif_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


def _png_palette_with_transparency() -> bytes:
    image = picture("P")
    return save(image, "PNG", transparency=0)


def _png(colour_type: int, bit_depth: int, interlace: bool) -> bytes:
    """The picture as a PNG Pillow cannot write (16-bit colour, Adam7): each sample v at 16
    bits is v * 257."""
    mode = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA"}[colour_type]
    samples = picture(mode).tobytes()
    if bit_depth == 16:
        samples = bytes(byte for value in samples for byte in (value, value))
    return raw_png(samples, SIZE, colour_type, bit_depth, interlace)


def _bmp_rle8() -> bytes:
    """An 8-bit run-length encoded BMP (Pillow reads RLE but cannot write it)."""
    width, height = 8, 4
    rows = b"".join(bytes([4, 1, 4, 2, 0, 0]) for _ in range(height))  # 4x1, 4x2, end of line
    data = rows + b"\x00\x01"  # end of bitmap
    palette = b"".join(bytes([i * 60, 255 - i * 60, i * 30, 0]) for i in range(4))
    header_size = 14 + 40 + len(palette)
    info = (
        (40).to_bytes(4, "little")
        + width.to_bytes(4, "little")
        + height.to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + (8).to_bytes(2, "little")
        + (1).to_bytes(4, "little")  # BI_RLE8
        + len(data).to_bytes(4, "little")
        + bytes(8)
        + (4).to_bytes(4, "little")
        + bytes(4)
    )
    file_header = (
        b"BM"
        + (header_size + len(data)).to_bytes(4, "little")
        + bytes(4)
        + header_size.to_bytes(4, "little")
    )
    return file_header + info + palette + data


def _jxl_holding_jpeg() -> bytes:
    """A JPEG XL container holding a JPEG losslessly (a jbrd box): it decodes to that JPEG."""
    from pillow_jxl import Encoder

    jpeg = save(picture(), "JPEG", exif=_exif_orientation(6))
    return Encoder(mode="RGB", use_container=True)(jpeg, *SIZE, jpeg_encode=True)


@cache
def generated() -> dict[str, bytes]:
    """Seeds encoded here, by a descriptive name."""
    plugins.register(FORMATS["heic"])
    plugins.register(FORMATS["jxl"])
    p = picture
    seeds = {
        "jpeg-baseline": save(p(), "JPEG", quality=75),
        "jpeg-progressive": save(p(), "JPEG", progressive=True),
        "jpeg-grey": save(p("L"), "JPEG"),
        "jpeg-cmyk": save(p("CMYK"), "JPEG"),
        "jpeg-444-restart": save(p(), "JPEG", subsampling=0, restart_marker_blocks=1),
        "jpeg-exif-6": save(p(), "JPEG", exif=_exif_orientation(6)),
        "jpeg-mpo": save(p(), "MPO", save_all=True, append_images=[p(shift=45)]),
        "png-rgb": save(p(), "PNG"),
        "png-rgba": save(p("RGBA"), "PNG"),
        "png-palette-trns": _png_palette_with_transparency(),
        "png-bilevel": save(p("1"), "PNG"),
        "png-16bit": save(p("L").convert("I;16"), "PNG"),
        "png-exif-8": save(p(), "PNG", exif=_exif_orientation(8)),
        "png-rgba16-adam7": _png(6, 16, interlace=True),
        "png-rgb16": _png(2, 16, interlace=False),
        "png-la-adam7": _png(4, 8, interlace=True),
        "apng": _animated("PNG", "RGBA", disposal=[0, 1, 2], blend=[0, 1, 0]),
        "apng-hidden-default": _animated("PNG", "RGB", default_image=True),
        "gif-still": save(p("P"), "GIF"),
        "gif-animated": _animated("GIF", "P", transparency=0, disposal=2, loop=0),
        "gif-interlaced": save(p("P"), "GIF", interlace=True),
        "webp-lossy": save(p(), "WEBP", quality=60),
        "webp-lossless-alpha": save(p("RGBA"), "WEBP", lossless=True),
        "webp-animated": _animated("WEBP", "RGBA", lossless=True),
        "webp-animated-lossy": _animated("WEBP", "RGB", quality=50),
        "webp-exif-3": save(p(), "WEBP", exif=_exif_orientation(3)),
        "tiff-raw": save(p(), "TIFF"),
        "tiff-deflate-rgba": save(p("RGBA"), "TIFF", compression="tiff_adobe_deflate"),
        "tiff-lzw-grey": save(p("L"), "TIFF", compression="tiff_lzw"),
        "tiff-packbits": save(p(), "TIFF", compression="packbits"),
        "tiff-group4": save(p("1"), "TIFF", compression="group4"),
        "tiff-jpeg": save(p(), "TIFF", compression="jpeg"),
        "tiff-16bit": save(p("L").convert("I;16"), "TIFF"),
        "tiff-float": save(p("L").convert("F"), "TIFF"),
        "tiff-cmyk": save(p("CMYK"), "TIFF"),
        "tiff-lab": save(p("LAB"), "TIFF"),
        "tiff-ycbcr": save(p("YCbCr"), "TIFF"),
        "tiff-two-pages": save(p(), "TIFF", save_all=True, append_images=[p("L")]),
        "bmp-24": save(p(), "BMP"),
        "bmp-32": save(p("RGBA"), "BMP"),
        "bmp-8": save(p("P"), "BMP"),
        "bmp-1": save(p("1"), "BMP"),
        "bmp-rle8": _bmp_rle8(),
        "avif-rgb": save(p(), "AVIF", quality=50, speed=10),
        "avif-rgba": save(p("RGBA"), "AVIF", quality=50, speed=10),
        "avif-animated": _animated("AVIF", "RGB", quality=40, speed=10),
        "heic-rgb": save(p(), "HEIF", quality=50),
        "heic-rgba": save(p("RGBA"), "HEIF", quality=50),
        "heic-grey": save(p("L"), "HEIF", quality=50),
        "heic-exif-6": save(p(), "HEIF", exif=_exif_orientation(6).tobytes()),
        "heic-three-primary-second": _animated("HEIF", "RGB", primary_index=1),
        "jxl-rgb": save(p(), "JXL", quality=80, effort=3, lossless_jpeg=False),
        "jxl-rgba-container": save(p("RGBA"), "JXL", lossless=True, use_container=True),
        "jxl-grey": save(p("L"), "JXL", quality=80, lossless_jpeg=False),
        "jxl-jpeg": _jxl_holding_jpeg(),
    }
    return seeds


SHARED = (
    "formats/hopper.jpg",
    "formats/hopper_gray.jpg",
    "formats/hopper_16bit_qtables.jpg",
    "formats/hopper_orientation_6.jpg",
    "formats/exif_gps.jpg",
    "formats/hopper.png",
    "formats/blend_transparency.png",
    "formats/hopper.gif",
    "formats/dispose_bgnd_rgba.gif",
    "formats/hopper.webp",
    "formats/anim_frame1.webp",
    "formats/hopper_orientation_6.webp",
    "formats/hopper.tif",
    "formats/16bit.cropped.tif",
    "formats/hopper.bmp",
    "formats/hopper.avif",
    "bad/hopper_bad_exif.jpg",
)
# Small real files made by other HEIF and JPEG XL encoders (tests/samples/README.md).
OWN = Path(__file__).resolve().parents[1] / "samples"


@cache
def shared() -> dict[str, bytes]:
    found = {name: (TESTDATA / name).read_bytes() for name in SHARED if (TESTDATA / name).exists()}
    return (
        found
        | {path.name: path.read_bytes() for path in sorted(OWN.glob("*.he[ic][cf]"))}
        | {path.name: path.read_bytes() for path in sorted(OWN.glob("*.jxl"))}
    )


@cache
def by_format() -> dict[str, list[bytes]]:
    """Every seed, grouped by the format sniffed from its bytes."""
    groups: dict[str, list[bytes]] = {}
    for data in (generated() | shared()).values():
        groups.setdefault(sniff(data).name, []).append(data)
    return groups


@cache
def small_rgba() -> bytes:
    """A small real image for the pipeline and referenced-image tests."""
    return generated()["png-rgba"]
