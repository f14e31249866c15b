"""Pillow's modules, imported on first use.

The operation registry and the formats table are read on every request, but a request served
from the variant cache (or a delete, or a listing) does no image work, and importing Pillow costs
about 35 ms of cold start. Every imaging module takes Pillow's modules from here: each is a lazy
module that imports itself the first time one of its attributes is read.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING


def _lazy(name: str) -> ModuleType:
    """The module called ``name``: already imported, or one that imports on first use."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}", name=name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)
    return module


if TYPE_CHECKING:
    from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageFilter, ImageOps
else:
    Image = _lazy("PIL.Image")
    ImageChops = _lazy("PIL.ImageChops")
    ImageCms = _lazy("PIL.ImageCms")
    ImageDraw = _lazy("PIL.ImageDraw")
    ImageFilter = _lazy("PIL.ImageFilter")
    ImageOps = _lazy("PIL.ImageOps")

__all__ = [
    "Image",
    "ImageChops",
    "ImageCms",
    "ImageDraw",
    "ImageFilter",
    "ImageOps",
]
