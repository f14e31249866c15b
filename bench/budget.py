"""The cost model against what renders really cost: estimate beside measured, per pipeline.

    python -m bench.budget [--megapixels 12] [--drawn 40] [--json PATH]

Each row renders one pipeline in a fresh interpreter (so its peak memory is its own) on a
photo-like source, timing the render's CPU seconds (one core) and the resident memory it added,
beside what ``imaging.cost.estimate`` said before decoding. Fixed rows cover every operation,
every output format and the costly classes (any-angle rotations, maxbytes, progressive JPEGs,
animations, watermarks); ``--drawn N`` adds N pipelines drawn as the property tests draw them.
The model may overestimate; it fails (exit 1) if any estimate undershoots the measured time or
memory by more than 30 %.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import subprocess
import sys
import time
from pathlib import Path

from . import inputs, memory

MARGIN = 1.3
MARK = "wmark0000000000000000000a"
FIXED = (
    ".jpg",
    ".png",
    ".webp",
    ".avif",
    ".gif",
    ".tiff",
    "thumbnail:256.webp",
    "resize:1024:0.avif",
    "resize:2000:2000:pad.png",
    "rotate:90.jpg",
    "rotate:30.jpg",
    "rotate:0.01/rotate:-0.01/rotate:0.01.jpg",
    "flip:h/crop:2000:1000.jpg",
    "grayscale/sepia/invert/equalize/autocontrast.jpg",
    "blur:1.5.jpg",
    "blur:8.jpg",
    "sharpen:1:10.jpg",
    "brightness:1.2/contrast:1.2/saturation:1.2/pixelate:8/posterize:3/tint:ff8800.jpg",
    "mask:circle.png",
    f"mask:{MARK}.png",
    f"watermark:{MARK}:center:0.5:1.jpg",
    "background:ff0000.jpg",
    "quality:100/maxbytes:200000.webp",
    "quality:100/maxbytes:100000.jpg",
    "resize:1600:0/crop:1200:800/sharpen/saturation:1.2/quality:80.jpg",
)
SOURCES = ("jpeg", "pjpeg", "png", "gif")
ANIMATED = (".gif", ".webp", "thumbnail:256.gif", "rotate:30/resize:800:0.webp")


def source(kind: str, megapixels: float) -> bytes:
    width = round((megapixels * 1e6 * 1.5) ** 0.5)
    size = (width, round(width / 1.5))
    name = f"budget-{kind}-{size[0]}x{size[1]}-g{inputs.GENERATOR}"
    path = inputs.CACHE / "full" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "png":
            data = _png(inputs._photo(size))
        elif kind == "gif":  # 30 frames of a tenth of the pixels
            data = inputs._gif(inputs.GIF_FRAMES)((size[0] // 3, size[1] // 3))
        else:
            data = inputs.jpeg(progressive=kind == "pjpeg")(size)
        path.write_bytes(data)
    return path.read_bytes()


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _mark() -> bytes:
    from PIL import Image

    return _png(Image.new("RGBA", (1600, 800), (255, 255, 255, 160)))


def probe(kind: str, megapixels: float, spec: str) -> dict:
    """In this fresh process: estimate, then render ``spec``; the time and memory it took."""
    from progimage_service.errors import ProgImageError
    from progimage_service.imaging import cost, render
    from progimage_service.imaging.formats import for_extension
    from progimage_service.imaging.limits import Limits
    from progimage_service.imaging.pipeline import Pipeline, parse_path

    pipeline = Pipeline(format=for_extension(spec[1:])) if spec[0] == "." else parse_path(spec)
    data, images = source(kind, megapixels), {MARK: _mark()}
    found: dict = {}
    real_check = render.check

    def record(estimate: cost.Estimate, limits: Limits) -> None:
        found.update(estimate_s=estimate.seconds, estimate_mib=estimate.peak_bytes / 2**20)
        found["costliest"] = estimate.costliest(2)

    render.check = record  # measure what the model would refuse too
    gc.collect()
    before = memory.rss_kib() or 0
    memory.reset_peak()
    started = time.process_time()
    try:
        render.render(data, pipeline, Limits(), images=images)
    except ProgImageError as error:
        found["error"] = f"{error.status} {error.message[:80]}"
    found["measured_s"] = time.process_time() - started
    found["measured_mib"] = ((memory.peak_kib() or 0) - before) / 1024
    render.check = real_check
    return found


def run(kind: str, megapixels: float, spec: str) -> dict:
    command = [sys.executable, "-m", "bench.budget", "--probe", kind, str(megapixels), spec]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def drawn(count: int) -> list[str]:
    """Pipelines drawn as the property tests draw them (valid ones only, rendering values)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.hostile.pipelines import IDS, operation_spec

    found: list[str] = []
    formats = st.sampled_from([".jpg", ".png", ".webp", ".avif", ".gif"])
    ops = st.lists(operation_spec(render=True).filter(lambda s: s.valid), min_size=1, max_size=4)

    @settings(max_examples=count, database=None, suppress_health_check=list(HealthCheck))
    @given(ops, formats)
    def collect(specs, ext) -> None:
        text = "/".join(s.text for s in specs)
        for placeholder in IDS:
            text = text.replace(placeholder, MARK)
        found.append(text + ext)

    collect()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=12)
    parser.add_argument("--drawn", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--probe", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        kind, megapixels, spec = args.probe
        print(json.dumps(probe(kind, float(megapixels), spec)))
        return
    rows = []
    specs = [
        (kind, spec) for kind in SOURCES[:3] for spec in FIXED if kind == "jpeg" or "/" in spec
    ]
    specs += [("gif", spec) for spec in ANIMATED]
    specs += [("jpeg", spec) for spec in drawn(args.drawn)] if args.drawn else []
    print(
        "| source | pipeline | estimate s | measured s | ratio | estimate MiB | measured MiB "
        "| ratio | answer |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|---|")
    for kind, spec in specs:
        row = {"source": kind, "pipeline": spec, **run(kind, args.megapixels, spec)}
        rows.append(row)
        if "measured_s" not in row:
            print(f"| {kind} | `{spec}` | | | | | | | {row.get('error')} |", flush=True)
            continue
        time_ratio = row["measured_s"] / max(row["estimate_s"], 1e-6)
        mem_ratio = row["measured_mib"] / max(row["estimate_mib"], 1e-6)
        row.update(time_ratio=time_ratio, memory_ratio=mem_ratio)
        print(
            f"| {kind} | `{spec}` | {row['estimate_s']:.2f} | {row['measured_s']:.2f} "
            f"| {time_ratio:.2f} | {row['estimate_mib']:.0f} | {row['measured_mib']:.0f} "
            f"| {mem_ratio:.2f} | {row.get('error', '200')} |",
            flush=True,
        )
    measured = [r for r in rows if "time_ratio" in r and r["measured_s"] > 0.05]
    worst_time = max(measured, key=lambda r: r["time_ratio"])
    best_time = min(measured, key=lambda r: r["time_ratio"])
    sized = [r for r in rows if "memory_ratio" in r and r["measured_mib"] > 20]
    worst_memory = max(sized, key=lambda r: r["memory_ratio"])
    print(
        f"\nworst time underestimate: {worst_time['time_ratio']:.2f} (`{worst_time['pipeline']}`)"
        f"; largest overestimate: {1 / best_time['time_ratio']:.1f}x "
        f"(`{best_time['pipeline']}`); worst memory underestimate: "
        f"{worst_memory['memory_ratio']:.2f} (`{worst_memory['pipeline']}`)"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if worst_time["time_ratio"] > MARGIN or worst_memory["memory_ratio"] > MARGIN:
        sys.exit(f"an estimate undershoots by more than {MARGIN - 1:.0%}")


if __name__ == "__main__":
    main()
