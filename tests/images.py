"""Test helpers: the shared test images, and comparing images by similarity rather than bytes."""

from __future__ import annotations

import io
import math
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
