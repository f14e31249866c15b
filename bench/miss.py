"""Variant misses and hits as they would run on AWS: storage calls, round trips, latency.

    python -m bench.miss [--runs N] [--profile regional|express] [--cache-profile express]
                         [--s3-get-ms MS ...]

A 12 MP JPEG is stored through the upload handler, then each request runs through its real
handler in this process, storage on moto (in-process, as the integration tests run it, with the
bucket and table that template.yaml declares):

- ``GET /images/{id}/thumbnail:256.webp`` (the Transform function), a miss and then a hit;
- ``GET /images/{id}.webp`` (the Get function), a miss and then a hit.

Every botocore client created while the bench runs (so the service's own, wherever it makes
them) has ``bench/latency.py``'s hooks on its events: each S3 and DynamoDB call is held until
the modelled time has passed (first byte plus transfer for S3, one latency per DynamoDB
operation), and recorded with its start and end. Sleeping releases the GIL, so calls the code
makes from several threads overlap as they would on AWS, and the render's CPU time is real.

Each run uses an image of its own (``--runs`` + 1 uploads; the first is a warm-up that imports
Pillow and creates the clients), so that nothing cached in the process from an earlier run of
the same image makes a miss cheaper than a first request. Printed: for each request, the calls
of its median run in order with their start and end, and which overlapped; then the calls, the
sequential round trips and the wall-clock p50/p95 over the runs; the same runs with the cache
in a bucket of its own (template parameter CacheBucket=express: variants, their markers and
working copies charged at ``--cache-profile``'s figures, originals and the catalog at the
profile's); and, when thumbor is installed (``make bench`` installs it), thumbor's miss for
the same thumbnail over HTTP on its own server. Everything measured goes to
``bench/results/miss.json``.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field, fields
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from . import FUNCTIONS
from .latency import (
    PROFILES,
    Call,
    Injector,
    LatencyModel,
    modelled,
    overlap_groups,
    recharged,
    round_trips,
    storage_ms,
)

ROOT = FUNCTIONS.parent
EVENTS = ROOT / "events"
RESULTS = Path(__file__).resolve().parent / "results"
PIPELINE = "thumbnail:256.webp"
FORMAT = "webp"
THUMBOR_URL = "/unsafe/fit-in/256x256/filters:format(webp)/{name}"


@dataclass
class Measured:
    """One request path: its runs' wall times and storage calls, as measured on moto and as
    modelled (every call taking exactly its modelled time, see ``latency.modelled``)."""

    name: str
    request: str
    runs_wanted: int
    walls_ms: list[float] = field(default_factory=list)
    runs: list[list[Call]] = field(default_factory=list)
    modelled_ms: list[float] = field(default_factory=list)
    modelled_runs: list[list[Call]] = field(default_factory=list)

    def add(self, wall: float, calls: list[Call]) -> None:
        timeline, overshoot = modelled(calls)
        self.walls_ms.append(wall)
        self.runs.append(calls)
        self.modelled_ms.append(wall - overshoot)
        self.modelled_runs.append(timeline)

    def median_run(self) -> int:
        order = sorted(range(len(self.modelled_ms)), key=self.modelled_ms.__getitem__)
        return order[len(order) // 2]


# ---------------------------------------------------------------- events


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def _with_path(event: dict[str, Any], path: str, parameters: dict[str, str]) -> dict[str, Any]:
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = parameters
    return event


def variant_event(image_id: str, pipeline: str) -> dict[str, Any]:
    """``GET /images/{id}/{pipeline+}``, unsigned (the template configures no signing keys)."""
    return _with_path(
        _event("get-variant"),
        f"/images/{image_id}/{pipeline}",
        {"id": image_id, "pipeline": pipeline},
    )


def conversion_event(image_id: str, extension: str) -> dict[str, Any]:
    """``GET /images/{id}.{ext}``."""
    return _with_path(
        _event("get-image-webp"),
        f"/images/{image_id}.{extension}",
        {"id": f"{image_id}.{extension}"},
    )


def upload_event(data: bytes) -> dict[str, Any]:
    from .cost import upload_event as raw_upload

    return raw_upload(data)


# ---------------------------------------------------------------- the service on moto


class Service:
    """The template's bucket and table on in-process moto, the handlers, and the injector."""

    def __init__(self, injector: Injector) -> None:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            os.environ[name] = "testing"
        os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            os.environ.pop(name, None)
        from moto import mock_aws

        self.mock = mock_aws()
        self.mock.start()
        self.injector = injector
        self._installed = injector.installed()
        self._installed.__enter__()  # before any of the service's clients exist

        from localserver.environment import function_environment
        from localserver.intrinsics import Resolver
        from localserver.resources import ProvisionContext, provision_all
        from localserver.template import Template

        template = Template.load(ROOT / "template.yaml")
        resolver = Resolver(template, resources={}, stack_name="bench")
        provision_all(template, ProvisionContext(resolver=resolver, endpoint_url=None))
        os.environ.update(function_environment(template.functions.values(), resolver))
        _clear_cached_clients()

        from get.app import handler as get_handler
        from transform.app import handler as transform_handler
        from upload.app import handler as upload_handler

        self.upload_handler = upload_handler
        self.get_handler = get_handler
        self.transform_handler = transform_handler

    def close(self) -> None:
        self._installed.__exit__(None, None, None)
        self.mock.stop()

    def upload(self, data: bytes) -> str:
        with quiet():
            result = self.upload_handler(upload_event(data), None)
        if result["statusCode"] != 201:
            raise SystemExit(f"the upload answered {result['statusCode']}: {result.get('body')}")
        return json.loads(result["body"])["id"]

    def measure(self, handler: Callable, event: dict[str, Any]) -> tuple[int, float, list[Call]]:
        """One request: its status, wall ms and storage calls."""
        gc.collect()
        with self.injector.request() as calls, quiet():
            started = time.perf_counter()
            result = handler(event, None)
            wall = (time.perf_counter() - started) * 1000
        return result["statusCode"], wall, sorted(calls, key=lambda c: c.start_ms)


