"""The allowlist of image formats: how each is recognised, named, served and saved.

Formats are sniffed from the bytes themselves, never from a header or file name, and only a format
in this table is ever handed to a decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnsupportedMedia
from .grammar import echo


@dataclass(frozen=True)
class Format:
    """One allowlisted format."""

    name: str  # our name, as in the image record: "jpeg", "png", ...
    pillow: str  # Pillow's plugin name, the only plugin allowed to open it
    content_type: str
    extension: str  # the canonical file extension
    alpha: bool  # can hold transparency
    animated: bool  # can hold several timed frames


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("jpeg", "JPEG", "image/jpeg", "jpg", alpha=False, animated=False),
        Format("png", "PNG", "image/png", "png", alpha=True, animated=True),
        Format("webp", "WEBP", "image/webp", "webp", alpha=True, animated=True),
        Format("gif", "GIF", "image/gif", "gif", alpha=True, animated=True),
        Format("avif", "AVIF", "image/avif", "avif", alpha=True, animated=True),
        Format("tiff", "TIFF", "image/tiff", "tiff", alpha=True, animated=False),
        Format("bmp", "BMP", "image/bmp", "bmp", alpha=False, animated=False),
        # HEIF holding HEVC pictures (the iPhone's): one format, written as .heic or .heif. Its
        # further images and sequences are never rendered: the primary image is the picture.
        Format("heic", "HEIF", "image/heic", "heic", alpha=True, animated=False),
        # A JPEG XL animation is rendered as its first frame (the plugin decodes one).
        Format("jxl", "JXL", "image/jxl", "jxl", alpha=True, animated=False),
    )
}

# URL extensions, including the aliases people type.
EXTENSIONS: dict[str, Format] = {f.extension: f for f in FORMATS.values()} | {
    "jpeg": FORMATS["jpeg"],
    "tif": FORMATS["tiff"],
    "heif": FORMATS["heic"],
}

_AVIF_BRANDS = (b"avif", b"avis")
# The major brands of a HEIF file of HEVC pictures (still, multi-image, sequence), and the
# generic image and sequence brands (mif1, msf1): pillow-heif's list, so that nothing sniffed as
# HEIC is refused by the only plugin allowed to open it. AVIF is also a HEIF (mif1 is its usual
# compatible brand and may be its major one): its own brands are looked for first, as before.
_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs")
_HEIC_BRANDS += (b"mif1", b"msf1")
_JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"


def sniff(data: bytes) -> Format:
    """Recognise an allowlisted format from the first bytes, or raise 415."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return FORMATS["jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FORMATS["png"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FORMATS["gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FORMATS["webp"]
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return FORMATS["tiff"]
    if head[:2] == b"BM" and len(head) >= 26:
        return FORMATS["bmp"]
    if head[4:8] == b"ftyp" and _is_avif(head):
        return FORMATS["avif"]
    if head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return FORMATS["heic"]
    if head[:2] == b"\xff\x0a" or head[:12] == _JXL_CONTAINER:
        return FORMATS["jxl"]
    raise UnsupportedMedia(
        "not an image in a supported format (supported: " + ", ".join(FORMATS) + ")",
        code="unsupported_format",
    )


def _is_avif(head: bytes) -> bool:
    box_size = int.from_bytes(head[:4], "big")
    brands = head[8:12] + head[16 : min(box_size, len(head))]
    return any(brands[i : i + 4] in _AVIF_BRANDS for i in range(0, len(brands) - 3, 4))


def for_extension(extension: str) -> Format:
    """The output format for a URL extension, or raise 415 naming the valid ones."""
    fmt = EXTENSIONS.get(extension.lower())
    if fmt is None:
        raise UnsupportedMedia(
            f"unsupported output format {echo(extension)}; valid: {', '.join(sorted(EXTENSIONS))}",
            param="format",
            code="unsupported_format",
        )
    return fmt
