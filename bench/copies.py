"""Working copies: what each costs to store and make, and what it saves each variant it serves.

    python -m bench.copies [--repeat N] [--inputs 12mp,24mp,12mp-progressive,png-alpha]

Each input goes through ``working_copy.admit`` as an upload does, which makes every copy the
picture gets (``imaging/copies.py``). Printed: each copy's size and bytes (the bytes stored per
image beside the original); the upload's CPU time against an upload that made the 2048 px copy
only; and for outputs from 128 to 1024 px, the CPU ms of rendering them from the original and
from each copy that covers them, with the PSNR of each to the one made from the original (as
PNG: the pixels, not an encoder's noise). A star marks the source the render plan reads. The
decision these figures support is written down in ``imaging/copies.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path
from unittest import mock

from PIL import Image, ImageChops, ImageStat

from progimage_service.imaging import working_copy
from progimage_service.imaging.copies import COPIES, Copy
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import parse_path
from progimage_service.imaging.plan import serving_copy
from progimage_service.imaging.render import render
from progimage_service.imaging.working_copy import admit

from .cputime import interleaved_medians
from .inputs import prepare

OUTPUTS = ("thumbnail:128", "thumbnail:256", "thumbnail:384", "thumbnail:512", "resize:768:0")
OUTPUTS += ("thumbnail:1024",)
RESULTS = Path(__file__).resolve().parent / "results" / "copies.json"


def psnr(a: bytes, b: bytes) -> float:
    first, second = Image.open(io.BytesIO(a)).convert("RGB"), Image.open(io.BytesIO(b))
    diff = ImageChops.difference(first, second.convert("RGB"))
    mse = sum(v * v for v in ImageStat.Stat(diff).rms) / 3
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def measure(name: str, data: bytes, repeat: int) -> dict:
    limits = Limits()
    info, made, _ = admit(data, limits)
    size = (info.width, info.height)
    source = {"source_size": size, "source_format": info.format, "copy_reach": 1.0}
    copies = {f"{c.kind.side}px": c for c in made}
    # The upload as it was: the 2048 px copy only.
    largest = COPIES[-1]
    upload = interleaved_medians(
        {
            "all copies": lambda: admit(data, limits),
            "2048 px only": lambda: _admit_only(data, limits, largest),
        },
        max(3, repeat // 3),
    )
    rows = []
    for output in OUTPUTS:
        timed = parse_path(f"{output}.webp")
        lossless = parse_path(f"{output}.png")
        reference = render(data, lossless, limits).data
        picked = serving_copy(timed, size, tuple(c.kind for c in made))
        work = {"original": lambda timed=timed: render(data, timed, limits)}
        scores = {"original": math.inf}
        for label, copy in copies.items():
            try:  # every copy that covers the output, whether or not the plan would pick it
                pixels = render(copy.data, lossless, limits, **source).data
            except ValueError:
                continue
            scores[label] = psnr(pixels, reference)
            work[label] = lambda c=copy, p=timed: render(c.data, p, limits, **source)
        medians = interleaved_medians(work, repeat)
        pick = f"{picked.side}px" if picked else "original"
        rows.append(
            {
                "output": output,
                "picked": pick,
                "sources": {
                    label: {"ms": round(medians[label], 1), "psnr_db": round(scores[label], 1)}
                    for label in work
                },
            }
        )
    return {
        "input": name,
        "size": list(size),
        "original_bytes": len(data),
        "copies": {
            label: {"size": [c.width, c.height], "bytes": len(c.data), "format": c.format.name}
            for label, c in copies.items()
        },
        "upload_ms": {label: round(ms, 1) for label, ms in upload.items()},
        "rows": rows,
    }


def _admit_only(data: bytes, limits: Limits, kind: Copy) -> None:
    """What an upload cost when it made the 2048 px copy alone."""
    with mock.patch.object(working_copy, "copies_made", lambda *a: (kind,)):
        admit(data, limits)


def markdown(entries: list[dict]) -> list[str]:
    lines = []
    for e in entries:
        copies = ", ".join(
            f"{label} {c['size'][0]}x{c['size'][1]} {c['format']} {c['bytes'] / 1024:,.0f} KB"
            for label, c in e["copies"].items()
        )
        up = e["upload_ms"]
        lines += [
            f"### {e['input']} ({e['size'][0]}x{e['size'][1]}, "
            f"{e['original_bytes'] / 1024:,.0f} KB)",
            "",
            f"Copies: {copies}. Upload CPU {up['all copies']:,.0f} ms "
            f"(2048 px copy only: {up['2048 px only']:,.0f} ms).",
            "",
            "| output | original ms | " + " | ".join(f"{k} ms (dB)" for k in e["copies"]) + " |",
            "|---|--:|" + "--:|" * len(e["copies"]),
        ]
        for row in e["rows"]:
            cells = []
            for label in ["original", *e["copies"]]:
                source = row["sources"].get(label)
                star = "★ " if row["picked"] == label else ""
                if source is None:
                    cells.append("—")
                elif label == "original":
                    cells.append(f"{star}{source['ms']:,.1f}")
                else:
                    cells.append(f"{star}{source['ms']:,.1f} ({source['psnr_db']:.1f})")
            lines.append(f"| {row['output']} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--inputs", default="12mp,24mp,12mp-progressive,png-alpha")
    args = parser.parse_args()
    entries = [
        measure(item.name, item.read(), args.repeat)
        for item in prepare(args.inputs.split(","), quick=False)
    ]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(entries, indent=2) + "\n")
    print("\n".join(markdown(entries)))


if __name__ == "__main__":
    main()
