"""Peak memory of every operation at full size, as bytes per pixel and as decoded frames.

    python -m bench.footprint [--megapixels 24,100] [--only blur,rotate] [--json PATH]

Each pipeline below (together they use every operation of the registry, and the bare format
conversions) runs once through ``render`` in a fresh interpreter on a baseline JPEG of the given
size, as memory.py measures the main benchmark's rows: the peak resident memory added by the
call. "Frames" divides that by one decoded frame as Pillow holds it (4 bytes per pixel, RGB
included): an operation that keeps the size holds at least two (its input and its result); the
process's baseline
(interpreter, Pillow, the compressed input) is listed apart. A Lambda function needs about
baseline + added, plus the runtime's own ~40 MB.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import subprocess
import sys
from pathlib import Path

from . import inputs, memory

RESULTS = Path(__file__).resolve().parent / "results"
MARK = "wmark0000000000000000000a"  # a well-formed id for the watermark's image
# The operations at full size (those that keep the picture's size, or nearly), then the reducing
# ones for comparison. Every operation of the registry appears at least once (checked).
PIPELINES = (
    ".jpg",
    ".png",
    ".webp",
    ".avif",
    ".heic",
    ".jxl",
    "rotate:90.jpg",
    "rotate:30.jpg",
    "flip:h.jpg",
    "crop:3000:2000.jpg",
    "grayscale.jpg",
    "grayscale.png",
    "sepia.jpg",
    "invert.jpg",
    "equalize.jpg",
    "autocontrast.jpg",
    "blur:4.jpg",
    "sharpen.jpg",
    "brightness:1.2.jpg",
    "contrast:1.2.jpg",
    "saturation:1.2.jpg",
    "pixelate:16.jpg",
    "posterize:4.jpg",
    "tint:ff8800.jpg",
    "mask:circle.png",
    f"watermark:{MARK}.jpg",
    "background:ffffff.jpg",
    "quality:70.jpg",
    "maxbytes:2000000.jpg",
    "resize:2000:2000:pad.png",
    "thumbnail:256.jpg",
    "resize:1600:0/crop:1200:800/sharpen/saturation:1.2/quality:80.jpg",
)
# What the Upload and Ingest functions do with one image (validate it, make its working copy),
# with the baseline re-encoded as the format named: their MemorySize comes from these rows.
UPLOADS = ("upload:jpeg", "upload:png", "upload:heic", "upload:jxl")


def source(megapixels: int) -> Path:
    """A photo-like baseline JPEG of about ``megapixels`` at 3:2, made once into the cache."""
    width = round((megapixels * 1e6 * 1.5) ** 0.5)
    size = (width, round(width / 1.5))
    path = inputs.CACHE / "full" / f"footprint-{size[0]}x{size[1]}-g{inputs.GENERATOR}.jpg"
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(inputs.jpeg(progressive=False)(size))
    return path


def _mark() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (400, 200), (255, 255, 255, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def _reencoded(data: bytes, fmt: str) -> bytes:
    """The baseline as an upload of ``fmt``. A PNG photo of this size is over the upload limit,
    so the PNG is a graphic: the picture in blocks of 16 px, with an alpha band (the costliest
    mode to decode and to copy). HEIC and JPEG XL are the photo, as the service encodes them."""
    from PIL import Image

    if fmt == "jpeg":
        return data
    if fmt in ("heic", "jxl"):
        from progimage_service.imaging.encode import Frame, encode
        from progimage_service.imaging.formats import FORMATS

        with Image.open(io.BytesIO(data)) as image:
            return encode([Frame(image.convert("RGB"), 0)], FORMATS[fmt])
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(data)) as image:
        blocks = image.reduce(16).resize(image.size, Image.Resampling.NEAREST)
        blocks.putalpha(blocks.convert("L"))
        blocks.save(buffer, "PNG")
    return buffer.getvalue()


def probe(path: Path, spec: str) -> dict:
    """In this fresh process: render ``spec`` on the file (or upload it, re-encoded); the
    memory it added."""
    from progimage_service.imaging.formats import for_extension
    from progimage_service.imaging.limits import Limits
    from progimage_service.imaging.pipeline import Pipeline, parse_path
    from progimage_service.imaging.render import render
    from progimage_service.imaging.working_copy import admit

    data = path.read_bytes()
    if spec.startswith("upload:"):
        data = _reencoded(data, spec.removeprefix("upload:"))
        gc.collect()
        before = memory.rss_kib() or 0
        memory.reset_peak()
        admit(data, Limits())
    else:
        pipeline = Pipeline(format=for_extension(spec[1:])) if spec[0] == "." else parse_path(spec)
        images = {MARK: _mark()}
        gc.collect()
        before = memory.rss_kib() or 0
        memory.reset_peak()
        render(data, pipeline, Limits(), images=images)
    added = ((memory.peak_kib() or 0) - before) / 1024
    return {"baseline_mib": before / 1024, "added_mib": added}


def measure(megapixels: int, only: list[str] | None) -> list[dict]:
    path = source(megapixels)
    with open(path, "rb") as file:
        from PIL import Image

        width, height = Image.open(file).size
    frame_mib = width * height * 4 / 2**20
    rows = []
    for spec in PIPELINES + UPLOADS:
        if only and not any(word in spec for word in only):
            continue
        command = [sys.executable, "-m", "bench.footprint", "--probe", str(path), spec]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
        if done.returncode != 0:
            found = {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
        else:
            found = json.loads(done.stdout.strip().splitlines()[-1])
            found["bytes_per_pixel"] = found["added_mib"] * 2**20 / (width * height)
            found["frames"] = found["added_mib"] / frame_mib
        rows.append({"pipeline": spec, "megapixels": width * height / 1e6, **found})
        print(f"  {width}x{height} {spec}: {found}", file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| input | pipeline | added MiB | bytes/pixel | frames | baseline MiB |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['megapixels']:.0f} MP | `{row['pipeline']}` | {row['error']} |")
            continue
        lines.append(
            f"| {row['megapixels']:.0f} MP | `{row['pipeline']}` | {row['added_mib']:.0f} "
            f"| {row['bytes_per_pixel']:.1f} | {row['frames']:.1f} | {row['baseline_mib']:.0f} |"
        )
    return "\n".join(lines)


def _check_coverage() -> None:
    from progimage_service.imaging.registry import REGISTRY

    used = {part.split(":")[0] for spec in PIPELINES for part in spec.rsplit(".", 1)[0].split("/")}
    missing = set(REGISTRY) - used
    if missing:
        raise SystemExit(f"PIPELINES leaves out: {', '.join(sorted(missing))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__)
    parser.add_argument("--megapixels", default="24", help="input sizes, comma-separated")
    parser.add_argument("--only", help="pipelines containing one of these words")
    parser.add_argument("--json", type=Path, default=RESULTS / "footprint.json")
    parser.add_argument("--probe", nargs=2, metavar=("PATH", "PIPELINE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(Path(args.probe[0]), args.probe[1])))
        return 0
    _check_coverage()
    only = args.only.split(",") if args.only else None
    rows = [row for mp in args.megapixels.split(",") for row in measure(int(mp), only)]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
