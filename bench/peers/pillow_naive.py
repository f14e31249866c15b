"""Naive Pillow: open, decode everything at full size, operate, save. No draft, no reducing_gap.

This is what a first implementation usually looks like; it shows what ProgImage's care buys.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageEnhance, ImageFilter, ImageSequence
from PIL import __version__ as pillow_version

from .. import workloads as w
from . import Base

LANCZOS = Image.Resampling.LANCZOS
Operation = Callable[[Image.Image], Image.Image]


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _save(image: Image.Image, output: str, quality: int | None = None) -> bytes:
    buffer = io.BytesIO()
    if output == "jpg":
        image.convert("RGB").save(buffer, "JPEG", quality=quality or w.QUALITY["jpg"])
    elif output == "png":
        image.save(buffer, "PNG", compress_level=w.PNG_COMPRESSION)
    elif output == "webp":
        image.save(buffer, "WEBP", quality=quality or w.QUALITY["webp"], method=w.WEBP_METHOD)
    elif output == "avif":
        image.save(buffer, "AVIF", quality=quality or w.QUALITY["avif"], speed=w.AVIF_SPEED)
    else:
        raise ValueError(output)
    return buffer.getvalue()


def _colour(image: Image.Image) -> Image.Image:
    return image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert("RGBA")


def _animated(data: bytes, operate: Operation) -> bytes:
    """Every frame of a GIF, operated on, saved as an animated GIF again."""
    source = Image.open(io.BytesIO(data))
    frames, durations = [], []
    for frame in ImageSequence.Iterator(source):
        frames.append(operate(frame.convert("RGBA")))
        durations.append(frame.info.get("duration", 0))
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0
    )
    return buffer.getvalue()


def _resize_to_width(image: Image.Image) -> Image.Image:
    return image.resize(w.fit(image.size, w.RESIZE_WIDTH, 0), LANCZOS)


class PillowNaive(Base):
    name = "pillow"
    version = f"Pillow {pillow_version}"

    def thumbnail(self, data: bytes, output: str) -> bytes:
        def shrink(image: Image.Image) -> Image.Image:
            return image.resize(w.thumbnail_size(image.size), LANCZOS)

        if output == "gif":
            return _animated(data, shrink)
        return _save(shrink(_colour(_open(data))), output)

    def resize_webp(self, data: bytes, output: str) -> bytes:
        return _save(_resize_to_width(_colour(_open(data))), output)

    def resize_avif(self, data: bytes, output: str) -> bytes:
        return _save(_resize_to_width(_colour(_open(data))), output)

    def rotate(self, data: bytes, output: str) -> bytes:
        def turn(image: Image.Image) -> Image.Image:
            return image.transpose(Image.Transpose.ROTATE_270)  # 90 clockwise

        if output == "gif":
            return _animated(data, turn)
        return _save(turn(_open(data)), output)

    def blur(self, data: bytes, output: str) -> bytes:
        return _save(_open(data).filter(ImageFilter.GaussianBlur(w.BLUR_SIGMA)), output)

    def grayscale(self, data: bytes, output: str) -> bytes:
        image = _open(data)
        return _save(image.convert("LA" if "A" in image.mode else "L"), output)

    def to_png(self, data: bytes, output: str) -> bytes:
        return _save(_open(data), output)

    def to_webp(self, data: bytes, output: str) -> bytes:
        return _save(_open(data), output)

    def pipeline(self, data: bytes, output: str) -> bytes:
        image = _open(data)
        image = image.resize(w.fit(image.size, w.PIPELINE_WIDTH, 0), LANCZOS)
        image = image.crop(w.centre_box(image.size, *w.PIPELINE_CROP))
        percent = round(w.SHARPEN_AMOUNT * 100)
        image = image.filter(ImageFilter.UnsharpMask(w.SHARPEN_RADIUS, percent, 0))
        image = ImageEnhance.Color(image).enhance(w.SATURATION)
        return _save(image, output, quality=w.PIPELINE_QUALITY)


PEER = PillowNaive()
