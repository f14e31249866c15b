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

Cold starts that render are measured on what ``sam build`` made (``.aws-sam/build``; skipped with
a note when it is missing): for each function that renders (Get, Transform, JobWorker), fresh
interpreters with only the built function and the built Pillow layer ahead of the standard
library and boto3 (as in Lambda) and ``PYTHONDONTWRITEBYTECODE=1`` (as Lambda's read-only
``/var/task`` and ``/opt``: nothing compiled is kept) import the handler, then render
``thumbnail:256.webp`` of a 12 MP JPEG (``progimage_service.imaging.render.render``): the CPU time
of imports plus that first render, of a warm render in the same process, and whether the
modules of Pillow and of the function were loaded from their bytecode or compiled again.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def _fresh(
    command: list[str], cwd: Any, env: Any, what: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run a probe in a new interpreter; its output, or an error with the end of its stderr."""
    done = subprocess.run(
        command,
        input=stdin,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-3000:]}")
    return done


def run_probe(handler: str, event: dict | None = None, warm: int = 0, env: dict | None = None):
    """``probe`` in a new interpreter under ``-X importtime``: (its report, importtime lines)."""
    command = [sys.executable, "-X", "importtime", "-m", "bench.coldstart", "--probe", handler]
    command += ["--warm", str(warm)]
    event_text = json.dumps(event) if event is not None else ""
    done = _fresh(command, REPO, env, f"probe of {handler}", event_text)
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


# ---------------------------------------------------------------- cold starts that render

BUILD = REPO / ".aws-sam" / "build"  # what `sam build` made
LAYER = "PillowLayer"
# The functions that render; they share one artifact (functions/Makefile), so their first
# renders differ only by their handler's imports.
RENDERING = ("GetFunction", "TransformFunction", "JobWorkerFunction")
RENDER_PATH = "thumbnail:256.webp"
RENDER_INPUT = "12mp"


def from_bytecode(module) -> bool:
    """Whether the import system loaded ``module`` from its ``__pycache__`` file rather than
    compiling its source: the file is there, for this Python, and valid for the source as the
    import system checks it (an unchecked-hash file always is)."""
    source = getattr(module, "__file__", None)
    if not source or not source.endswith(".py"):
        return False
    try:
        head = Path(importlib.util.cache_from_source(source)).read_bytes()[:16]
    except OSError:
        return False
    if len(head) < 16 or head[:4] != importlib.util.MAGIC_NUMBER:
        return False
    flags = int.from_bytes(head[4:8], "little")
    if flags & 0b01:  # hash-based; checked against the source only with check_source set
        if not flags & 0b10:
            return True
        return head[8:16] == importlib.util.source_hash(Path(source).read_bytes())
    stat = os.stat(source)  # timestamp-based: the source's mtime and size
    return head[8:12] == (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") and head[
        12:16
    ] == (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little")


def render_probe(handler: str, image: str, warm: int) -> dict:
    """In a fresh interpreter: import ``handler``'s module, then render RENDER_PATH of ``image``
    once cold and ``warm`` times more; CPU milliseconds, and where the modules came from."""
    started = time.process_time_ns()
    __import__(handler.rpartition(".")[0])
    imported = time.process_time_ns()
    from progimage_service.imaging.limits import Limits
    from progimage_service.imaging.pipeline import parse_path
    from progimage_service.imaging.render import render

    data = Path(image).read_bytes()
    before = time.process_time_ns()  # reading the file is no part of a render
    render(data, parse_path(RENDER_PATH), Limits())
    first = time.process_time_ns()
    warm_ms = []
    for _ in range(warm):
        start = time.process_time_ns()
        render(data, parse_path(RENDER_PATH), Limits())
        warm_ms.append((time.process_time_ns() - start) / 1e6)

    def origin(prefix: str) -> dict:
        modules = [
            m
            for name, m in list(sys.modules.items())
            if (name == prefix or name.startswith(prefix + "."))
            and str(getattr(m, "__file__", None)).endswith(".py")  # not the native extensions
        ]
        return {
            "modules": len(modules),
            "from_bytecode": sum(from_bytecode(m) for m in modules),
            "path": str(Path(modules[0].__file__).parent) if modules else None,
        }

    return {
        "import_ms": (imported - started) / 1e6,
        "first_render_ms": (first - before) / 1e6,
        "cold_ms": (imported - started + first - before) / 1e6,
        "warm_ms": warm_ms,
        "pillow": origin("PIL"),
        "function": origin("progimage_service"),
    }


def built_dirs(build: Path, function: str) -> tuple[Path, Path] | None:
    """The built function's folder and the built layer's python/ folder, if both are there."""
    code, layer = build / function, build / LAYER / "python"
    return (code, layer) if code.is_dir() and (layer / "PIL").is_dir() else None


def measure_renders(runs: int, warm: int, build: Path = BUILD) -> dict:
    """The rendering functions' first and warm renders on the built artifact and layer."""
    from bench.inputs import prepare
    from localserver.template import Template

    handlers = {
        name: spec.handler
        for name, spec in Template.load(REPO / "template.yaml").functions.items()
        if name in RENDERING
    }
    missing = [name for name in RENDERING if built_dirs(build, name) is None]
    if missing:
        return {"skipped": f"no `sam build` output in {build} for {', '.join(missing)}"}
    (photo,) = prepare([RENDER_INPUT], quick=False)
    results: dict = {"build": str(build), "image": photo.description, "functions": {}}
    for name in RENDERING:
        code, layer = built_dirs(build, name)
        # The built function and layer ahead of the interpreter's standard library and boto3
        # (Lambda's runtime has both), nothing compiled written back. This file runs as a
        # script, not from the bench package (which puts the checkout's functions/ on the path),
        # and PYTHONSAFEPATH keeps its folder off the path.
        env = {
            **os.environ,
            "PYTHONPATH": f"{code}{os.pathsep}{layer}",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONSAFEPATH": "1",
        }
        command = [sys.executable, __file__, "--render-probe", handlers[name]]
        command += ["--image", str(photo.path), "--warm", str(warm)]
        reports = []
        for _ in range(runs):
            done = _fresh(command, code, env, f"render probe of {name}")
            report = json.loads(done.stdout.strip().splitlines()[-1])
            for part, folder in (("pillow", layer), ("function", code)):
                where = report[part]["path"]
                if where is None or not Path(where).is_relative_to(folder):
                    raise RuntimeError(f"{name}: {part} was not imported from {folder}: {where}")
            reports.append(report)
        results["functions"][name] = {
            "handler": handlers[name],
            "request": RENDER_PATH,
            "import_ms": statistics.median(r["import_ms"] for r in reports),
            "first_render_ms": statistics.median(r["first_render_ms"] for r in reports),
            "cold_ms": statistics.median(r["cold_ms"] for r in reports),
            "warm_ms": statistics.median(t for r in reports for t in r["warm_ms"]),
            "pillow_modules": reports[0]["pillow"]["modules"],
            "pillow_from_bytecode": min(r["pillow"]["from_bytecode"] for r in reports),
            "function_modules": reports[0]["function"]["modules"],
            "function_from_bytecode": min(r["function"]["from_bytecode"] for r in reports),
        }
        print(f"  {name} render: done", file=sys.stderr)
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


def markdown_renders(renders: dict) -> str:
    """The rendering functions' cold starts on the built artifact and layer, or why not."""
    if "skipped" in renders:
        return f"Cold starts that render: skipped ({renders['skipped']}; run `make sam-build`)."
    lines = [
        f"Cold starts that render `{RENDER_PATH}` of a 12 MP {renders['image']}, on the built "
        "artifact and layer (CPU ms; the three share one artifact, so they differ by their "
        "handler's imports only):",
        "",
        "| function | imports ms | first render ms | imports + first render ms | warm render ms "
        "| Pillow modules from bytecode | function modules from bytecode |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, f in renders["functions"].items():
        lines.append(
            f"| {name} | {f['import_ms']:.0f} | {f['first_render_ms']:.0f} | {f['cold_ms']:.0f} "
            f"| {f['warm_ms']:.0f} | {f['pillow_from_bytecode']}/{f['pillow_modules']} "
            f"| {f['function_from_bytecode']}/{f['function_modules']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per function")
    parser.add_argument("--warm", type=int, default=20, help="warm calls per process")
    parser.add_argument("--json", type=Path, default=RESULTS / "coldstart.json")
    parser.add_argument(
        "--render-warm", type=int, default=5, help="warm renders per process (built artifact)"
    )
    parser.add_argument(
        "--build", type=Path, default=BUILD, help="sam build's output (default .aws-sam/build)"
    )
    parser.add_argument("--probe", metavar="HANDLER", help=argparse.SUPPRESS)
    parser.add_argument("--render-probe", metavar="HANDLER", help=argparse.SUPPRESS)
    parser.add_argument("--image", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:  # inside a fresh interpreter: the event (if any) comes on stdin
        text = sys.stdin.read()
        print(json.dumps(probe(args.probe, json.loads(text) if text else None, args.warm)))
        return 0
    if args.render_probe:  # inside a fresh interpreter on the built function and layer
        print(json.dumps(render_probe(args.render_probe, args.image, args.warm)))
        return 0
    results = measure(args.runs, args.warm)
    results["renders"] = measure_renders(args.runs, args.render_warm, args.build)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(markdown(results))
    print()
    print(markdown_renders(results["renders"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
