"""The benchmark's command line: prepare inputs, measure every row interleaved, report.

    python -m bench [--quick] [--repeat N] [--budget S] [--only thumbnail,webp]
                    [--inputs 12mp,24mp-progressive] [--peers progimage,pyvips] [--threads N]
                    [--no-memory] [--json PATH]

Progress goes to stderr; stdout gets only the Markdown report.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import FUNCTIONS, memory, report, stored
from . import inputs as inputs_module
from .inputs import INPUT_NAMES, Input
from .peers import PEERS, NotApplicable, Peer, load
from .workloads import WORKLOADS, Workload, select

RESULTS = Path(__file__).resolve().parent / "results"
MIN_REPEAT = 5  # a slow row still gets this many timed rounds, whatever the budget


@dataclass
class Measured:
    """One peer's result in one row."""

    status: str = "ok"  # "ok", "n/a", or the error
    runs_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # process CPU time of the same runs
    warmup_ms: float | None = None
    bytes: int | None = None
    peak_rss_mib: float | None = None

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.runs_ms) if self.runs_ms else None


@dataclass
class Row:
    workload: Workload
    input: Input
    output: str
    results: dict[str, Measured] = field(default_factory=dict)

    def ratios(self) -> dict[str, float]:
        medians = {k: m.median_ms for k, m in self.results.items() if m.median_ms}
        fastest = min(medians.values(), default=None)
        return {k: v / fastest for k, v in medians.items()} if fastest else {}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, 3 repeats: a smoke run")
    parser.add_argument("--repeat", type=int, help="timed rounds per row (default 15, quick 3)")
    parser.add_argument(
        "--budget",
        type=float,
        default=20.0,
        help="seconds per row: a row whose warm-up round is slow gets fewer rounds, "
        f"down to {MIN_REPEAT} (default 20)",
    )
    parser.add_argument("--only", help="workloads, comma-separated; a word picks every id with it")
    parser.add_argument("--inputs", help=f"inputs, comma-separated, of: {', '.join(INPUT_NAMES)}")
    parser.add_argument("--peers", help=f"peers, comma-separated, of: {', '.join(PEERS)}")
    parser.add_argument("--threads", type=int, default=1, help="cores (and libvips threads)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    parser.add_argument("--json", type=Path, help="where to write the results as JSON")
    parser.add_argument("--report", type=Path, help="print the Markdown of a results JSON; no run")
    parser.add_argument(
        "--probe", nargs=3, metavar=("WORKLOAD", "INPUT", "PEER"), help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


def limit_cores(threads: int) -> list[int]:
    """Pin this process (and so its children) to ``threads`` cores; tell libvips and OpenMP.

    Must run before pyvips is imported: libvips reads VIPS_CONCURRENCY when it starts. Pillow's
    AVIF encoder sizes its thread pool from the affinity, so it follows too.
    """
    os.environ["VIPS_CONCURRENCY"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if not hasattr(os, "sched_setaffinity"):
        return []
    cores = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cores)
    return cores


def core_fingerprint() -> str:
    """A hash of the code the ProgImage peer runs (the imaging core and the error tree): its
    column is for exactly this code. The memory probes import it afresh, so a change during
    the run would mix two versions."""
    package = FUNCTIONS / "progimage_service"
    digest = hashlib.sha256()
    for path in [*sorted((package / "imaging").glob("*.py")), package / "errors.py"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def git_revision() -> str:
    """The checkout's commit, marked when the service's code differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", str(FUNCTIONS)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def _words(text: str | None) -> list[str] | None:
    return [word.strip() for word in text.split(",") if word.strip()] if text else None


def _workload(workload_id: str) -> Workload:
    return next(w for w in WORKLOADS if w.id == workload_id)


def time_once(peer: Peer, row: Row, data: bytes) -> tuple[float, float, int]:
    """Wall-clock ms, CPU ms (all threads) and output bytes of one run."""
    gc.collect()
    cpu = time.process_time_ns()
    start = time.perf_counter_ns()
    result = peer.run(row.workload.id, data, row.output)
    elapsed = time.perf_counter_ns() - start
    cpu = time.process_time_ns() - cpu
    return elapsed / 1e6, cpu / 1e6, len(result)


def warm_up(row: Row, peers: dict[str, Peer], data: bytes) -> float:
    """One untimed run per peer; it also finds which peers apply. Returns the round's seconds."""
    total = 0.0
    for key, peer in peers.items():
        measured = row.results[key]
        try:
            measured.warmup_ms, _, measured.bytes = time_once(peer, row, data)
            total += measured.warmup_ms / 1000
        except NotApplicable:
            measured.status = "n/a"
        except Exception as error:  # one peer failing must not stop the others
            measured.status = f"error: {type(error).__name__}: {error}"
    return total


def measure(row: Row, peers: dict[str, Peer], repeat: int, budget: float, minimum: int) -> int:
    """Warm up, then time the peers round-robin, rotating who goes first. Returns the rounds."""
    data = row.input.read()
    round_seconds = warm_up(row, peers, data)
    active = [key for key in peers if row.results[key].status == "ok"]
    rounds = repeat
    if round_seconds > 0:
        rounds = max(min(repeat, minimum), min(repeat, int(budget / round_seconds)))
    for index in range(rounds if active else 0):
        shift = index % len(active)
        for key in active[shift:] + active[:shift]:
            elapsed, cpu, _ = time_once(peers[key], row, data)
            row.results[key].runs_ms.append(elapsed)
            row.results[key].cpu_ms.append(cpu)
    return rounds


def probe_memory(row: Row, quick: bool, threads: int) -> None:
    for key, measured in row.results.items():
        if measured.status != "ok":
            continue
        found = memory.probe(row.workload.id, row.input.name, key, quick, threads)
        measured.peak_rss_mib = found.get("added_mib")


def decode_floor(item: Input, repeat: int) -> float:
    """Median CPU ms to decode a JPEG at 1/8 scale with Pillow's draft: the least a thumbnail
    of it can cost."""
    import io

    from PIL import Image

    data = item.read()
    runs = []
    for index in range(repeat + 1):
        gc.collect()
        start = time.process_time_ns()
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (image.width // 8, image.height // 8))
        image.load()
        if index:  # the first is the warm-up
            runs.append((time.process_time_ns() - start) / 1e6)
    return statistics.median(runs)


def run_probe(args: argparse.Namespace) -> int:
    """Child mode: one operation in this fresh process; print the memory it added as JSON."""
    workload_id, input_name, key = args.probe
    item = inputs_module.prepare([input_name], args.quick)[0]
    workload = _workload(workload_id)
    peer = load(key)
    if isinstance(peer, str):
        print(peer, file=sys.stderr)
        return 1
    data = item.read()
    output = workload.output_for(item.kind) or ""
    gc.collect()
    before = memory.rss_kib()
    reset = memory.reset_peak()
    peer.run(workload.id, data, output)
    peak = memory.peak_kib()
    added = (peak - before) / 1024 if peak is not None and before is not None else None
    print(json.dumps({"added_mib": added, "baseline_mib": (before or 0) / 1024, "reset": reset}))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        print(report.markdown(json.loads(args.report.read_text())))
        return 0
    cores = limit_cores(args.threads)
    if args.probe:
        return run_probe(args)
    repeat = args.repeat or (3 if args.quick else 15)
    minimum = min(repeat, 3 if args.quick else MIN_REPEAT)
    input_names = _words(args.inputs)
    if input_names is None and args.quick:
        input_names = ["12mp", "png-alpha", "gif-animated"]
    unknown = set(input_names or []) - set(INPUT_NAMES)
    if unknown:
        sys.exit(f"unknown inputs: {', '.join(sorted(unknown))}; known: {', '.join(INPUT_NAMES)}")
    workloads = select(_words(args.only))
    if not workloads:
        sys.exit(f"--only matched no workload; ids: {', '.join(w.id for w in WORKLOADS)}")
    items = inputs_module.prepare(input_names, args.quick)
    peers, unavailable = {}, {}
    for key in _words(args.peers) or list(PEERS):
        loaded = load(key)
        if isinstance(loaded, str):
            unavailable[key] = loaded
            print(f"{key} unavailable: {loaded}", file=sys.stderr)
        else:
            peers[key] = loaded
    rows = [
        Row(workload, item, output)
        for workload in workloads
        for item in items
        if (output := workload.output_for(item.kind)) is not None
    ]
    fingerprint, revision = core_fingerprint(), git_revision()
    started = time.monotonic()
    for number, row in enumerate(rows, 1):
        row.results = {key: Measured() for key in peers}
        row.results |= {key: Measured(status="unavailable") for key in unavailable}
        rounds = measure(row, peers, repeat, args.budget, minimum)
        if not args.no_memory:
            probe_memory(row, args.quick, args.threads)
        print(
            f"[{number}/{len(rows)}] {row.workload.id} {row.input.name} -> {row.output}: "
            f"{rounds} rounds, {time.monotonic() - started:.0f} s so far",
            file=sys.stderr,
            flush=True,
        )
    floors, stored_thumbnails = {}, []
    if any(w.id == "thumbnail" for w in workloads):
        jpegs = [i for i in items if i.kind in ("jpeg", "pjpeg")]
        floors = {i.name: decode_floor(i, repeat) for i in jpegs}
        stored_thumbnails = [stored.measure(i, repeat) for i in jpegs]
    data = report.to_json(rows, floors, peers, unavailable, args, repeat, minimum, cores)
    data["stored_thumbnail"] = stored_thumbnails
    data["seconds"] = round(time.monotonic() - started, 1)
    data["environment"]["progimage"] = {"revision": revision, "core_sha256": fingerprint}
    if core_fingerprint() != fingerprint:
        data["environment"]["progimage"]["changed_during_run"] = True
        print("warning: the service's code changed during the run; run again", file=sys.stderr)
    path = args.json or RESULTS / ("quick.json" if args.quick else "latest.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(report.markdown(data))
    print(f"results written to {path}", file=sys.stderr)
    return 0
