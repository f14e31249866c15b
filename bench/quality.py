"""quality:auto against the fixed default quality (JPEG 85, WebP 80, AVIF 60) on real photos.

    python -m bench.quality [--repeat N] [--size PX] [--curves] [--json PATH]

The photos: the shared test photos (``Landscape_1.jpg``, 1800x1200, and ``flower.jpg``,
``flower2.jpg``), and, where scikit-image is installed (bench/requirements.txt), the photos its
package ships (astronaut, chelsea, coffee, motorcycle, rocket, camera). Each is rendered through
render() as ``thumbnail:PX.{ext}`` (the fixed default) and ``thumbnail:PX/quality:auto.{ext}``;
the un-encoded render is ``thumbnail:PX.png`` (lossless). For each: the output's bytes, its SSIM
against the un-encoded render (imaging/perceptual.py, and scikit-image's on the same luma where
installed: the agreement column), the quality auto chose, and the median CPU time of each
render on one core (the encode time ratio is of Timings.encode). pyvips has no automatic
quality: its row is its own ``thumbnail_buffer`` at the same fixed quality (bytes only; its
resampling differs, so no SSIM against this render).

``--curves`` prints, for each photo and format, the SSIM at every quality of the search grid:
what the targets in perceptual.SEARCH were chosen from.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

from . import inputs
from .cputime import interleaved_medians
from .run import limit_cores

RESULTS = Path(__file__).resolve().parent / "results"
TESTDATA = inputs.BENCH.parents[1] / "shared" / "testdata"
SHARED = ("exif-orientation/Landscape_1.jpg", "formats/flower.jpg", "formats/flower2.jpg")
SKIMAGE = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")
SKIMAGE += ("camera.png",)
FORMATS = {"jpeg": "jpg", "webp": "webp", "avif": "avif", "heic": "heic", "jxl": "jxl"}


def photos() -> dict[str, bytes]:
    found = {Path(p).stem: (TESTDATA / p).read_bytes() for p in SHARED if (TESTDATA / p).is_file()}
    try:
        import skimage.data
    except ImportError:
        print("scikit-image is not installed: the shared photos only", file=sys.stderr)
        return found
    folder = Path(skimage.data.__file__).parent
    found |= {Path(n).stem: (folder / n).read_bytes() for n in SKIMAGE if (folder / n).is_file()}
    return found


def _reference_ssim(x: object, y: object) -> float | None:
    try:
        import numpy as np
        from skimage.metrics import structural_similarity
    except ImportError:
        return None
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    return float(structural_similarity(a, b, data_range=255))


def _pyvips(data: bytes, ext: str, size: int) -> bytes | None:
    """pyvips' thumbnail at the same fixed quality (its save options as in the main bench);
    None without pyvips, or where its libvips cannot write the format (HEIC, JPEG XL)."""
    try:
        import pyvips

        from .peers.pyvips_peer import _SAVE, _save
    except ImportError:
        return None
    if ext not in _SAVE:
        return None
    return _save(pyvips.Image.thumbnail_buffer(data, size, height=size, size="down"), ext)


def measure(name: str, data: bytes, fmt: str, size: int, repeat: int) -> dict:
    from PIL import Image

    from progimage_service.imaging.encode import DEFAULT_QUALITY, EncodeOptions, Frame
    from progimage_service.imaging.formats import EXTENSIONS
    from progimage_service.imaging.limits import Limits
    from progimage_service.imaging.perceptual import auto_quality, luma, ssim
    from progimage_service.imaging.pipeline import parse_path
    from progimage_service.imaging.render import render

    ext, limits = FORMATS[fmt], Limits()
    fixed_path, auto_path = f"thumbnail:{size}.{ext}", f"thumbnail:{size}/quality:auto.{ext}"
    rendered = Image.open(
        io.BytesIO(render(data, parse_path(f"thumbnail:{size}.png"), limits).data)
    )
    rendered.load()
    reference = luma(rendered)
    chosen = auto_quality([Frame(rendered, 0)], EXTENSIONS[ext], EncodeOptions())
    outputs = {
        kind: render(data, parse_path(path), limits).data
        for kind, path in (("fixed", fixed_path), ("auto", auto_path))
    }
    assert outputs["auto"] == chosen.data, "render's auto and auto_quality's differ"
    scores = {k: ssim(reference, luma(Image.open(io.BytesIO(v)))) for k, v in outputs.items()}
    checks = {
        k: _reference_ssim(reference, luma(Image.open(io.BytesIO(v)))) for k, v in outputs.items()
    }
    spent: dict[str, list[float]] = {"fixed": [], "auto": []}

    def timed(kind: str, path: str) -> None:
        spent[kind].append(render(data, parse_path(path), limits).timings.encode)

    ms = interleaved_medians(
        {"fixed": lambda: timed("fixed", fixed_path), "auto": lambda: timed("auto", auto_path)},
        repeat,
    )
    encode_s = {kind: statistics.median(times) for kind, times in spent.items()}
    vips = _pyvips(data, ext, size)
    return {
        "photo": name,
        "format": fmt,
        "size": list(rendered.size),
        "default_quality": DEFAULT_QUALITY[fmt],
        "auto_quality": chosen.quality,
        "searched": chosen.encodes,
        "fixed_bytes": len(outputs["fixed"]),
        "auto_bytes": len(outputs["auto"]),
        "saved_pct": round(100 * (1 - len(outputs["auto"]) / len(outputs["fixed"])), 1),
        "fixed_ssim": round(scores["fixed"], 4),
        "auto_ssim": round(scores["auto"], 4),
        "fixed_ssim_skimage": checks["fixed"] and round(checks["fixed"], 4),
        "auto_ssim_skimage": checks["auto"] and round(checks["auto"], 4),
        "agreement": max(
            (abs(scores[k] - checks[k]) for k in scores if checks[k] is not None), default=None
        ),
        "fixed_ms": round(ms["fixed"], 1),
        "auto_ms": round(ms["auto"], 1),
        "encode_ratio": round(encode_s["auto"] / encode_s["fixed"], 1),
        "pyvips_bytes": len(vips) if vips else None,
    }


def curves(name: str, data: bytes, size: int) -> list[dict]:
    """SSIM at every quality of each format's grid (and the default), for choosing targets."""
    from PIL import Image

    from progimage_service.imaging.encode import EncodeOptions, Frame, encode
    from progimage_service.imaging.formats import EXTENSIONS
    from progimage_service.imaging.limits import Limits
    from progimage_service.imaging.perceptual import grid, luma, ssim
    from progimage_service.imaging.pipeline import parse_path
    from progimage_service.imaging.render import render

    rendered = Image.open(
        io.BytesIO(render(data, parse_path(f"thumbnail:{size}.png"), Limits()).data)
    )
    rendered.load()
    reference, rows = luma(rendered), []
    for fmt, ext in FORMATS.items():
        for quality in grid(fmt):
            out = encode([Frame(rendered, 0)], EXTENSIONS[ext], EncodeOptions(quality))
            score = ssim(reference, luma(Image.open(io.BytesIO(out))))
            rows.append({"photo": name, "format": fmt, "quality": quality, "bytes": len(out)})
            rows[-1]["ssim"] = round(score, 4)
    return rows


