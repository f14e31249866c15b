"""Cold starts and cache hits: what each function costs before and when it does no image work.

    python -m bench.coldstart [--runs N] [--warm N] [--json PATH]

For every function of template.yaml, N fresh interpreters import its handler under
``python -X importtime``; the handler module's cumulative line is its import cost, and the
slowest packages under it are listed. For the requests that a stored variant answers —
``GET /images/{id}.webp`` (Get) and ``GET /images/{id}/thumbnail:256.webp`` (Transform) — an
image is uploaded and both variants made once through the local server (moto on loopback);
each fresh interpreter then invokes the handler with that request: the first call is the cold
one (clients made, record read, variant fetched), the median of the next ``--warm`` calls the
warm one. Each reports whether Pillow was imported (it must not be).

The times include moto's loopback HTTP round trips instead of S3's and DynamoDB's, and nothing
of Lambda's own start (runtime, layers): they compare the functions' own code, not AWS.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PILLOW = "PIL.Image"
IMAGING = "progimage_service.imaging."


def probe(handler: str, event: dict | None, warm: int) -> dict:
    """Import ``handler`` (module.attribute) and call it with ``event``: this process's report."""
    module_name, _, attribute = handler.rpartition(".")
    started = time.perf_counter()
    __import__(module_name)  # the builtin, which -X importtime records (import_module is not)
    function = getattr(sys.modules[module_name], attribute)
    report: dict = {"import_ms": (time.perf_counter() - started) * 1000}
    if event is not None:
        calls = []
        for _ in range(1 + warm):
            started = time.perf_counter()
            response = function(event, None)
            calls.append((time.perf_counter() - started) * 1000)
        report |= {"status": response["statusCode"], "first_ms": calls[0], "warm_ms": calls[1:]}
    # A lazily imported module sits in sys.modules as a placeholder until first used.
    pillow = sys.modules.get(PILLOW)
    report["pillow_imported"] = pillow is not None and type(pillow).__name__ == "module"
    report["imaging_modules"] = sorted(m for m in sys.modules if m.startswith(IMAGING))
    return report


