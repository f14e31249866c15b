"""pyvips (libvips from the pyvips-binary wheel), used as its documentation advises for speed.

``thumbnail_buffer`` for every downsize (it shrinks while decoding: JPEG shrink-on-load), a
sequential-access load where the operation streams top to bottom, and the encoder options in the
save suffix. The operation cache is off, as image servers run libvips (a cache hit would not
be a measurement). VIPS_CONCURRENCY is set by the runner before this module is imported.
"""

from __future__ import annotations

import pyvips

from .. import workloads as w
from . import Base

pyvips.cache_set_max(0)
pyvips.cache_set_max_mem(0)

LIBVIPS = ".".join(str(pyvips.version(part)) for part in range(3))
UNBOUNDED = 10_000_000  # thumbnail to a width only: a height that never binds
_SAVE = {
    "jpg": ".jpg[Q={q},keep=none]",
    "webp": ".webp[Q={q},effort=" + str(w.WEBP_METHOD) + ",keep=none]",
    "avif": ".avif[Q={q},effort=" + str(9 - w.AVIF_SPEED) + ",keep=none]",
    "png": ".png[compression=" + str(w.PNG_COMPRESSION) + ",keep=none]",
    "gif": ".gif[keep=none]",
}


def _save(image: pyvips.Image, output: str, quality: int | None = None) -> bytes:
    q = quality or w.QUALITY.get(output, 0)
    if output == "jpg" and image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    return image.write_to_buffer(_SAVE[output].format(q=q))


def _load(data: bytes, sequential: bool = True) -> pyvips.Image:
    image = pyvips.Image.new_from_buffer(data, "", access="sequential" if sequential else "random")
    return image.autorot()


def _frames_rot90(data: bytes) -> pyvips.Image:
    """An animation's pages, each turned a quarter clockwise, joined again."""
    strip = pyvips.Image.new_from_buffer(data, "", n=-1)
    height = strip.get("page-height")
    pages = [strip.crop(0, top, strip.width, height) for top in range(0, strip.height, height)]
    turned = pyvips.Image.arrayjoin([page.rot90() for page in pages], across=1)
    turned = turned.copy()
    turned.set_type(pyvips.GValue.gint_type, "page-height", pages[0].width)
    return turned


class Pyvips(Base):
    name = "pyvips"
    version = f"libvips {LIBVIPS} (pyvips {pyvips.__version__})"

    def thumbnail(self, data: bytes, output: str) -> bytes:
        options = "n=-1" if output == "gif" else ""
        image = pyvips.Image.thumbnail_buffer(
            data, w.THUMBNAIL, height=w.THUMBNAIL, size="down", option_string=options
        )
        return _save(image, output)

    def resize_webp(self, data: bytes, output: str) -> bytes:
        image = pyvips.Image.thumbnail_buffer(data, w.RESIZE_WIDTH, height=UNBOUNDED)
        return _save(image, output)

    def resize_avif(self, data: bytes, output: str) -> bytes:
        return self.resize_webp(data, output)

    def rotate(self, data: bytes, output: str) -> bytes:
        if output == "gif":
            return _save(_frames_rot90(data), output)
        return _save(_load(data, sequential=False).rot90(), output)

    def blur(self, data: bytes, output: str) -> bytes:
        return _save(_load(data).gaussblur(w.BLUR_SIGMA), output)

    def grayscale(self, data: bytes, output: str) -> bytes:
        return _save(_load(data).colourspace("b-w"), output)

    def to_png(self, data: bytes, output: str) -> bytes:
        return _save(_load(data), output)

    def to_webp(self, data: bytes, output: str) -> bytes:
        return _save(_load(data), output)

    def pipeline(self, data: bytes, output: str) -> bytes:
        image = pyvips.Image.thumbnail_buffer(data, w.PIPELINE_WIDTH, height=UNBOUNDED)
        left, top, right, bottom = w.centre_box((image.width, image.height), *w.PIPELINE_CROP)
        image = image.crop(left, top, right - left, bottom - top)
        # Unsharp mask as Pillow defines it: image + amount * (image - gaussian(radius)).
        blurred = image.gaussblur(w.SHARPEN_RADIUS)
        image = (image + (image - blurred) * w.SHARPEN_AMOUNT).cast("uchar")
        # Saturation as Pillow's ImageEnhance.Color: blend away from the luma (ITU-R 601).
        luma = image.recomb([[0.299, 0.587, 0.114]])
        image = (luma + (image - luma) * w.SATURATION).cast("uchar")
        return _save(image, output, quality=w.PIPELINE_QUALITY)


PEER = Pyvips()