@contextmanager
def quiet() -> Iterator[None]:
    """The functions' log records and metrics (stdout in Lambda) are written, then dropped,
    so that stdout carries the report only."""
    with redirect_stdout(io.StringIO()):
        yield


def _clear_cached_clients() -> None:
    """Forget clients and dependencies made before the hooks were installed (none should be)."""
    from progimage_service import wiring
    from progimage_service.adapters import aws

    for cached in (getattr(aws, "_client", None), getattr(wiring, "_dependencies", None)):
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def run(
    data: bytes, runs: int, full_size_runs: int, model: LatencyModel, log: Callable[[str], None]
) -> list[Measured]:
    injector = Injector(model)
    service = Service(injector)
    try:
        paths = [
            Measured("miss", f"GET /images/{{id}}/{PIPELINE} (Transform)", runs),
            Measured("hit", f"GET /images/{{id}}/{PIPELINE} (Transform)", runs),
            Measured("miss", f"GET /images/{{id}}.{FORMAT} (Get)", full_size_runs),
            Measured("hit", f"GET /images/{{id}}.{FORMAT} (Get)", runs),
        ]
        log(f"storing {runs + 1} images (one a run, and one to warm up) ...")
        images = [service.upload(data) for _ in range(runs + 1)]
        for index, image_id in enumerate(images):
            requests = [
                (service.transform_handler, variant_event(image_id, PIPELINE)),
                (service.get_handler, conversion_event(image_id, FORMAT)),
            ]
            for number, (handler, event) in enumerate(requests):
                miss, hit = paths[2 * number : 2 * number + 2]
                if index > miss.runs_wanted:  # the full-size conversion: enough misses of it
                    warm = conversion_event(images[0], FORMAT)  # the warm-up made its variant
                    status, wall, calls = service.measure(handler, warm)
                    if status != 200:
                        raise SystemExit(f"{hit.name} {hit.request} answered {status}")
                    hit.add(wall, [_anonymous(c, images[0]) for c in calls])
                    continue
                for path in (miss, hit):
                    status, wall, calls = service.measure(handler, event)
                    if status != 200:
                        raise SystemExit(f"{path.name} {path.request} answered {status}")
                    if index:  # the first image warms up
                        path.add(wall, [_anonymous(c, image_id) for c in calls])
            if index:
                log(f"run {index}/{runs}")
        return paths
    finally:
        service.close()


