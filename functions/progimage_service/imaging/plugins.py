"""The plugins of HEIC and JPEG XL, registered with Pillow on the first image of their format.

Importing them costs every cold start that renders (pillow_heif about 35 ms, pillow_jxl about
25 ms, measured with ``python -X importtime``), so nothing imports them until an image of their
format is opened or encoded: ``register(fmt)`` is called by decode.py and encode.py with the
format at hand, and does nothing for the others.
"""

from __future__ import annotations

from functools import cache

from .formats import Format


def register(fmt: Format) -> None:
    """Make the plugin of ``fmt`` known to Pillow, if it has one that is not built in."""
    if fmt.name == "heic":
        _heif()
    elif fmt.name == "jxl":
        _jxl()


@cache
def _heif() -> None:
    import pillow_heif

    # HEIF only: pillow-heif 1.x has no AVIF opener (Pillow's own plugin reads AVIF, and only
    # it). The primary image is the picture: no embedded thumbnail is ever decoded in its place
    # (Pillow's draft would), and depth and auxiliary images are not read. libheif's own security
    # limits stay on; ours, stricter on size, are checked from the header first (decode.py).
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


@cache
def _jxl() -> None:
    import pillow_jxl  # noqa: F401  (registers its opener and its encoder for "JXL")
    from PIL import Image

    from .jxl import JxlImageFile, _accept

    # Its opener decodes inside Image.open: ours reads the header only (see jxl.py).
    Image.register_open(JxlImageFile.format, JxlImageFile, _accept)
