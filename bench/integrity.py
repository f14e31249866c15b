"""What refusing truncated uploads costs: the structure walk against the whole of ``inspect``.

    python -m bench.integrity [--repeat N] [--inputs 12mp,24mp,...] [--quick] [--json PATH]

``inspect`` is the validation every upload and ingest runs: the header limits, the walk of
``check_complete`` over every frame's data, and the first frame decoded (a JPEG at 1/8 scale).
For each input this times ``inspect`` and the walk alone, interleaved, as median CPU time, and
gives the walk's share of ``inspect``. The inputs are the main benchmark's (bench/inputs.py),
plus its 12 MP JPEG encoded again with a restart marker after every row of MCUs, as many
cameras write them (the walk counts the markers). For the PNG it also times the CRC-32 of
every chunk, which the walk does not check, to show what checking it would add.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

from . import inputs
from .cputime import interleaved_medians

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_INPUTS = (
    "12mp",
    "24mp",
    "12mp-progressive",
    "24mp-progressive",
    "png-alpha",
    "gif-animated",
)


def with_restart_markers(item: inputs.Input) -> inputs.Input:
    """``item`` (a baseline JPEG) encoded again with a restart marker after each MCU row."""
    path = item.path.with_name(f"{item.path.stem}-restart.jpg")
    if not path.exists():
        from PIL import Image

        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        buffer = io.BytesIO()
        Image.open(item.path).save(
            buffer, "JPEG", quality=inputs.JPEG_QUALITY, restart_marker_rows=1
        )
        path.write_bytes(buffer.getvalue())
    description = f"{item.description}, a restart marker per MCU row"
    return inputs.Input(f"{item.name}-restart", item.kind, item.size, path, description)


def png_chunk_crcs(data: bytes) -> None:
    """The CRC-32 of every chunk's type and data, as a check of them would compute it."""
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        zlib.crc32(data[pos + 4 : pos + 8 + length])
        pos += 12 + length


def measure(item: inputs.Input, repeat: int) -> dict:
    """Median CPU ms of inspect() and of the walk (and of the PNG CRCs), interleaved."""
    from progimage_service.imaging.decode import inspect
    from progimage_service.imaging.formats import sniff
    from progimage_service.imaging.integrity import check_complete
    from progimage_service.imaging.limits import Limits

    data, limits = item.read(), Limits()
    fmt = sniff(data)
    work: dict[str, Callable[[], object]] = {
        "inspect": lambda: inspect(data, limits),
        "walk": lambda: check_complete(data, fmt),
    }
    if fmt.name == "png":
        work["png_crcs"] = lambda: png_chunk_crcs(data)
    medians = interleaved_medians(work, repeat)
    info = inspect(data, limits)
    return {
        "input": item.name,
        "description": item.description,
        "megapixels": round(item.megapixels, 1),
        "bytes": len(data),
        "frames": info.frames,
        "scans": info.scans,
        **{f"{name}_ms": round(value, 2) for name, value in medians.items()},
        "walk_share": round(medians["walk"] / medians["inspect"], 4),
    }


def markdown(rows: list[dict], repeat: int) -> str:
    lines = [
        f"CPU ms, median of {repeat} rounds. The walk is part of inspect(); its share is of "
        "inspect()'s total.",
        "",
        "| input | MB | frames | scans | inspect() ms | walk ms | walk share | PNG CRCs ms |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        crcs = f"{row['png_crcs_ms']:.2f}" if "png_crcs_ms" in row else "—"
        lines.append(
            f"| {row['input']} ({row['description']}) | {row['bytes'] / 1e6:.1f} "
            f"| {row['frames']} | {row['scans']} | {row['inspect_ms']:.1f} "
            f"| {row['walk_ms']:.2f} | {row['walk_share']:.1%} | {crcs} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.integrity", description=__doc__)
    parser.add_argument("--repeat", type=int, default=15, help="timed rounds per input")
    parser.add_argument("--inputs", default=",".join(DEFAULT_INPUTS), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="the inputs at 1/4 of the size")
    parser.add_argument("--json", type=Path, default=RESULTS / "integrity.json")
    args = parser.parse_args(argv)
    chosen = inputs.prepare(args.inputs.split(","), args.quick)
    restart = [with_restart_markers(item) for item in chosen if item.name == "12mp"]
    rows = []
    for item in [*chosen, *restart]:
        rows.append(measure(item, args.repeat))
        print(f"  {item.name}: {rows[-1]}", file=sys.stderr, flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))
    print(markdown(rows, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
