"""Test helpers: the shared test images, and comparing images by similarity rather than bytes."""

from __future__ import annotations

import io
import math
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"


def sample(relative: str) -> bytes:
    return (TESTDATA / relative).read_bytes()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB of two same-size images, as seen over a grey background.

    Compositing first makes transparent pixels compare equal whatever colour they hide.
    """
    assert a.size == b.size, f"sizes differ: {a.size} != {b.size}"
    diff = ImageChops.difference(_on_grey(a), _on_grey(b))
    mse = sum(v * v for v in ImageStat.Stat(diff).rms) / 3
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def _on_grey(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", image.size, (128, 128, 128, 255)), rgba).convert(
        "RGB"
    )


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


# Adam7's passes: the first column and row of each, and its steps across and down.
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
_ADAM7 += ((0, 1, 1, 2),)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # samples per pixel of each colour type


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def raw_png(
    samples: bytes,
    size: tuple[int, int],
    colour_type: int,
    bit_depth: int = 8,
    interlace: bool = False,
    chunks: tuple[tuple[bytes, bytes], ...] = (),
) -> bytes:
    """A PNG of ``samples`` (rows top to bottom, 8 or 16 bits a sample, big-endian) as any
    encoder may write it, where Pillow's writer cannot: 16-bit colour, Adam7 interlacing.
    ``chunks`` go between IHDR and the image data (PLTE, tRNS, gAMA...)."""
    width, height = size
    pixel = PNG_CHANNELS[colour_type] * bit_depth // 8
    assert len(samples) == width * height * pixel, "one sample per channel of every pixel"
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    scanlines = bytearray()
    for x0, y0, dx, dy in passes:
        for y in range(y0, height, dy):
            row = samples[y * width * pixel : (y + 1) * width * pixel]
            pixels = [row[x * pixel : (x + 1) * pixel] for x in range(x0, width, dx)]
            if pixels:
                scanlines += b"\0" + b"".join(pixels)  # filter type 0: the row as it is
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, int(interlace))
    body = b"".join(png_chunk(kind, data) for kind, data in chunks)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + body
        + png_chunk(b"IDAT", zlib.compress(bytes(scanlines)))
        + png_chunk(b"IEND", b"")
    )
