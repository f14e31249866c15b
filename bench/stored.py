"""Thumbnails of stored images: made from the reduced working copy, against decoding the original.

At upload, a still image larger than 1024 px gets reduced working copies (``working_copy.admit``,
as the upload and ingest paths call it); a variant one serves is rendered from it, with the
original's size and format (``render(..., source_size=, source_format=)``, as
``services.transform.render_stored`` calls it). This times that thumbnail against a full decode
of the original (the cost it replaces) and the 1/8-scale draft decode (the floor of a thumbnail
made from the original), and compares its pixels with the thumbnail made from the original.
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageChops, ImageStat

from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import parse_path
from progimage_service.imaging.plan import serving_copy
from progimage_service.imaging.render import render
from progimage_service.imaging.working_copy import admit

from .cputime import interleaved_medians
from .inputs import Input

PIPELINE = "thumbnail:256"


def psnr(a: bytes, b: bytes) -> float:
    """PSNR in dB of two encoded images of one size."""
    first, second = Image.open(io.BytesIO(a)).convert("RGB"), Image.open(io.BytesIO(b))
    diff = ImageChops.difference(first, second.convert("RGB"))
    mse = sum(v * v for v in ImageStat.Stat(diff).rms) / 3
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def measure(item: Input, repeat: int) -> dict:
    """Median CPU ms of the three, interleaved, and the PSNR of the two thumbnails."""
    data, limits = item.read(), Limits()
    info, made, _ = admit(data, limits)
    size = (info.width, info.height)
    kind = serving_copy(parse_path(PIPELINE), size, tuple(c.kind for c in made))
    copy = next((c for c in made if c.kind == kind), None)
    if copy is None:
        return {"input": item.name, "working_copy": None}
    source = {"source_size": size, "source_format": info.format, "copy_reach": copy.kind.reach}

    def full_decode() -> None:
        Image.open(io.BytesIO(data)).load()

    def draft_decode() -> None:
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (image.width // 8, image.height // 8))
        image.load()

    def from_copy() -> None:
        render(copy.data, parse_path(f"{PIPELINE}.jpg"), limits, **source)

    work = {"full_decode": full_decode, "draft_decode": draft_decode, "from_copy": from_copy}
    medians = interleaved_medians(work, repeat)
    lossless = parse_path(f"{PIPELINE}.png")
    return {
        "input": item.name,
        "working_copy": {
            "format": copy.format.name,
            "size": [copy.width, copy.height],
            "bytes": len(copy.data),
        },
        **{f"{name}_ms": round(value, 1) for name, value in medians.items()},
        "from_copy_over_full_decode": round(medians["from_copy"] / medians["full_decode"], 3),
        "from_copy_over_draft_decode": round(medians["from_copy"] / medians["draft_decode"], 3),
        # Pixels, not encoder noise: both thumbnails as PNG.
        "psnr_db": round(
            psnr(
                render(copy.data, lossless, limits, **source).data,
                render(data, lossless, limits).data,
            ),
            1,
        ),
    }


def markdown(entries: list[dict]) -> list[str]:
    """The report's section."""
    if not entries:
        return []
    lines = [
        "### Thumbnail of a stored image, from its working copy",
        "",
        f"CPU ms, median. `{PIPELINE}.jpg` rendered from the working copy the plan picks "
        "(1024 px), against decoding the original in full and at 1/8 scale; PSNR of the "
        "thumbnail against the one made from the original (both lossless).",
        "",
        "| input | full decode | 1/8 decode | from the copy | ÷ full decode | PSNR dB |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for e in entries:
        if e["working_copy"] is None:
            continue
        lines.append(
            f"| {e['input']} | {e['full_decode_ms']:,.0f} | {e['draft_decode_ms']:,.1f} "
            f"| {e['from_copy_ms']:,.1f} | {e['from_copy_over_full_decode']:.2f} "
            f"| {e['psnr_db']} |"
        )
    return [*lines, ""]
