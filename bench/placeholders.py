"""What an upload's looks (imaging/looks.py: placeholders and colours, perceptual hash, focal
point) cost at ingest.

    python -m bench.placeholders [--repeat N] [--inputs 12mp,png-alpha,...] [--quick] [--json PATH]

For each input this times, interleaved, as median CPU time on this process's core:

- ``admit``: the upload's validation, working copies and looks (imaging/working_copy.py);
- of the 1024 px working copy, decoded beforehand (at ingest it is in memory): ``summarise``
  (summary.py), ``phash`` (phash.py), ``focal_point`` (smartcrop.py) and all three
  (``look_at``, what admit adds);
- a JPEG decoded with ``Image.draft`` to at least 256 px a side (the DCT scaled down in the
  decoder), then ``summarise``: the cost without any copy at hand. Not for other formats.

and gives each as a share of ``admit``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

from . import inputs
from .cputime import interleaved_medians

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_INPUTS = ("12mp", "12mp-progressive", "png-alpha")
DRAFT_SIDE = 256


def measure(item: inputs.Input, repeat: int) -> dict:
    from PIL import Image

    from progimage_service.imaging.limits import Limits
    from progimage_service.imaging.looks import look_at
    from progimage_service.imaging.phash import phash
    from progimage_service.imaging.smartcrop import focal_point
    from progimage_service.imaging.summary import summarise
    from progimage_service.imaging.working_copy import admit

    data, limits = item.read(), Limits()
    copies = admit(data, limits).copies
    copy = next(c for c in copies if c.kind.name == "1024")
    copy_image = Image.open(io.BytesIO(copy.data))
    copy_image.load()

    def from_draft() -> object:
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (DRAFT_SIDE, DRAFT_SIDE))
        image.load()
        return summarise(image)

    work: dict[str, Callable[[], object]] = {
        "admit": lambda: admit(data, limits),
        "summarise_copy": lambda: summarise(copy_image),
        "phash_copy": lambda: phash(copy_image),
        "focal_copy": lambda: focal_point(copy_image),
        "looks_copy": lambda: look_at(copy_image),
    }
    if item.kind in ("jpeg", "pjpeg"):
        work["draft_and_summarise"] = from_draft
    medians = interleaved_medians(work, repeat)
    row = {
        "input": item.name,
        "description": item.description,
        "megapixels": round(item.megapixels, 1),
        "copy": f"{copy.width}x{copy.height}",
        **{f"{name}_ms": round(value, 2) for name, value in medians.items()},
    }
    for name in ("looks_copy", "draft_and_summarise"):
        if name in medians:
            row[f"{name}_share"] = round(medians[name] / medians["admit"], 4)
    return row


def markdown(rows: list[dict], repeat: int) -> str:
    lines = [
        f"CPU ms, median of {repeat} rounds, interleaved; shares are of admit()'s time.",
        "",
        "Of the 1024 px copy: summarise, phash, focal point, and all three (look_at, in admit).",
        "",
        "| input | admit ms | summarise | phash | focal | looks ms | share "
        "| draft 256 + summarise ms | share |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        draft = (
            f"{row['draft_and_summarise_ms']:.1f} | {row['draft_and_summarise_share']:.1%}"
            if "draft_and_summarise_ms" in row
            else "— | —"
        )
        lines.append(
            f"| {row['input']} ({row['description']}) | {row['admit_ms']:.0f} "
            f"| {row['summarise_copy_ms']:.1f} | {row['phash_copy_ms']:.1f} "
            f"| {row['focal_copy_ms']:.1f} | {row['looks_copy_ms']:.1f} "
            f"| {row['looks_copy_share']:.1%} | {draft} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.placeholders", description=__doc__)
    parser.add_argument("--repeat", type=int, default=11, help="timed rounds per input")
    parser.add_argument("--inputs", default=",".join(DEFAULT_INPUTS), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="the inputs at 1/4 of the size")
    parser.add_argument("--json", type=Path, default=RESULTS / "placeholders.json")
    args = parser.parse_args(argv)
    rows = []
    for item in inputs.prepare(args.inputs.split(","), args.quick):
        rows.append(measure(item, args.repeat))
        print(f"  {item.name}: {rows[-1]}", file=sys.stderr, flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))
    print(markdown(rows, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
