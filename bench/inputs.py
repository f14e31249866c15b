"""The benchmark's inputs, generated once into ``bench/.cache/`` and reused.

The JPEGs are photo-like: a real photo cropped to the aspect, upscaled, with fine grain added so
that the entropy-coded data (and so the decode cost) is what a camera's would be (about 3 MB for
12 MP at quality 90). Everything is deterministic: the grain comes from a seeded generator.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageOps

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
# The shared test photo sits beside the checkout (as the tests find it); a synthetic picture
# stands in where it is missing.
SOURCE = BENCH.parents[1] / "shared" / "testdata" / "exif-orientation" / "Landscape_1.jpg"
GENERATOR = 1  # bump when the generation changes, so that cached files are made again
GRAIN = 7  # amplitude of the added grain, in levels either side of the pixel value
JPEG_QUALITY = 90
GIF_FRAMES = 30
QUICK_GIF_FRAMES = 10


@dataclass(frozen=True)
class Input:
    name: str
    kind: str  # "jpeg", "pjpeg", "png" or "gif": which workloads apply (see workloads.py)
    size: tuple[int, int]
    path: Path
    description: str

    @property
    def megapixels(self) -> float:
        return self.size[0] * self.size[1] / 1e6

    def read(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True)
class _Spec:
    name: str
    kind: str
    size: tuple[int, int]
    description: str
    make: Callable[[tuple[int, int]], bytes]
    tag: str = ""  # in the cached file's name, for what the size does not tell


def _source() -> Image.Image:
    if SOURCE.is_file():
        return Image.open(SOURCE).convert("RGB")
    return Image.effect_mandelbrot((1800, 1200), (-2.2, -1.2, 1.0, 1.2), 120).convert("RGB")


def _photo(size: tuple[int, int], grain: bool = True) -> Image.Image:
    base = ImageOps.fit(_source(), size, Image.Resampling.LANCZOS)
    if not grain:
        return base
    rng = random.Random(f"grain-{size}")
    raw = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    noise = raw.point(lambda v: round(128 + (v - 128) * GRAIN / 128))
    return ImageChops.add(base, Image.merge("RGB", (noise, noise, noise)), scale=1.0, offset=-128)


def jpeg(progressive: bool) -> Callable[[tuple[int, int]], bytes]:
    def make(size: tuple[int, int]) -> bytes:
        buffer = io.BytesIO()
        _photo(size).save(buffer, "JPEG", quality=JPEG_QUALITY, progressive=progressive)
        return buffer.getvalue()

    return make


def _png_alpha(size: tuple[int, int]) -> bytes:
    """A photo with a soft elliptical vignette in its alpha channel."""
    image = _photo(size)
    alpha = ImageOps.invert(Image.radial_gradient("L")).resize(size, Image.Resampling.BICUBIC)
    image.putalpha(alpha.point(lambda v: min(255, v * 2)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _gif(count: int) -> Callable[[tuple[int, int]], bytes]:
    """A pan across the photo: each frame a window moved a little, with its own palette."""

    def make(size: tuple[int, int]) -> bytes:
        width, height = size
        scene = _photo((width * 3, height * 2), grain=False)
        frames = []
        for index in range(count):
            x = round(index * (scene.width - width) / (count - 1))
            y = round(index * (scene.height - height) / (count - 1))
            frame = scene.crop((x, y, x + width, y + height))
            frames.append(frame.quantize(256, method=Image.Quantize.MEDIANCUT))
        buffer = io.BytesIO()
        frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
        return buffer.getvalue()

    return make


def _specs(scale: float) -> list[_Spec]:
    frames = GIF_FRAMES if scale == 1.0 else QUICK_GIF_FRAMES

    def sized(width: int, height: int) -> tuple[int, int]:
        return round(width * scale), round(height * scale)

    return [
        _Spec("12mp", "jpeg", sized(4000, 3000), "baseline JPEG q90", jpeg(False)),
        _Spec("12mp-progressive", "pjpeg", sized(4000, 3000), "progressive JPEG q90", jpeg(True)),
        _Spec("24mp", "jpeg", sized(6000, 4000), "baseline JPEG q90", jpeg(False)),
        _Spec("24mp-progressive", "pjpeg", sized(6000, 4000), "progressive JPEG q90", jpeg(True)),
        _Spec("png-alpha", "png", sized(2400, 1600), "RGBA PNG, soft alpha", _png_alpha),
        _Spec(
            "gif-animated",
            "gif",
            sized(500, 500),
            f"{frames}-frame GIF",
            _gif(frames),
            tag=f"-{frames}f",
        ),
    ]


INPUT_NAMES = tuple(spec.name for spec in _specs(1.0))


def prepare(names: list[str] | None, quick: bool) -> list[Input]:
    """The requested inputs (all by default), generated into the cache where missing."""
    scale = 0.25 if quick else 1.0
    folder = CACHE / ("quick" if quick else "full")
    folder.mkdir(parents=True, exist_ok=True)
    chosen = [spec for spec in _specs(scale) if names is None or spec.name in names]
    inputs = []
    for spec in chosen:
        extension = {"jpeg": "jpg", "pjpeg": "jpg", "png": "png", "gif": "gif"}[spec.kind]
        stem = f"{spec.name}-{spec.size[0]}x{spec.size[1]}{spec.tag}"
        path = folder / f"{stem}-g{GENERATOR}.{extension}"
        if not path.exists():
            print(f"generating {path.relative_to(BENCH)} ...", flush=True)
            path.write_bytes(spec.make(spec.size))
        inputs.append(Input(spec.name, spec.kind, spec.size, path, spec.description))
    return inputs
