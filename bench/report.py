"""The results as JSON (everything measured) and as Markdown tables (what a reader needs)."""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from typing import TYPE_CHECKING, Any

from . import stored
from .peers import PEERS, Peer, title

if TYPE_CHECKING:
    from .run import Row

OUTPUT_NAMES = {"jpg": "JPEG", "png": "PNG", "webp": "WebP", "avif": "AVIF", "gif": "GIF"}


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _row_json(row: Row) -> dict[str, Any]:
    ratios = row.ratios()
    results = {}
    for key, measured in row.results.items():
        runs = measured.runs_ms
        results[key] = {
            "status": measured.status,
            "median_ms": _round(measured.median_ms),
            "ratio": _round(ratios.get(key), 2),
            "min_ms": _round(min(runs)) if runs else None,
            "max_ms": _round(max(runs)) if runs else None,
            "runs_ms": [round(ms, 2) for ms in runs],
            "cpu_median_ms": _round(statistics.median(measured.cpu_ms)) if runs else None,
            "warmup_ms": _round(measured.warmup_ms),
            "bytes": measured.bytes,
            "peak_rss_mib": _round(measured.peak_rss_mib),
        }
    rounds = max((len(m.runs_ms) for m in row.results.values()), default=0)
    return {
        "workload": row.workload.id,
        "label": f"{row.workload.title} → {OUTPUT_NAMES[row.output]}",
        "progimage_pipeline": f"{row.workload.progimage}.{row.output}".lstrip("."),
        "input": row.input.name,
        "output": row.output,
        "rounds": rounds,
        "results": results,
    }


def to_json(
    rows: list[Row],
    floors: dict[str, float],
    peers: dict[str, Peer],
    unavailable: dict[str, str],
    args: argparse.Namespace,
    repeat: int,
    minimum: int,
    cores: list[int],
) -> dict[str, Any]:
    row_data = [_row_json(row) for row in rows]
    thumbnails = {r["input"]: r["results"] for r in row_data if r["workload"] == "thumbnail"}
    decode_floor = []
    for name, floor in floors.items():
        # Against the thumbnail's CPU time: the floor is timed alone, the thumbnails interleaved.
        medians = {k: v["cpu_median_ms"] for k, v in thumbnails.get(name, {}).items()}
        decode_floor.append(
            {
                "input": name,
                "floor_ms": _round(floor),
                "thumbnail_ms": medians,
                "thumbnail_over_floor": {k: _round(v / floor, 2) for k, v in medians.items() if v},
            }
        )
    items = {row.input.name: row.input for row in rows}
    return {
        "environment": {
            "cpu": _cpu(),
            "cores_used": cores,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "peers": {key: peer.version for key, peer in peers.items()},
        },
        "options": {
            "quick": args.quick,
            "repeat": repeat,
            "min_repeat": minimum,
            "budget_s": args.budget,
            "threads": args.threads,
            "memory": not args.no_memory,
        },
        "unavailable": unavailable,
        "inputs": [
            {
                "name": item.name,
                "kind": item.kind,
                "size": list(item.size),
                "bytes": item.path.stat().st_size,
                "description": item.description,
            }
            for item in items.values()
        ],
        "rows": row_data,
        "decode_floor": decode_floor,
    }


def _peer_keys(data: dict[str, Any]) -> list[str]:
    present = {key for row in data["rows"] for key in row["results"]}
    return [key for key in PEERS if key in present]


def _ratios(row: dict[str, Any], field: str) -> dict[str, float]:
    values = {k: r[field] for k, r in row["results"].items() if r["status"] == "ok" and r[field]}
    fastest = min(values.values(), default=0)
    return {k: v / fastest for k, v in values.items()} if fastest else {}