def markdown(rows: list[dict], size: int, repeat: int) -> str:
    lines = [
        f"`thumbnail:{size}` of each photo, fixed default quality against `quality:auto`; SSIM "
        "on luma against the un-encoded render (scikit-image's in brackets); CPU ms on one core, "
        f"median of {repeat}; *encode ×*: the median Timings.encode of auto over the fixed one's.",
        "",
        "| photo | format | size | fixed q | bytes | SSIM | auto q | bytes | saved | SSIM "
        "| ms fixed | ms auto | encode × | pyvips bytes |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        check = f" ({r['auto_ssim_skimage']:.4f})" if r["auto_ssim_skimage"] else ""
        lines.append(
            f"| {r['photo']} | {r['format']} | {r['size'][0]}x{r['size'][1]} "
            f"| {r['default_quality']} | {r['fixed_bytes']:,} | {r['fixed_ssim']:.4f} "
            f"| {r['auto_quality']} | {r['auto_bytes']:,} | {r['saved_pct']:.1f} % "
            f"| {r['auto_ssim']:.4f}{check} | {r['fixed_ms']:.0f} | {r['auto_ms']:.0f} "
            f"| {r['encode_ratio']:.1f} | {r['pyvips_bytes'] or '—'} |"
        )
    lines += [
        "",
        "| format | photos | bytes saved (all photos) | median saved | auto SSIM min / median "
        "| fixed SSIM min / median | qualities chosen | median encode × | median render × |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for fmt in FORMATS:
        own = [r for r in rows if r["format"] == fmt]
        if not own:
            continue
        fixed = sum(r["fixed_bytes"] for r in own)
        auto = sum(r["auto_bytes"] for r in own)
        qualities = sorted(r["auto_quality"] for r in own)
        lines.append(
            f"| {fmt} | {len(own)} | {100 * (1 - auto / fixed):.1f} % "
            f"| {statistics.median(r['saved_pct'] for r in own):.1f} % "
            f"| {min(r['auto_ssim'] for r in own):.4f} / "
            f"{statistics.median(r['auto_ssim'] for r in own):.4f} "
            f"| {min(r['fixed_ssim'] for r in own):.4f} / "
            f"{statistics.median(r['fixed_ssim'] for r in own):.4f} "
            f"| {qualities[0]}–{qualities[-1]} (median {statistics.median(qualities):g}) "
            f"| {statistics.median(r['encode_ratio'] for r in own):.1f} "
            f"| {statistics.median(r['auto_ms'] / r['fixed_ms'] for r in own):.1f} |"
        )
    agreement = [r["agreement"] for r in rows if r["agreement"] is not None]
    if agreement:
        lines += ["", f"Largest |SSIM - scikit-image's| over every output: {max(agreement):.1e}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds per render")
    parser.add_argument("--size", type=int, default=1024, help="the thumbnail's longest side")
    parser.add_argument("--only", default="", help="comma-separated formats (jpeg,webp,avif)")
    parser.add_argument("--curves", action="store_true", help="SSIM at every grid quality")
    parser.add_argument("--json", type=Path, default=RESULTS / "quality.json")
    args = parser.parse_args(argv)
    limit_cores(1)  # before pyvips is imported
    started = time.perf_counter()
    rows: list[dict] = []
    formats = [f for f in FORMATS if not args.only or f in args.only.split(",")]
    for name, data in photos().items():
        if args.curves:
            rows += curves(name, data, args.size)
            continue
        for fmt in formats:
            rows.append(measure(name, data, fmt, args.size, args.repeat))
            print(f"  {name} {fmt}: {rows[-1]}", file=sys.stderr, flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))
    if args.curves:
        for row in rows:
            print(f"{row['photo']:16} {row['format']:5} q{row['quality']:3} {row['ssim']:.4f}")
    else:
        print(markdown(rows, args.size, args.repeat))
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
