"""Smart crop: what placing a crop by attention or entropy costs, and how often it keeps the
subject, beside libvips' smartcrop.

    python -m bench.smartcrop [--repeat N] [--scenes N] [--json PATH]

Timed (CPU ms, interleaved medians, one core): the analysis alone on a 12 MP frame (decoded
beforehand), on the 2048 px working copy's frame, and on a JPEG's 1/8 draft decode (the decode
counted, as an ingest's focal point would run); pyvips' ``smartcrop`` on the same 12 MP pixels in
memory; and whole renders of ``resize:512:512:fill:smart`` against ``:fill`` (centre) from the
12 MP JPEG and from its working copy, beside pyvips' ``thumbnail_buffer(crop=attention)``.

Kept: on generated scenes with a known subject (tests/scenes.py: a textured, skin-toned or
saturated blob on a flat or smooth background, four aspect ratios), the share of crops holding
at least 90 % of the subject's box, ours and libvips' attention and entropy, and the centre.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from PIL import Image

from progimage_service.imaging import smartcrop
from progimage_service.imaging.copies import COPIES, copy_size
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.operations.base import place
from progimage_service.imaging.pipeline import parse_path
from progimage_service.imaging.render import render
from progimage_service.imaging.working_copy import admit
from tests.scenes import Box, iou, kept, scene

from .cputime import interleaved_medians
from .run import limit_cores

RESULTS = Path(__file__).resolve().parent / "results"
PICTURE = (4000, 3000)
CROP = (1500, 1500)  # a square from the 12 MP frame
SIZES = ((1200, 800), (800, 1200), (1000, 1000), (1600, 700))
CROPS = ((500, 500), (700, 400), (400, 700), (600, 600))
KEPT = 0.9


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _draft_focal(data: bytes) -> tuple[float, float]:
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (image.width // 8, image.height // 8))
    return smartcrop.focal_point(image.convert("RGB"))


def timings(repeat: int) -> dict[str, float]:
    import pyvips

    pyvips.cache_set_max(0)
    picture = scene(7, PICTURE).image
    data = _jpeg(picture)
    frame = Image.open(io.BytesIO(data)).convert("RGB")
    copy = frame.resize(copy_size(PICTURE, COPIES[-1]), Image.Resampling.LANCZOS)
    vips = pyvips.Image.new_from_memory(frame.tobytes(), *frame.size, 3, "uchar")
    info, made = admit(data, Limits())
    large = made[-1]
    source = {"source_size": (info.width, info.height), "source_format": info.format}
    smart, centre = (
        parse_path("resize:512:512:fill:smart.jpg"),
        parse_path("resize:512:512:fill.jpg"),
    )
    limits = Limits()
    scaled = (CROP[0] * copy.width // PICTURE[0], CROP[1] * copy.height // PICTURE[1])
    work = {
        "attention, 12 MP frame": lambda: smartcrop.attention(frame, CROP),
        "entropy, 12 MP frame": lambda: smartcrop.entropy(frame, CROP),
        "attention, 2048 px copy frame": lambda: smartcrop.attention(copy, scaled),
        "focal point, 1/8 draft decode (decode included)": lambda: _draft_focal(data),
        "pyvips smartcrop attention, 12 MP in memory": lambda: vips.smartcrop(
            *CROP, interesting="attention"
        ),
        "pyvips smartcrop entropy, 12 MP in memory": lambda: vips.smartcrop(
            *CROP, interesting="entropy"
        ),
        "render fill:smart from the 12 MP JPEG": lambda: render(data, smart, limits),
        "render fill (centre) from the 12 MP JPEG": lambda: render(data, centre, limits),
        "render fill:smart from the working copy": lambda: render(
            large.data, smart, limits, **source
        ),
        "render fill (centre) from the working copy": lambda: render(
            large.data, centre, limits, **source
        ),
        "pyvips thumbnail_buffer crop=attention": lambda: pyvips.Image.thumbnail_buffer(
            data, 512, height=512, crop="attention"
        ).write_to_buffer(".jpg"),
    }
    return interleaved_medians(work, repeat)


def _vips_box(image: Image.Image, crop: tuple[int, int], interesting: str) -> Box:
    import pyvips

    vips = pyvips.Image.new_from_memory(image.tobytes(), *image.size, 3, "uchar")
    out = vips.smartcrop(*crop, interesting=interesting)
    return -out.xoffset, -out.yoffset, -out.xoffset + crop[0], -out.yoffset + crop[1]


def keeping(count: int) -> dict[str, object]:
    """How often each placement keeps the subject over ``count`` scenes, and how near ours
    land to libvips' (mean IoU)."""
    kept_by: dict[str, int] = {}
    overlap = {"attention": 0.0, "entropy": 0.0}
    for seed in range(count):
        size, crop = SIZES[seed % 4], CROPS[seed % 4]
        made = scene(1000 + seed, size)
        boxes: dict[str, Box] = {}
        for name, measure in (("attention", smartcrop.attention), ("entropy", smartcrop.entropy)):
            x, y = measure(made.image, crop)
            boxes[f"ours {name}"] = (x, y, x + crop[0], y + crop[1])
            boxes[f"pyvips {name}"] = _vips_box(made.image, crop, name)
            overlap[name] += iou(boxes[f"ours {name}"], boxes[f"pyvips {name}"]) / count
        x, y = place(size, crop, "center")
        boxes["centre"] = (x, y, x + crop[0], y + crop[1])
        for name, box in boxes.items():
            kept_by[name] = kept_by.get(name, 0) + (kept(made.subject, box) >= KEPT)
    return {"rates": {k: v / count for k, v in kept_by.items()}, "iou": overlap, "scenes": count}


def markdown(found: dict[str, object]) -> str:
    ms: dict[str, float] = found["ms"]  # type: ignore[assignment]
    lines = ["| work | CPU ms | × pyvips smartcrop attention |", "|---|---:|---:|"]
    peer = ms["pyvips smartcrop attention, 12 MP in memory"]
    lines += [f"| {name} | {value:.1f} | {value / peer:.2f} |" for name, value in ms.items()]
    kept_: dict[str, object] = found["kept"]  # type: ignore[assignment]
    rates: dict[str, float] = kept_["rates"]  # type: ignore[assignment]
    lines += ["", f"Subject kept (≥ {KEPT:.0%} of its box), {kept_['scenes']} scenes:", ""]
    lines += ["| placement | kept | × pyvips (same measure) |", "|---|---:|---:|"]
    for name, rate in rates.items():
        peer_name = name.replace("ours", "pyvips")
        ratio = (
            f"{rate / rates[peer_name]:.2f}" if rates.get(peer_name) and name != peer_name else ""
        )
        lines.append(f"| {name} | {rate:.0%} | {ratio} |")
    iou_: dict[str, float] = kept_["iou"]  # type: ignore[assignment]
    lines += ["", *(f"- mean IoU, ours vs pyvips {k}: {v:.2f}" for k, v in iou_.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.smartcrop", description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds of each piece")
    parser.add_argument("--scenes", type=int, default=50, help="generated scenes for kept rates")
    parser.add_argument("--json", type=Path, default=RESULTS / "smartcrop.json")
    args = parser.parse_args(argv)
    limit_cores(1)  # before pyvips is imported
    found = {"ms": timings(args.repeat), "kept": keeping(args.scenes)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(found, indent=2))
    print(markdown(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