def _cell(row: dict[str, Any], key: str, metric: str) -> str:
    result = row["results"][key]
    if result["status"] != "ok":
        return "n/a" if result["status"] in ("n/a", "unavailable") else "error"
    if metric in ("median_ms", "cpu_median_ms"):
        return f"{result[metric]:,.0f} ({_ratios(row, metric)[key]:.2f}×)"
    if metric == "bytes":
        return f"{result['bytes'] / 1024:,.0f}"
    value = result["peak_rss_mib"]
    return "–" if value is None else f"{value:,.0f}"


def _table(data: dict[str, Any], metric: str, heading: str) -> list[str]:
    keys = _peer_keys(data)
    lines = [
        heading,
        "",
        "| workload | input | n | " + " | ".join(title(k) for k in keys) + " |",
        "|---|---|--:|" + "--:|" * len(keys),
    ]
    for row in data["rows"]:
        cells = [_cell(row, k, metric) for k in keys]
        lines.append(f"| {row['label']} | {row['input']} | {row['rounds']} | {' | '.join(cells)} |")
    return [*lines, ""]


def _floor_table(data: dict[str, Any]) -> list[str]:
    if not data["decode_floor"]:
        return []
    keys = _peer_keys(data)
    thumbnails = {r["input"]: r["results"] for r in data["rows"] if r["workload"] == "thumbnail"}
    lines = [
        "### Thumbnail against the decode floor (the JPEG decoded at 1/8 scale by Pillow's draft)",
        "",
        "CPU ms; each peer's thumbnail as a multiple of the floor.",
        "",
        "| input | floor | " + " | ".join(title(k) for k in keys) + " |",
        "|---|--:|" + "--:|" * len(keys),
    ]
    for entry in data["decode_floor"]:
        floor = entry["floor_ms"]
        cells = []
        for key in keys:
            result = thumbnails.get(entry["input"], {}).get(key, {})
            value = result.get("cpu_median_ms") if result.get("status") == "ok" else None
            cells.append(f"{value:,.0f} ({value / floor:.2f}×)" if value else "n/a")
        lines.append(f"| {entry['input']} | {floor:,.1f} | {' | '.join(cells)} |")
    return [*lines, ""]


CPU_NOTE = (
    "On one pinned core a run's process CPU time (all its threads) is the time it takes on an "
    "otherwise idle machine; wall-clock time also counts the moments another process had the "
    "core. The ratios are to the fastest peer in the row."
)


def markdown(data: dict[str, Any]) -> str:
    env, options = data["environment"], data["options"]
    inputs = ", ".join(
        f"{i['name']} ({i['size'][0]}×{i['size'][1]}, {i['description']}, "
        f"{i['bytes'] / 1e6:.1f} MB)"
        for i in data["inputs"]
    )
    one_core = options["threads"] == 1
    progimage = env.get("progimage", {})
    lines = [
        f"{env['cpu']}; {len(env['cores_used']) or options['threads']} core(s); "
        f"Python {env['python']}; " + "; ".join(env["peers"].values()) + "; ProgImage at "
        f"{progimage.get('revision', 'unknown')}.",
        "",
        f"Inputs: {inputs}.",
        "",
        f"Median of n timed rounds (peers interleaved, 1 warm-up round; up to "
        f"{options['repeat']}, at least {options['min_repeat']}, fewer where a round is slow). "
        + (CPU_NOTE if one_core else "Ratios are to the fastest peer in the row."),
        "",
    ]
    if one_core:
        lines += _table(data, "cpu_median_ms", "### Time on one core (CPU), ms (× fastest)")
    lines += [
        *_table(data, "median_ms", "### Wall-clock time, ms (× fastest)"),
        *_floor_table(data),
        *stored.markdown(data.get("stored_thumbnail", [])),
        *_table(data, "bytes", "### Output size, KiB"),
    ]
    if options["memory"]:
        lines += _table(data, "rss", "### Peak memory added by the operation, MiB")
    if progimage.get("changed_during_run"):
        lines.append("**The service's code changed during this run: its numbers mix versions.**")
    for key, reason in data["unavailable"].items():
        lines.append(f"{title(key)}: not measured ({reason}).")
    return "\n".join(lines).rstrip() + "\n"
