"""Encode frames into an output format with per-format defaults."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .colour import flatten
from .formats import Format
from .plugins import register

WHITE = (255, 255, 255)

# Default compression per lossy format (the contract: JPEG 85, WebP 80, AVIF 60). HEIC's and
# JPEG XL's, measured against JPEG 85 on a 12 MP photo (docs/ARCHITECTURE.md, HEIC and JPEG XL).
DEFAULT_QUALITY = {"jpeg": 85, "webp": 80, "avif": 60, "heic": 50, "jxl": 85}
# x265's preset (libheif's default is "slow": 2.4 s of CPU a megapixel, 29 s for 12 MP). From
# "medium" to "veryfast" an intra picture costs about the same, 1.1 s/MP; "ultrafast" 0.33 s/MP,
# for files about a tenth larger at the same PSNR.
_HEIC_PRESET = "ultrafast"
# libjxl's effort (1-10, default 7: 0.9 s/MP); 4 takes 0.08 s/MP, for files about a tenth larger
# at the same quality setting, and more faithful to fine grain.
_JXL_EFFORT = 4
# The longest frame each animated format can hold, in milliseconds (GIF counts hundredths in 16
# bits, Pillow writes an APNG delay as a 16-bit fraction, WebP counts milliseconds in 24 bits),
# and the longest animation: libwebp's timestamps are C ints. An input may declare far longer
# (an APNG frame up to 18 hours, an AVIF one without bound).
_LONGEST_FRAME = {"gif": 655_350, "png": 65_535, "webp": 0xFFFFFF}
_LONGEST_ANIMATION = 2**31 - 1
# libaom's good-quality mode looks ahead across the frames of a sequence: two 4-megapixel frames
# took 730 MB and 5.5 s at speed 6. From speed 7 libavif encodes without the lookahead: 130 MB and
# 1.8 s, for files about a quarter larger. A still AVIF keeps the default speed.
_AVIF_ANIMATION_SPEED = 7


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
    register(fmt)
    images = [_for_format(frame.image, fmt, options.background) for frame in frames]
    buffer = io.BytesIO()
    params = _save_params(fmt, options)
    if fmt.animated and len(images) > 1:
        params |= {
            "save_all": True,
            "append_images": images[1:],
            "duration": _durations(frames, fmt),
            "loop": options.loop,
        }
        if fmt.name == "gif":
            params["disposal"] = 2  # every frame is complete: clear before drawing the next
        if fmt.name == "avif":
            params["speed"] = max(params["speed"], _AVIF_ANIMATION_SPEED)
    try:
        images[0].save(buffer, format=fmt.pillow, **params)
    except (OverflowError, ValueError):
        # Pillow's GIF and APNG writers merge identical consecutive frames and add up their
        # durations, which may then not fit one frame: share the longest among all the frames.
        if "duration" not in params or fmt.name not in ("gif", "png"):
            raise
        share = _LONGEST_FRAME[fmt.name] // len(images)
        params["duration"] = [min(d, share) for d in params["duration"]]
        buffer = io.BytesIO()
        images[0].save(buffer, format=fmt.pillow, **params)
    return buffer.getvalue()


def _durations(frames: Sequence[Frame], fmt: Format) -> list[int]:
    """The frames' durations, each within what the format holds, and in all within an int."""
    longest = _LONGEST_FRAME.get(fmt.name, _LONGEST_ANIMATION)
    durations = [min(max(frame.duration, 0), longest) for frame in frames]
    total = sum(durations)
    if total > _LONGEST_ANIMATION:
        durations = [d * _LONGEST_ANIMATION // total for d in durations]
    return durations


def _for_format(image: Image.Image, fmt: Format, background: tuple[int, int, int]) -> Image.Image:
    if not fmt.alpha:
        image = flatten(image, background)
    if fmt.name in ("webp", "avif") and image.mode in ("L", "LA"):
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")
    if fmt.name == "gif" and image.mode in ("LA", "RGBA"):
        image = _binary_alpha(image)
    elif fmt.name == "gif" and image.mode == "RGB":
        # Pillow's default palette (median cut) took 610 ms for a 2 MP photo; the octree takes
        # 43, for a file a fifth smaller at about 1 dB less.
        image = image.quantize(256, method=Image.Quantize.FASTOCTREE)
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
        case "heic":
            # No metadata, as every other format's output: pillow-heif would otherwise write the
            # frame's EXIF and turn its orientation into irot/imir, over pixels already upright.
            return {
                "quality": quality,
                "exif": None,
                "xmp": None,
                "enc_params": {"preset": _HEIC_PRESET},
            }
        case "jxl":
            # lossless_jpeg: pillow-jxl would read a JPEG's file again from its file name to
            # recompress it; the service encodes the pixels it rendered, and no EXIF. libjxl
            # refuses quality 100 (distance 0) unless it is told to encode losslessly.
            return {
                "quality": quality,
                "lossless": quality >= 100,
                "effort": _JXL_EFFORT,
                "lossless_jpeg": False,
                "exif": b"",
            }
        case "png":
            # zlib level 1, measured on a 12 MP photo: 0.62 s against 0.90 at level 3 and 2.46 at
            # 6, for files 5% larger than either; on flat graphics all three come out alike.
            return {"compress_level": 1}
        case "tiff":
            return {"compression": "tiff_adobe_deflate"}
        case _:
            return {}
