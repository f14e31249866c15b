"""thumbor's PIL engine, in-process, built as thumbor's own tests build it (Config, Context).

Each call does what thumbor's transformer does for the matching URL: a new Engine per request,
``load`` (lazy open), the geometry through the engine (its ``resize`` asks the JPEG decoder for
a draft first), the filters through thumbor's C filter kernels the way its filter classes call
them, and ``read`` to encode. thumbor writes baseline JPEGs here (PROGRESSIVE_JPEG off, as every
other peer does); its engine always adds ``optimize=True``.

Importing thumbor changes Pillow's globals (ImageFile.MAXBLOCK, LOAD_TRUNCATED_IMAGES,
Image.MAX_IMAGE_PIXELS). They are put back after the import and set only around thumbor's own
calls, so that the other peers in this process run on Pillow's defaults.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version

from PIL import Image, ImageFile


def _pillow_globals() -> tuple[int, bool, float | int | None]:
    return ImageFile.MAXBLOCK, ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS


def _set_pillow_globals(values: tuple[int, bool, float | int | None]) -> None:
    ImageFile.MAXBLOCK, ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = values


_PILLOW_DEFAULTS = _pillow_globals()
try:
    from thumbor.config import Config
    from thumbor.context import Context
    from thumbor.engines.pil import Engine
    from thumbor.ext.filters import _saturation, _sharpen
    from thumbor.filters.blur import apply_blur
finally:
    _THUMBOR_GLOBALS = _pillow_globals()
    _set_pillow_globals(_PILLOW_DEFAULTS)

from .. import workloads as w  # noqa: E402
from . import Base, NotApplicable  # noqa: E402

_EXTENSION = {"jpg": ".jpg", "png": ".png", "webp": ".webp", "avif": ".avif", "gif": ".gif"}
BLUR_RADIUS = math.ceil(3 * w.BLUR_SIGMA)  # thumbor's blur(radius, sigma): the kernel's half-width


def _context() -> Context:
    config = Config(ENGINE="thumbor.engines.pil", PROGRESSIVE_JPEG=False)
    return Context(config=config)


CONTEXT = _context()


@contextmanager
def _thumbor_pillow() -> Iterator[None]:
    _set_pillow_globals(_THUMBOR_GLOBALS)
    try:
        yield
    finally:
        _set_pillow_globals(_PILLOW_DEFAULTS)


def _engine(data: bytes) -> Engine:
    engine = Engine(CONTEXT)
    engine.load(data, None)  # None: thumbor sniffs the type, as its loaders leave it
    return engine


def _read(engine: Engine, output: str, quality: int | None = None) -> bytes:
    return engine.read(_EXTENSION[output], quality or w.QUALITY.get(output))


def _resize_to(engine: Engine, size: tuple[int, int]) -> None:
    if size != engine.size:
        engine.resize(*size)


class Thumbor(Base):
    name = "thumbor"
    version = f"thumbor {version('thumbor')}"

    def run(self, workload: str, data: bytes, output: str) -> bytes:
        with _thumbor_pillow():
            return super().run(workload, data, output)

    def thumbnail(self, data: bytes, output: str) -> bytes:  # /fit-in/256x256/
        engine = _engine(data)
        _resize_to(engine, w.thumbnail_size(engine.size))
        return _read(engine, output)

    def resize_webp(self, data: bytes, output: str) -> bytes:  # /1024x0/filters:format(webp)
        engine = _engine(data)
        _resize_to(engine, w.fit(engine.size, w.RESIZE_WIDTH, 0))
        return _read(engine, output)

    def resize_avif(self, data: bytes, output: str) -> bytes:
        return self.resize_webp(data, output)

    def rotate(self, data: bytes, output: str) -> bytes:  # filters:rotate(270): PIL turns left
        if output == "gif":
            # Its MultipleEngine passes resize, crop and flips to every frame, but not rotate:
            # the animation would come back unturned.
            raise NotApplicable("thumbor's PIL engine does not rotate animation frames")
        engine = _engine(data)
        engine.rotate(270)
        return _read(engine, output)

    def blur(self, data: bytes, output: str) -> bytes:  # filters:blur(12,4)
        engine = _engine(data)
        mode, pixels = engine.image_data_as_rgb()
        engine.set_image_data(apply_blur(mode, pixels, engine.size, BLUR_RADIUS, w.BLUR_SIGMA))
        return _read(engine, output)

    def grayscale(self, data: bytes, output: str) -> bytes:  # filters:grayscale()
        engine = _engine(data)
        engine.convert_to_grayscale()
        return _read(engine, output)

    def to_png(self, data: bytes, output: str) -> bytes:  # filters:format(png)
        return _read(_engine(data), output)

    def to_webp(self, data: bytes, output: str) -> bytes:
        return _read(_engine(data), output)

    def pipeline(self, data: bytes, output: str) -> bytes:
        # /1600x0/ then crop, filters:sharpen(1,2,false):saturation(1.2):quality(80)
        engine = _engine(data)
        _resize_to(engine, w.fit(engine.size, w.PIPELINE_WIDTH, 0))
        engine.crop(*w.centre_box(engine.size, *w.PIPELINE_CROP))
        width, height = engine.size
        mode, pixels = engine.image_data_as_rgb()
        pixels = _sharpen.apply(
            mode, width, height, w.SHARPEN_AMOUNT, w.SHARPEN_RADIUS, False, pixels
        )
        pixels = _saturation.apply(mode, w.SATURATION, pixels)
        engine.set_image_data(pixels)
        return _read(engine, output, quality=w.PIPELINE_QUALITY)


PEER = Thumbor()