def _anonymous(call: Call, image_id: str) -> Call:
    """The call with the image's id as ``{id}``, and a variant's hashed name shortened."""
    parts = call.what.replace(image_id, "{id}").split("/")
    stem, dot, extension = parts[-1].partition(".")
    if len(stem) > 16 and all(c in "0123456789abcdef" for c in stem):
        parts[-1] = f"{stem[:8]}…{dot}{extension}"
    call.what = "/".join(parts)
    return call


# ---------------------------------------------------------------- thumbor over HTTP


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def thumbor_miss(photo: Path, runs: int, log: Callable[[str], None]) -> dict[str, Any] | None:
    """thumbor's own HTTP server (its PIL engine, the file loader reading the same JPEG, no
    result storage: every request renders), timed from this process over loopback."""
    if find_spec("thumbor") is None:
        return None
    port = _free_port()
    with tempfile.TemporaryDirectory() as scratch:
        conf = Path(scratch) / "thumbor.conf"
        conf.write_text(
            "\n".join(
                [
                    "LOADER = 'thumbor.loaders.file_loader'",
                    f"FILE_LOADER_ROOT_PATH = {str(photo.parent)!r}",
                    "STORAGE = 'thumbor.storages.no_storage'",
                    "RESULT_STORAGE = None",
                    "ALLOW_UNSAFE_URL = True",
                    "ENGINE = 'thumbor.engines.pil'",
                    "PROGRESSIVE_JPEG = False",
                ]
            )
        )
        command = [
            sys.executable,
            "-c",
            "import sys; from thumbor.server import main; sys.exit(main(sys.argv[1:]))",
            *("--port", str(port), "--ip", "127.0.0.1", "--conf", str(conf), "-l", "error"),
        ]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            url = base + THUMBOR_URL.format(name=photo.name)
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/healthcheck", timeout=1).read()
                    break
                except OSError:
                    if server.poll() is not None:
                        break
                    time.sleep(0.1)
            else:
                log("thumbor's server did not start")
                return None
            if server.poll() is not None:
                log(f"thumbor's server exited: {server.stderr.read().decode()[-500:]}")
                return None
            walls, size = [], 0
            for index in range(runs + 1):
                gc.collect()
                started = time.perf_counter()
                with urllib.request.urlopen(url, timeout=60) as response:
                    body = response.read()
                    kind = response.headers.get("Content-Type")
                wall = (time.perf_counter() - started) * 1000
                if index:
                    walls.append(wall)
                size = len(body)
            from importlib.metadata import version

            return {
                "version": version("thumbor"),
                "url": THUMBOR_URL.format(name="{photo}"),
                "walls_ms": walls,
                "content_type": kind,
                "bytes": size,
            }
        finally:
            server.terminate()
            server.wait(timeout=10)


# ---------------------------------------------------------------- the report


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, linear between the nearest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def sequence(calls: list[Call]) -> str:
    """The calls as round trips: ``A → B ∥ C → D`` (∥: in the same round trip)."""
    groups = overlap_groups(calls)
    trips: dict[int, list[str]] = {}
    for call, group in zip(calls, groups, strict=True):
        trips.setdefault(group, []).append(_short(call))
    return " → ".join(" ∥ ".join(names) for _, names in sorted(trips.items()))


def _short(call: Call) -> str:
    service = {"s3": "S3", "dynamodb": "DDB"}.get(call.service, call.service)
    operation = call.operation.removesuffix("Object")
    operation = {"Get": "GET", "Put": "PUT", "Head": "HEAD", "Delete": "DELETE"}.get(
        operation, operation
    )
    return f"{service} {operation}" + (f" ({call.status})" if call.status >= 300 else "")


def with_cache_bucket(path: Measured, model: LatencyModel, cache: LatencyModel) -> list[float]:
    """The path's modelled latencies had the variant cache been in a bucket of its own, with
    ``cache``'s figures: the same runs, their calls charged as the store routes them."""
    from progimage_service.storage_layout import is_cache_key

    return [
        wall - modelled(recharged(calls, model, cache, is_cache_key))[1]
        for wall, calls in zip(path.walls_ms, path.runs, strict=True)
    ]


