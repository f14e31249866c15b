"""Bring decoded frames into the few modes the operations work in, in sRGB."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageCms, ImageFile


@cache
def _srgb() -> ImageCms.core.CmsProfile:
    """The sRGB profile every image is converted into (made once, on first use)."""
    return ImageCms.createProfile("sRGB")


_KEPT = {"L", "LA", "RGB", "RGBA"}
_WITH_ALPHA = {"LA", "RGBA", "PA", "RGBa", "La"}


def working_mode(image: Image.Image) -> Image.Image:
    """Return the image in L, LA, RGB or RGBA, colour-managed into sRGB, without metadata.

    The image itself may be returned, its metadata cleared: pass a frame the caller owns.

    An embedded ICC profile is applied (then dropped), so every later step and every output
    format sees sRGB values; EXIF, XMP and comments never leave this function.
    """
    image = _to_srgb(image)
    mode = image.mode
    if mode in _KEPT:
        result = image
    elif mode == "1":
        result = image.convert("L")
    elif mode == "P":
        result = image.convert("RGBA" if _has_transparency(image) else "RGB")
    elif mode.startswith("I") or mode == "F":
        # 16-bit and float greys: scale to 8 bits rather than clip (Pillow's convert clips).
        scale = 1 / 256 if mode.startswith("I;16") or image.getextrema()[1] > 255 else 1  # type: ignore[index]
        result = image.convert("I").point(lambda v: v * scale).convert("L")
    else:  # CMYK, YCbCr, LAB, HSV, RGBX, RGBa, La, PA...
        result = image.convert("RGBA" if mode in _WITH_ALPHA else "RGB")
    if isinstance(result, ImageFile.ImageFile):
        # Still the file object: it keeps its file's tags besides ``info``, and Pillow's TIFF
        # writer copies every one into its output (the source's artist and GPS, and from a
        # damaged file values libtiff refuses to write). A plain image over the same pixels.
        result = result._new(result.im)
    result.info = {}  # the caller owns the decoded frame: no copy (a full-size one cost 46 MB)
    return result


def _has_transparency(image: Image.Image) -> bool:
    return "transparency" in image.info or (
        image.palette is not None and image.palette.mode == "RGBA"
    )


def _to_srgb(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if image.mode == "L":
            return image  # a grey profile has no sRGB counterpart worth converting to
        out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, _srgb(), outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # an unusable profile: keep the pixels as they are
    return converted if converted is not None else image


def flatten(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Composite an image with alpha onto an opaque colour (for formats without alpha)."""
    if image.mode not in ("LA", "RGBA"):
        return image
    rgba = image.convert("RGBA")
    base = Image.new("RGB", image.size, background)
    base.paste(rgba, mask=rgba.getchannel("A"))
    return base if image.mode == "RGBA" else base.convert("L")