def run_probe(handler: str, event: dict | None = None, warm: int = 0, env: dict | None = None):
    """``probe`` in a new interpreter under ``-X importtime``: (its report, importtime lines)."""
    command = [sys.executable, "-X", "importtime", "-m", "bench.coldstart", "--probe", handler]
    command += ["--warm", str(warm)]
    done = subprocess.run(
        command,
        input=json.dumps(event) if event is not None else "",
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe of {handler} failed:\n{done.stderr[-3000:]}")
    timings = [
        line
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and not line.endswith("imported package")  # header
    ]
    return json.loads(done.stdout.strip().splitlines()[-1]), timings


def import_cost(timings: list[str], module: str) -> tuple[float, dict[str, float]]:
    """From ``-X importtime`` lines: the cumulative import time of ``module`` (ms), and that
    time split by distribution: each imported module's own time goes to its top-level package
    (the standard library's modules together as "stdlib")."""
    parsed = []
    for line in timings:
        head, cumulative_us, name = line.split("|")  # "import time: self | cumulative | name"
        self_ms, cumulative_ms = int(head.split(":")[1]) / 1000, int(cumulative_us) / 1000
        parsed.append((len(name) - len(name.lstrip()), name.strip(), self_ms, cumulative_ms))
    end = next(i for i, line in enumerate(parsed) if line[1] == module)
    depth, _, self_ms, total = parsed[end]
    packages = {module.partition(".")[0]: self_ms}
    for level, name, self_ms, _ in reversed(parsed[:end]):
        if level <= depth:  # an earlier import at the handler's own depth: its block has ended
            break
        top = name.partition(".")[0]
        package = "stdlib" if top.lstrip("_") in sys.stdlib_module_names else top
        packages[package] = packages.get(package, 0.0) + self_ms
    return total, dict(sorted(packages.items(), key=lambda item: -item[1]))


# The requests a stored variant answers: (function, event file, URL path after /images/{id}).
CACHE_HITS = (
    ("GetFunction", "get-image-webp.json", ".webp"),
    ("TransformFunction", "get-variant.json", "/thumbnail:64/grayscale.png"),
)
EXAMPLE_ID = "0Ojp8iUHJrV2bQ4mJmGpV1rNY"  # the id in the sample events
PHOTO = REPO.parent / "shared" / "testdata" / "exif-orientation" / "Landscape_1.jpg"


def hit_event(name: str, image_id: str) -> dict:
    """The sample event ``name`` asking for the image ``image_id``."""
    text = (REPO / "events" / name).read_text()
    return json.loads(text.replace(EXAMPLE_ID, image_id))


def measure(runs: int, warm: int) -> dict:
    """Every function's import cost, and the cache hits' handler times, over ``runs`` processes."""
    import logging
    import os

    import requests

    from localserver import LocalServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    results: dict = {"runs": runs, "warm": warm, "functions": {}}
    with LocalServer(REPO / "template.yaml") as server:
        created = requests.post(
            f"{server.url}/images",
            data=PHOTO.read_bytes(),
            headers={"Content-Type": "image/jpeg"},
            timeout=60,
        )
        created.raise_for_status()
        image_id = created.json()["id"]
        hits = {}
        for function, event_name, path in CACHE_HITS:
            made = requests.get(f"{server.url}/images/{image_id}{path}", timeout=60)
            made.raise_for_status()  # the variant now exists
            hits[function] = hit_event(event_name, image_id)
        env = dict(os.environ)  # the server's: the functions' variables and moto's endpoint
        for spec in server.template.functions.values():
            event = hits.get(spec.logical_id)
            reports = []
            for _ in range(runs):
                report, timings = run_probe(spec.handler, event, warm if event else 0, env)
                report["import_ms"], report["packages"] = import_cost(timings, spec.module_name)
                reports.append(report)
            results["functions"][spec.logical_id] = summarise(spec.handler, event, reports)
            print(f"  {spec.logical_id}: done", file=sys.stderr)
    return results


def summarise(handler: str, event: dict | None, reports: list[dict]) -> dict:
    """Medians over the processes."""
    packages = {name for report in reports for name in report["packages"]}
    summary = {
        "handler": handler,
        "import_ms": statistics.median(r["import_ms"] for r in reports),
        "packages_ms": {
            name: statistics.median(r["packages"].get(name, 0.0) for r in reports)
            for name in packages
        },
        "pillow_imported": any(r["pillow_imported"] for r in reports),
    }
    if event is not None:
        summary |= {
            "request": event["rawPath"],
            "status": sorted({r["status"] for r in reports}),
            "first_ms": statistics.median(r["first_ms"] for r in reports),
            "warm_ms": statistics.median(t for r in reports for t in r["warm_ms"]),
        }
    return summary


def markdown(results: dict) -> str:
    """The report: one row per function."""
    lines = [
        f"Median of {results['runs']} fresh processes; warm = median of {results['warm']} calls "
        "after the first.",
        "",
        "| function | import ms | largest parts (ms) | cache hit | first call ms | warm ms "
        "| Pillow imported |",
        "|---|--:|---|---|--:|--:|---|",
    ]
    for name, f in results["functions"].items():
        parts = sorted(f["packages_ms"].items(), key=lambda item: -item[1])[:3]
        largest = ", ".join(f"{package} {ms:.0f}" for package, ms in parts if ms >= 1)
        path = re.sub(r"^/images/[^/.]+", "/images/{id}", f.get("request", ""))
        request = f"`GET {path}`" if path else "—"
        first = f"{f['first_ms']:.1f}" if "first_ms" in f else "—"
        warm = f"{f['warm_ms']:.1f}" if "warm_ms" in f else "—"
        pillow = "yes" if f["pillow_imported"] else "no"
        lines.append(
            f"| {name} | {f['import_ms']:.0f} | {largest} | {request} | {first} | {warm} "
            f"| {pillow} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per function")
    parser.add_argument("--warm", type=int, default=20, help="warm calls per process")
    parser.add_argument("--json", type=Path, default=RESULTS / "coldstart.json")
    parser.add_argument("--probe", metavar="HANDLER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:  # inside a fresh interpreter: the event (if any) comes on stdin
        text = sys.stdin.read()
        print(json.dumps(probe(args.probe, json.loads(text) if text else None, args.warm)))
        return 0
    results = measure(args.runs, args.warm)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