def cache_bucket_table(
    paths: list[Measured], model: LatencyModel, profile: str, cache_profile: str
) -> list[str]:
    """Each path's p50/p95 with the cache in the images bucket beside a cache bucket's."""
    cache = PROFILES[cache_profile]
    lines = [
        f"### The cache in an {cache_profile} bucket (CacheBucket=express)",
        "",
        f"The same runs, S3 calls on variants/, refs/ and work/ charged at the {cache_profile} "
        f"profile's figures, originals at the {profile} profile's.",
        "",
        f"| path | {profile} p50 ms | {profile} p95 ms | {cache_profile} cache p50 ms "
        f"| {cache_profile} cache p95 ms |",
        "|---|--:|--:|--:|--:|",
    ]
    for path in paths:
        routed = with_cache_bucket(path, model, cache)
        lines.append(
            f"| {path.name} {path.request} | {percentile(path.modelled_ms, 50):.1f} "
            f"| {percentile(path.modelled_ms, 95):.1f} | {percentile(routed, 50):.1f} "
            f"| {percentile(routed, 95):.1f} |"
        )
    return [*lines, ""]


def markdown(
    paths: list[Measured],
    model: LatencyModel,
    profile: str,
    thumbor: dict | None,
    cache_profile: str = "express",
) -> str:
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [
        f"## Misses and hits as on AWS ({profile} profile)",
        "",
        "Model (ms; per MB: ms per 10^6 bytes): "
        + ", ".join(f"{f.name} {getattr(model, f.name):g}" for f in fields(LatencyModel))
        + ". Latency: the handler's wall clock, the render's CPU work included, with every "
        "storage call taking exactly its modelled time (what moto or a late wake-up added "
        "beyond it is taken out; `measured p50` keeps it). One image per run. Load average "
        f"{load}, {os.cpu_count()} CPUs: on a busy machine the CPU work takes longer.",
        "",
    ]
    for path in paths:
        index = path.median_run()
        calls = path.modelled_runs[index]
        groups = overlap_groups(calls)
        lines += [
            f"### {path.name}: {path.request} — the median run, {path.modelled_ms[index]:.1f} ms",
            "",
            "| # | call | object | bytes | start ms | end ms | modelled ms | round trip "
            "| overlaps |",
            "|--:|---|---|--:|--:|--:|--:|--:|---|",
        ]
        for number, (call, group) in enumerate(zip(calls, groups, strict=True), 1):
            overlapping = [
                str(other)
                for other, peer in enumerate(calls, 1)
                if peer is not call and peer.start_ms < call.end_ms and call.start_ms < peer.end_ms
            ]
            lines.append(
                f"| {number} | {call.label} | `{call.what}` | {call.sent + call.received:,} "
                f"| {call.start_ms:.1f} | {call.end_ms:.1f} | {call.charged_ms:.1f} | {group} "
                f"| {', '.join(overlapping) or '—'} |"
            )
        lines.append("")
    lines += [
        "### Summary",
        "",
        "| path | calls | sequential round trips | p50 ms | p95 ms | storage p50 ms "
        "| rest p50 ms | measured p50 ms | n |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for path in paths:
        waits = [storage_ms(calls) for calls in path.modelled_runs]
        rest = [w - s for w, s in zip(path.modelled_ms, waits, strict=True)]
        lines.append(
            f"| {path.name} {path.request} | {_span([len(c) for c in path.runs])} "
            f"| {_span([round_trips(c) for c in path.runs])} "
            f"| {percentile(path.modelled_ms, 50):.1f} | {percentile(path.modelled_ms, 95):.1f} "
            f"| {percentile(waits, 50):.1f} | {percentile(rest, 50):.1f} "
            f"| {percentile(path.walls_ms, 50):.1f} | {len(path.walls_ms)} |"
        )
    if thumbor is not None:
        walls = thumbor["walls_ms"]
        get_ms = model.charge_ms("s3", "GetObject", 200, received=thumbor["source_bytes"])
        lines.append(
            f"| thumbor {thumbor['version']} miss over HTTP, + 1 modelled S3 GET of the original "
            f"| 1 | 1 | {percentile(walls, 50) + get_ms:.1f} "
            f"| {percentile(walls, 95) + get_ms:.1f} | {get_ms:.1f} "
            f"| {percentile(walls, 50):.1f} | {percentile(walls, 50):.1f} | {len(walls)} |"
        )
    lines += [
        "",
        "storage: time with at least one storage call in flight; rest: everything else (the "
        "render, the handler's own work, the SDK's CPU beyond the model).",
        "",
        *cache_bucket_table(paths, model, profile, cache_profile),
        "| path | storage calls of the median run (∥: in the same round trip) |",
        "|---|---|",
    ]
    for path in paths:
        lines.append(
            f"| {path.name} {path.request} | {sequence(path.modelled_runs[path.median_run()])} |"
        )
    slower = [c for p in paths for calls in p.runs for c in calls if c.real_ms > c.charged_ms]
    lines.append("")
    if slower:
        worst = max(slower, key=lambda c: c.real_ms - c.charged_ms)
        lines.append(
            f"{len(slower)} of {sum(len(c) for p in paths for c in p.runs)} calls took longer on "
            f"moto than the model (the worst: {worst.label} of {worst.sent + worst.received:,} "
            f"bytes, {worst.real_ms:.1f} ms against {worst.charged_ms:.1f}); the latencies count "
            "every call at the model's time."
        )
    if thumbor is None:
        lines.append(
            "thumbor is not installed (`make bench-miss` installs the bench's peers): no "
            "thumbor row."
        )
    else:
        lines.append(
            f"thumbor: its own HTTP server (`{thumbor['url']}`, PIL engine, file loader, no "
            "result storage: every request renders) on loopback, timed from this process, on "
            "the 12 MP original; the modelled S3 GET of the original "
            f"({thumbor['source_bytes']:,} bytes) stands for its S3 loader, the one storage "
            "call its miss needs."
        )
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- the command


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    for f in fields(LatencyModel):
        option = "--" + f.name.replace("_", "-")
        default = getattr(PROFILES["regional"], f.name)
        parser.add_argument(
            option,
            type=float,
            default=None,
            metavar="MS",
            help=f"override the profile's {f.name} (regional: {default:g})",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.miss", description=__doc__)
    parser.add_argument("--runs", type=int, default=25, help="runs per path (one image each)")
    parser.add_argument(
        "--full-size-runs",
        type=int,
        default=5,
        help=f"runs of the miss of GET /images/{{id}}.{FORMAT}, which renders the whole "
        "original (seconds each)",
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="regional")
    parser.add_argument(
        "--cache-profile",
        choices=sorted(PROFILES),
        default="express",
        help="the model of a bucket of its own for the variant cache, printed beside",
    )
    parser.add_argument("--no-thumbor", action="store_true", help="skip thumbor's row")
    parser.add_argument("--json", type=Path, default=RESULTS / "miss.json")
    _model_arguments(parser)
    args = parser.parse_args(argv)
    model = PROFILES[args.profile].with_overrides(
        **{f.name: getattr(args, f.name) for f in fields(LatencyModel)}
    )

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    from . import inputs

    (photo,) = inputs.prepare(["12mp"], quick=False)
    data = photo.read()
    log(f"{photo.description} {photo.size}, {len(data):,} bytes; {model}")
    paths = run(data, args.runs, min(args.full_size_runs, args.runs), model, log)
    thumbor = None if args.no_thumbor else thumbor_miss(photo.path, args.runs, log)
    if thumbor is not None:
        thumbor["source_bytes"] = len(data)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "profile": args.profile,
                "model": asdict(model),
                "cache_profile": args.cache_profile,
                "input": {"description": photo.description, "bytes": len(data)},
                "paths": [
                    {
                        "name": p.name,
                        "request": p.request,
                        "walls_ms": p.walls_ms,
                        "modelled_ms": p.modelled_ms,
                        "cache_bucket_ms": with_cache_bucket(
                            p, model, PROFILES[args.cache_profile]
                        ),
                        "runs": [[asdict(c) for c in calls] for calls in p.runs],
                    }
                    for p in paths
                ],
                "thumbor": thumbor,
            },
            indent=1,
        )
    )
    print(markdown(paths, model, args.profile, thumbor, args.cache_profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
