"""The workloads: what each one does, to which inputs it applies, and in which output format.

Each workload is written once as ProgImage's URL pipeline (the reference meaning); every peer
implements the same operation with the constants below, with its own idiomatic calls.

Input kinds: "jpeg" (baseline), "pjpeg" (progressive), "png" (with alpha), "gif" (animated).
The full-size workloads whose cost is mostly the encoder (blur, grayscale, the conversions) run
on the baseline JPEGs only: the progressive ones would add minutes of encoding and tell nothing
new, while the rows where decoding dominates (thumbnail, resizes, rotate, the pipeline) run on
both.
"""

from __future__ import annotations

from dataclasses import dataclass

THUMBNAIL = 256  # box side
RESIZE_WIDTH = 1024
BLUR_SIGMA = 4.0
PIPELINE_WIDTH = 1600
PIPELINE_CROP = (1200, 800)
SHARPEN_AMOUNT = 1.0  # unsharp mask: 100% at radius (sigma) 2
SHARPEN_RADIUS = 2.0
SATURATION = 1.2
PIPELINE_QUALITY = 80
# Encoder settings shared by every peer: ProgImage's defaults (the contract's qualities).
QUALITY = {"jpg": 85, "webp": 80, "avif": 60}
PNG_COMPRESSION = 6
WEBP_METHOD = 4  # libwebp's method/effort, the default of both Pillow and libvips
AVIF_SPEED = 6  # Pillow's default; libvips' effort 3 is the same libaom speed (9 - effort)


@dataclass(frozen=True)
class Workload:
    id: str
    title: str
    progimage: str  # ProgImage's pipeline (URL form, without the extension)
    outputs: dict[str, str]  # input kind -> output format; kinds not listed: n/a

    def output_for(self, kind: str) -> str | None:
        return self.outputs.get(kind)


WORKLOADS = (
    Workload(
        "thumbnail",
        "thumbnail 256",
        "thumbnail:256",
        {"jpeg": "jpg", "pjpeg": "jpg", "png": "png", "gif": "gif"},
    ),
    Workload(
        "resize_webp",
        "resize 1024w",
        "resize:1024:0",
        {"jpeg": "webp", "pjpeg": "webp", "png": "webp"},
    ),
    Workload("rotate", "rotate 90", "rotate:90", {"jpeg": "jpg", "pjpeg": "jpg", "gif": "gif"}),
    Workload("blur", "blur σ4", "blur:4", {"jpeg": "jpg"}),
    Workload("grayscale", "grayscale", "grayscale", {"jpeg": "png", "png": "png"}),
    Workload(
        "resize_avif",
        "resize 1024w",
        "resize:1024:0",
        {"jpeg": "avif", "pjpeg": "avif", "png": "avif"},
    ),
    Workload("to_png", "convert", "", {"jpeg": "png"}),
    Workload("to_webp", "convert", "", {"jpeg": "webp", "png": "webp"}),
    Workload(
        "pipeline",
        "5-op pipeline",
        "resize:1600:0/crop:1200:800/sharpen/saturation:1.2/quality:80",
        {"jpeg": "jpg", "pjpeg": "jpg"},
    ),
)


def select(only: list[str] | None) -> list[Workload]:
    """Workloads whose id equals or contains one of the words (``webp`` picks both WebP rows)."""
    if not only:
        return list(WORKLOADS)
    return [w for w in WORKLOADS if any(word == w.id or word in w.id for word in only)]


def fit(size: tuple[int, int], width: int, height: int) -> tuple[int, int]:
    """(w, h) scaled to fit inside width x height (0 = free), as ProgImage rounds it."""
    w, h = size
    if width == 0:
        scale = height / h
    elif height == 0:
        scale = width / w
    else:
        scale = min(width / w, height / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def thumbnail_size(size: tuple[int, int]) -> tuple[int, int]:
    """Inside the THUMBNAIL box, never enlarged."""
    if size[0] <= THUMBNAIL and size[1] <= THUMBNAIL:
        return size
    return fit(size, THUMBNAIL, THUMBNAIL)


def centre_box(size: tuple[int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) box of width x height at the centre, placed as ProgImage
    places it."""
    width, height = min(width, size[0]), min(size[1], height)
    x, y = round((size[0] - width) * 0.5), round((size[1] - height) * 0.5)
    return x, y, x + width, y + height
