"""Encode frames into an output format with per-format defaults."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .colour import flatten
from .formats import Format

WHITE = (255, 255, 255)

# Default compression per lossy format (the contract: JPEG 85, WebP 80, AVIF 60).
DEFAULT_QUALITY = {"jpeg": 85, "webp": 80, "avif": 60}


@dataclass(frozen=True)
class Frame:
    image: Image.Image
    duration: int  # milliseconds; 0 for still images


@dataclass(frozen=True)
class EncodeOptions:
    quality: int | None = None  # None: the format's default
    background: tuple[int, int, int] = WHITE  # behind transparency, where the format has no alpha
    loop: int = 0


def encode(frames: Sequence[Frame], fmt: Format, options: EncodeOptions = EncodeOptions()) -> bytes:
    """Save the frames (all of them where the format is animated, else the first)."""
    images = [_for_format(frame.image, fmt, options.background) for frame in frames]
    buffer = io.BytesIO()
    params = _save_params(fmt, options)
    if fmt.animated and len(images) > 1:
        params |= {
            "save_all": True,
            "append_images": images[1:],
            "duration": [max(frame.duration, 0) for frame in frames],
            "loop": options.loop,
        }
        if fmt.name == "gif":
            params["disposal"] = 2  # every frame is complete: clear before drawing the next
    images[0].save(buffer, format=fmt.pillow, **params)
    return buffer.getvalue()


def _for_format(image: Image.Image, fmt: Format, background: tuple[int, int, int]) -> Image.Image:
    if not fmt.alpha:
        image = flatten(image, background)
    if fmt.name in ("webp", "avif") and image.mode in ("L", "LA"):
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")
    if fmt.name == "gif" and image.mode in ("LA", "RGBA"):
        image = _binary_alpha(image)
    return image


def _binary_alpha(image: Image.Image) -> Image.Image:
    """GIF has one transparent palette entry, not an alpha channel: each pixel is either
    transparent or opaque, so partial alpha (resized edges, grey with alpha) is thresholded."""
    rgba = image.convert("RGBA")
    rgba.putalpha(rgba.getchannel("A").point(lambda a: 255 if a >= 128 else 0))
    return rgba


def _save_params(fmt: Format, options: EncodeOptions) -> dict[str, Any]:
    quality = options.quality or DEFAULT_QUALITY.get(fmt.name)
    match fmt.name:
        case "jpeg":
            return {"quality": quality}
        case "webp":
            return {"quality": quality, "method": 4}
        case "avif":
            return {"quality": quality, "speed": 6}
        case "png":
            return {"compress_level": 6}
        case "tiff":
            return {"compression": "tiff_adobe_deflate"}
        case _:
            return {}
