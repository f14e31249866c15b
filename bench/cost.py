"""What it costs: uploads, variant misses and hits, and a month of storage, priced on AWS.

    python -m bench.cost [--repeat N] [--images N] [--edge-hit-ratio R] [--json PATH]

Each request runs through its real Lambda handler (``upload.app.handler`` for ``POST /images``,
``transform.app.handler`` for ``GET /images/{id}/{pipeline}``) in this process, pinned to one
core, with the service's own S3 and DynamoDB adapters talking to in-memory clients that record
every call. So the table rests on:

- the CPU time of each request on one core (median of ``--repeat`` interleaved rounds), scaled
  to the share of a vCPU Lambda gives the function's MemorySize (one vCPU at 1,769 MB, see
  ``prices.MB_PER_VCPU_SOURCE``; a function with more gets more than one vCPU, but a
  single-threaded render runs no faster than one core, so the share is capped at 1);
- the storage calls the code made, counted, each charged a stated in-region latency
  (``prices.LATENCIES``) plus its body at a stated throughput;
- the MemorySize of each function, read from template.yaml;
- the bytes of every object and response, and the DynamoDB item, from real renders;
- the prices in ``bench/prices.py`` (one dated table).

The arm64 figures assume the render takes as long on Graviton as on this machine's x86 core:
it cannot be measured here. Warm invocations only: cold starts are not counted.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import math
import os
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import FUNCTIONS, prices

ROOT = FUNCTIONS.parent
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
RESULTS = Path(__file__).resolve().parent / "results"

UPLOAD_HANDLER = "upload.app.handler"
VARIANT_HANDLER = "transform.app.handler"
# The variants priced: (label, the URL's pipeline as GET /images/{id}/{pipeline} takes it).
VARIANTS = (
    ("thumbnail 256 JPEG", "thumbnail:256.jpg"),
    ("WebP 1024 w", "resize:1024:0.webp"),
    ("AVIF 1024 w", "resize:1024:0.avif"),
)
REQUESTS = 1000
DEFAULT_IMAGES = 100_000
DEFAULT_EDGE_HIT_RATIO = 0.9
GIB = 1024**3


# ---------------------------------------------------------------- the template


def memory_sizes(template: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """Each function's MemorySize (Globals merged, a parameter's Default resolved), Handler and
    Architectures, by logical id, as the template says."""
    from localserver.template import load_yaml, merge_globals

    data = load_yaml(template)
    parameters = data.get("Parameters") or {}
    defaults = ((data.get("Globals") or {}).get("Function")) or {}
    functions = {}
    for logical_id, body in data["Resources"].items():
        if body.get("Type") != "AWS::Serverless::Function":
            continue
        properties = merge_globals(copy.deepcopy(defaults), body.get("Properties") or {})
        size = properties.get("MemorySize", 128)
        if isinstance(size, dict) and "Ref" in size:
            size = parameters[size["Ref"]]["Default"]
        functions[logical_id] = {
            "memory_mb": int(size),
            "handler": properties["Handler"],
            "architectures": list(properties.get("Architectures") or ["x86_64"]),
        }
    return functions


def function_for(handler: str, functions: dict[str, dict[str, Any]]) -> tuple[str, int]:
    """The logical id and MemorySize of the function with this Handler."""
    for logical_id, spec in functions.items():
        if spec["handler"] == handler:
            return logical_id, spec["memory_mb"]
    raise LookupError(f"no function has Handler {handler}")


# ---------------------------------------------------------------- recording clients


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self) -> bytes:
        return self._data

    def close(self) -> None:
        pass


def _client_error(code: str, operation: str, status: int) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


@dataclass
class Call:
    service: str  # "s3" or "dynamodb"
    operation: str
    key: str
    bytes: int = 0  # the body sent or received (S3), or the item's size (DynamoDB)
    found: bool = True


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)

    def take(self) -> list[Call]:
        taken, self.calls = self.calls, []
        return taken


class MemoryS3:
    """The S3 calls the object store adapter makes, in memory, recorded. Parameters come by
    botocore's names (``Key``, ``Body``, ...)."""

    def __init__(self, recorder: Recorder) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.recorder = recorder

    def put_object(self, **params: Any) -> dict[str, Any]:
        key, body = params["Key"], bytes(params["Body"])
        exists = key in self.objects
        self.recorder.calls.append(Call("s3", "PutObject", key, len(body), not exists))
        if params.get("IfNoneMatch") == "*" and exists:
            raise _client_error("PreconditionFailed", "PutObject", 412)
        etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
        self.objects[key] = {
            "data": body,
            "type": params["ContentType"],
            "etag": etag,
            "meta": dict(params.get("Metadata") or {}),
        }
        return {"ETag": etag}

    def get_object(self, **params: Any) -> dict[str, Any]:
        key = params["Key"]
        obj = self.objects.get(key)
        if obj is None:
            self.recorder.calls.append(Call("s3", "GetObject", key, 0, False))
            raise _client_error("NoSuchKey", "GetObject", 404)
        self.recorder.calls.append(Call("s3", "GetObject", key, len(obj["data"])))
        return {
            "ContentLength": len(obj["data"]),
            "ContentType": obj["type"],
            "ETag": obj["etag"],
            "Body": _Body(obj["data"]),
            "Metadata": obj["meta"],
        }

    def head_object(self, **params: Any) -> dict[str, Any]:
        found = params["Key"] in self.objects
        self.recorder.calls.append(Call("s3", "HeadObject", params["Key"], 0, found))
        if not found:
            raise _client_error("404", "HeadObject", 404)
        return {}

    def delete_object(self, **params: Any) -> dict[str, Any]:
        self.recorder.calls.append(Call("s3", "DeleteObject", params["Key"]))
        self.objects.pop(params["Key"], None)
        return {}


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """A DynamoDB item's size as DynamoDB counts it (``prices.DYNAMODB_ITEM_SIZE``): each
    attribute's name in UTF-8 plus its value."""
    return sum(len(name.encode()) + _value_size(attribute) for name, attribute in item.items())


def _value_size(attribute: dict[str, Any]) -> int:
    """A string's UTF-8 bytes, a number's significant digits / 2 + 1 bytes, 1 byte for a
    boolean or null; a list or map 3 bytes, and 1 for each element besides its size (and its
    name's, in a map)."""
    ((kind, value),) = attribute.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        digits = value.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in value)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in value.items())
    raise TypeError(f"no size rule for a {kind} attribute here")


class MemoryDynamoDB:
    """The DynamoDB calls the catalog adapter makes for images, in memory, recorded."""

    def __init__(self, recorder: Recorder) -> None:
        self.items: dict[tuple[str, str], dict] = {}
        self.recorder = recorder

    def put_item(self, **params: Any) -> dict[str, Any]:
        item = params["Item"]
        key = (item["pk"]["S"], item["sk"]["S"])
        self.recorder.calls.append(Call("dynamodb", "PutItem", key[0], item_size(item)))
        self.items[key] = copy.deepcopy(item)
        return {}

    def batch_write_item(self, **params: Any) -> dict[str, Any]:
        """An upload's index items (tags, the perceptual hash's bands, the content hash)."""
        ((_, requests),) = params["RequestItems"].items()
        items = [request["PutRequest"]["Item"] for request in requests]
        size = sum(item_size(item) for item in items)
        self.recorder.calls.append(Call("dynamodb", "BatchWriteItem", "index", size))
        for item in items:
            self.items[(item["pk"]["S"], item["sk"]["S"])] = copy.deepcopy(item)
        return {}

    def query(self, **params: Any) -> dict[str, Any]:
        """A partition's items: an upload reads its tenant's presets (for the eager ones)."""
        ((_, value),) = params["ExpressionAttributeValues"].items()
        found = [item for (pk, _), item in sorted(self.items.items()) if pk == value["S"]]
        size = sum(item_size(item) for item in found)
        self.recorder.calls.append(Call("dynamodb", "Query", value["S"], size, bool(found)))
        return {"Items": copy.deepcopy(found)}

    def get_item(self, **params: Any) -> dict[str, Any]:
        pk, sk = params["Key"]["pk"]["S"], params["Key"]["sk"]["S"]
        item = self.items.get((pk, sk))
        size = item_size(item) if item else 0
        operation = "GetItem" if params.get("ConsistentRead") else "GetItem(eventual)"
        self.recorder.calls.append(Call("dynamodb", operation, pk, size, bool(item)))
        return {"Item": copy.deepcopy(item)} if item else {}


# ---------------------------------------------------------------- the requests, measured


def pin_one_core() -> list[int]:
    """Run on one core, and tell the AVIF encoder's and OpenMP's thread pools so."""
    os.environ["OMP_NUM_THREADS"] = "1"
    if not hasattr(os, "sched_setaffinity"):
        return []
    core = sorted(os.sched_getaffinity(0))[:1]
    os.sched_setaffinity(0, core)
    return core


@dataclass
class RequestPath:
    """One request path, measured: CPU time, the storage calls, the bytes in and out."""

    name: str
    handler: str
    function: str = ""
    memory_mb: int = 0
    cpu_ms: float = 0.0
    cpu_runs_ms: list[float] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    request_bytes: int = 0
    response_bytes: int = 0
    status: int = 0


class Service:
    """The real handlers against recording in-memory storage."""

    def __init__(self) -> None:
        os.environ.setdefault("PROGIMAGE_BUCKET", "bench-bucket")
        os.environ.setdefault("PROGIMAGE_TABLE", "bench-table")
        from progimage_service import wiring
        from progimage_service.adapters.dynamodb import Catalog
        from progimage_service.adapters.presets import PresetTable
        from progimage_service.adapters.s3 import ObjectStore
        from progimage_service.config import settings

        self.recorder = Recorder()
        self.s3 = MemoryS3(self.recorder)
        self.db = MemoryDynamoDB(self.recorder)
        deps = wiring.Dependencies(settings())
        deps.__dict__["store"] = ObjectStore(deps.settings.bucket, s3=self.s3)
        deps.__dict__["catalog"] = Catalog(deps.settings.table, dynamodb=self.db)
        deps.__dict__["presets"] = PresetTable(deps.settings.table, dynamodb=self.db)
        wiring._dependencies = lambda _variables: deps  # every handler's dependencies()
        self.deps = deps

        from transform.app import handler as variant_handler
        from upload.app import handler as upload_handler

        self.handlers = {UPLOAD_HANDLER: upload_handler, VARIANT_HANDLER: variant_handler}

    def invoke(self, handler: str, event: dict[str, Any]) -> dict[str, Any]:
        return self.handlers[handler](event, None)


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def upload_event(data: bytes) -> dict[str, Any]:
    """``POST /images`` with the JPEG as its raw body, as API Gateway hands it on (base64),
    from a caller with credentials and no Idempotency-Key."""
    event = _event("post-images-raw")
    event["headers"] = event["headers"] | {"content-type": "image/jpeg"}
    event["body"] = base64.b64encode(data).decode()
    event["isBase64Encoded"] = True
    return event


def variant_event(image_id: str, pipeline: str) -> dict[str, Any]:
    event = _event("get-variant")
    path = f"/images/{image_id}/{pipeline}"
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"id": image_id, "pipeline": pipeline}
    return event


def _response_bytes(result: dict[str, Any]) -> int:
    body = result.get("body") or ""
    return len(base64.b64decode(body)) if result.get("isBase64Encoded") else len(body.encode())


def measure(data: bytes, repeat: int) -> dict[str, Any]:
    """Every path's CPU time (median, interleaved rounds), its storage calls and its bytes,
    and the bytes stored for one image."""
    from .cputime import cpu_ms

    service = Service()
    upload = RequestPath("upload", UPLOAD_HANDLER, request_bytes=len(data))
    up_event = upload_event(data)
    first = service.invoke(UPLOAD_HANDLER, up_event)
    upload.status = first["statusCode"]
    upload.calls = [asdict(c) for c in service.recorder.take()]
    upload.response_bytes = _response_bytes(first)
    image_id = json.loads(first["body"])["id"]
    stored = {
        "original": len(service.s3.objects[f"originals/{image_id}"]["data"]),
        "working copy": sum(
            len(o["data"]) for k, o in service.s3.objects.items() if k.startswith("work/")
        ),
    }
    record_item = service.db.items[(f"IMG#{image_id}", "META")]

    misses, hits, work = [], [], {}
    work["upload"] = lambda: service.invoke(UPLOAD_HANDLER, up_event)
    for label, pipeline in VARIANTS:
        event = variant_event(image_id, pipeline)
        miss = RequestPath(f"miss {label}", VARIANT_HANDLER)
        result = service.invoke(VARIANT_HANDLER, event)
        miss.status, miss.response_bytes = result["statusCode"], _response_bytes(result)
        miss.calls = [asdict(c) for c in service.recorder.take()]
        key = next(c["key"] for c in miss.calls if c["operation"] == "PutObject")
        stored[label] = len(service.s3.objects[key]["data"])
        hit = RequestPath(f"hit {label}", VARIANT_HANDLER)
        result = service.invoke(VARIANT_HANDLER, event)
        hit.status, hit.response_bytes = result["statusCode"], _response_bytes(result)
        hit.calls = [asdict(c) for c in service.recorder.take()]
        misses.append(miss)
        hits.append(hit)

        def again(event: dict[str, Any] = event, key: str = key) -> None:
            service.s3.objects.pop(key)  # a miss each time: the variant is gone again
            service.invoke(VARIANT_HANDLER, event)

        work[miss.name] = again
        work[hit.name] = lambda event=event: service.invoke(VARIANT_HANDLER, event)

    paths = {p.name: p for p in [upload, *misses, *hits]}
    runs: dict[str, list[float]] = {name: [] for name in work}
    for index in range(repeat + 1):  # one warm-up round, then interleaved rounds
        for name, call in work.items():
            elapsed = cpu_ms(call)
            if index:
                runs[name].append(elapsed)
        for key in [k for k in service.s3.objects if k.startswith(("originals/", "work/"))]:
            if image_id not in key:  # the uploads of the timed rounds
                service.s3.objects.pop(key)
        service.recorder.take()
    for name, values in runs.items():
        paths[name].cpu_runs_ms = [round(v, 2) for v in values]
        paths[name].cpu_ms = statistics.median(values)
    return {
        "paths": {name: asdict(p) for name, p in paths.items()},
        "stored_bytes": stored,
        "record_item_bytes": item_size(record_item),
    }


# ---------------------------------------------------------------- the arithmetic


def cpu_share(memory_mb: int) -> float:
    """The share of one vCPU a single thread gets at this MemorySize (capped at one core)."""
    return min(1.0, memory_mb / prices.MB_PER_VCPU)


def storage_waits_ms(calls: list[dict[str, Any]]) -> float:
    """The time the request waits on S3 and DynamoDB, at the stated latencies."""
    total = 0.0
    for call in calls:
        if call["service"] == "s3":
            total += prices.latency("s3_request_ms")
            total += call["bytes"] / (prices.latency("s3_mb_per_s") * 1e6) * 1000
        else:
            total += prices.latency("dynamodb_request_ms")
    return total


def billed_ms(cpu_ms: float, memory_mb: int, waits_ms: float) -> int:
    """Lambda's billed duration: the one-core CPU time stretched by the vCPU share, plus the
    waits, rounded up to the millisecond."""
    return math.ceil(cpu_ms / cpu_share(memory_mb) + waits_ms)


def request_units(item_bytes: int, consistent: bool = True) -> float:
    """Read request units of one GetItem of an item this size."""
    units = math.ceil(max(item_bytes, 1) / 4096)
    return units if consistent else units / 2


def write_units(item_bytes: int, indexes: int) -> int:
    """Write request units of one PutItem: the table's and each index the item is in (the
    catalog's one index projects every attribute, so its copy is the same size)."""
    return math.ceil(max(item_bytes, 1) / 1024) * (1 + indexes)


def api_requests(request_bytes: int, response_bytes: int) -> int:
    """HTTP API requests metered for one call: one per 512 KB of payload (the larger way)."""
    return max(1, math.ceil(max(request_bytes, response_bytes) / prices.API_METERING_BYTES))


COMPONENTS = (
    "lambda_gb_s",
    "lambda_requests",
    "api_gateway",
    "s3_get",
    "s3_put",
    "dynamodb",
    "sqs",
    "cloudfront",
    "transfer_out",
)


def origin_cost(
    path: dict[str, Any], n: float, architecture: str, *, to_internet: bool = True
) -> dict[str, float]:
    """USD of ``n`` requests of a measured path through API Gateway and Lambda; the response
    goes to the internet, or (``to_internet=False``) to CloudFront, which AWS does not charge."""
    calls = path["calls"]
    billed = billed_ms(path["cpu_ms"], path["memory_mb"], storage_waits_ms(calls))
    gb_s = billed / 1000 * path["memory_mb"] / 1024
    s3_get = sum(1 for c in calls if c["operation"] in ("GetObject", "HeadObject"))
    s3_put = sum(1 for c in calls if c["operation"] == "PutObject")
    reads = sum(
        request_units(c["bytes"], consistent=c["operation"] == "GetItem")
        for c in calls
        if c["operation"].startswith("GetItem")
    )
    writes = sum(write_units(c["bytes"], indexes=1) for c in calls if c["operation"] == "PutItem")
    out_gb = path["response_bytes"] / GIB if to_internet else 0.0
    return {
        "lambda_gb_s": n * gb_s * prices.price("lambda_gb_second", architecture),
        "lambda_requests": n * prices.price("lambda_request", architecture),
        "api_gateway": n
        * api_requests(path["request_bytes"], path["response_bytes"])
        * prices.price("api_http_request"),
        "s3_get": n * s3_get * prices.price("s3_get_request"),
        "s3_put": n * s3_put * prices.price("s3_put_request"),
        "dynamodb": n
        * (
            reads * prices.price("dynamodb_read_unit")
            + writes * prices.price("dynamodb_write_unit")
        ),
        "sqs": 0.0,  # POST /images and GET of a variant send no message
        "cloudfront": 0.0,
        "transfer_out": n * out_gb * prices.price("internet_gb_out"),
    }


def cdn_cost(
    path: dict[str, Any], n: float, architecture: str, hit_ratio: float
) -> dict[str, float]:
    """USD of ``n`` viewer requests through CloudFront: every one pays CloudFront's request and
    transfer; the misses at the edge (1 - hit_ratio) also pay the origin's path."""
    cost = origin_cost(path, n * (1 - hit_ratio), architecture, to_internet=False)
    cost["cloudfront"] = n * (
        prices.price("cloudfront_https_request")
        + path["response_bytes"] / GIB * prices.price("cloudfront_gb_out")
    )
    return cost


def storage_cost(
    stored_bytes: dict[str, int], record_item_bytes: int, images: int
) -> dict[str, float]:
    """USD of a month of storage for ``images`` images with their variants: S3 Standard, and
    the DynamoDB record in the table and in its index (each item plus 100 bytes of overhead)."""
    s3_gb = images * sum(stored_bytes.values()) / GIB
    dynamodb_gb = images * 2 * (record_item_bytes + 100) / GIB
    return {
        "s3_storage": s3_gb * prices.price("s3_storage_gb_month"),
        "dynamodb_storage": dynamodb_gb * prices.price("dynamodb_storage_gb_month"),
    }


# ---------------------------------------------------------------- the report


def usd(value: float) -> str:
    """Dollars to three significant figures (a cent is too coarse for 1,000 requests)."""
    if value == 0:
        return "0"
    if value >= 1:
        return f"{value:,.2f}"
    decimals = max(2, 2 - math.floor(math.log10(value)))
    return f"{value:.{decimals}f}"


def scenarios(measured: dict[str, Any], hit_ratio: float) -> list[tuple[str, dict[str, dict]]]:
    """(label, {architecture: USD by component}) for every row of the cost table."""
    paths = measured["paths"]

    def both(make: Callable[[str], dict[str, float]]) -> dict[str, dict[str, float]]:
        return {arch: make(arch) for arch in prices.ARCHITECTURES}

    table = [
        (
            "1,000 uploads, 12 MP JPEG (POST /images, raw body)",
            both(lambda a: origin_cost(paths["upload"], REQUESTS, a)),
        )
    ]
    for label, pipeline in VARIANTS:
        miss = paths[f"miss {label}"]
        table.append(
            (
                f"1,000 misses, `{pipeline}`",
                both(lambda a, p=miss: origin_cost(p, REQUESTS, a)),
            )
        )
    for label, pipeline in VARIANTS:
        hit = paths[f"hit {label}"]
        table.append(
            (f"1,000 hits, `{pipeline}`", both(lambda a, p=hit: origin_cost(p, REQUESTS, a)))
        )
        table.append(
            (
                f"1,000 hits, `{pipeline}`, CloudFront ({hit_ratio:.0%} at the edge)",
                both(lambda a, p=hit: cdn_cost(p, REQUESTS, a, hit_ratio)),
            )
        )
    return table


COLUMNS = {
    "lambda_requests": "Lambda requests",
    "api_gateway": "HTTP API",
    "s3_get": "S3 GET",
    "s3_put": "S3 PUT",
    "dynamodb": "DynamoDB",
    "sqs": "SQS",
    "cloudfront": "CloudFront",
    "transfer_out": "transfer out",
}


def _calls(calls: list[dict[str, Any]]) -> str:
    counted = Counter(
        c["operation"] + (" (404)" if c["operation"] == "GetObject" and not c["found"] else "")
        for c in calls
    )
    return ", ".join(f"{n}× {op}" if n > 1 else op for op, n in counted.items())


def markdown(measured: dict[str, Any], images: int, hit_ratio: float) -> str:
    paths = measured["paths"]
    s3_ms, ddb_ms = prices.latency("s3_request_ms"), prices.latency("dynamodb_request_ms")
    lines = [
        f"## What it costs (us-east-1, prices as of {prices.PRICES_AS_OF}, bench/prices.py)",
        "",
        "### Per request, measured",
        "",
        "CPU ms: the whole handler on one core of this machine (median of the rounds; every run "
        "is in the JSON), storage in memory. "
        f"Lambda ms: CPU ms ÷ the function's share of a vCPU (MemorySize / {prices.MB_PER_VCPU} "
        f"MB, at most 1). Waits: {s3_ms} ms per S3 call plus its body at "
        f"{prices.latency('s3_mb_per_s'):.0f} MB/s, {ddb_ms} ms per DynamoDB call. Billed: "
        "Lambda ms + waits, rounded up to 1 ms. arm64 is assumed as fast as x86 (not measured).",
        "",
        "| request | function (MB) | vCPU | CPU ms (min–max) | Lambda ms | storage calls "
        "| waits ms | billed ms | GB-s | response bytes |",
        "|---|---|--:|--:|--:|---|--:|--:|--:|--:|",
    ]
    for name, p in paths.items():
        waits = storage_waits_ms(p["calls"])
        share = cpu_share(p["memory_mb"])
        billed = billed_ms(p["cpu_ms"], p["memory_mb"], waits)
        runs = p["cpu_runs_ms"] or [p["cpu_ms"]]
        lines.append(
            f"| {name} | {p['function']} ({p['memory_mb']:,}) | {share:.2f} "
            f"| {p['cpu_ms']:,.1f} ({min(runs):,.1f}–{max(runs):,.1f}) "
            f"| {p['cpu_ms'] / share:,.1f} | {_calls(p['calls'])} "
            f"| {waits:,.1f} | {billed:,} | {billed / 1000 * p['memory_mb'] / 1024:.3f} "
            f"| {p['response_bytes']:,} |"
        )
    header = [
        "scenario",
        "Lambda GB-s x86_64",
        "Lambda GB-s arm64",
        *COLUMNS.values(),
        "**total x86_64**",
        "**total arm64**",
    ]
    lines += [
        "",
        "### USD for 1,000 requests",
        "",
        "Only Lambda's GB-seconds differ by architecture; the other columns hold for both. "
        "Free tiers are left out. Transfer out is to the internet at the region's rate; with "
        f"CloudFront, {hit_ratio:.0%} of requests are answered at the edge (CloudFront request + "
        "transfer only) and the rest go to the origin, whose transfer to CloudFront is free.",
        "",
        "| " + " | ".join(header) + " |",
        "|---" + "|--:" * (len(header) - 1) + "|",
    ]
    for label, by_arch in scenarios(measured, hit_ratio):
        x86, arm = by_arch["x86_64"], by_arch["arm64"]
        cells = [usd(x86["lambda_gb_s"]), usd(arm["lambda_gb_s"])]
        cells += [usd(x86[name]) for name in COLUMNS]
        cells += [f"**{usd(sum(x86.values()))}**", f"**{usd(sum(arm.values()))}**"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    stored = measured["stored_bytes"]
    month = storage_cost(stored, measured["record_item_bytes"], images)
    per_image = sum(stored.values())
    lines += [
        "",
        f"### A month of storage: {images:,} images",
        "",
        "| object | bytes per image |",
        "|---|--:|",
        *[f"| {name} | {size:,} |" for name, size in stored.items()],
        f"| all S3 objects | {per_image:,} |",
        f"| DynamoDB record (stored twice: table and index) | {measured['record_item_bytes']:,} |",
        "",
        f"S3 Standard: {images * per_image / GIB:,.1f} GiB, ${usd(month['s3_storage'])} a "
        f"month; DynamoDB: ${usd(month['dynamodb_storage'])} a month; together "
        f"${usd(sum(month.values()))} a month, either architecture. Variants expire after "
        "VariantExpirationDays and are made again on demand: counting all three all month is "
        "an upper bound.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds per path")
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES, help="images stored")
    parser.add_argument(
        "--edge-hit-ratio",
        type=float,
        default=DEFAULT_EDGE_HIT_RATIO,
        help="CloudFront's share of hits",
    )
    parser.add_argument("--json", type=Path, default=RESULTS / "cost.json")
    args = parser.parse_args(argv)
    cores = pin_one_core()
    from . import inputs

    (photo,) = inputs.prepare(["12mp"], quick=False)
    print(f"measuring on core {cores} with {photo.description} {photo.size} ...", file=sys.stderr)
    measured = measure(photo.read(), args.repeat)
    functions = memory_sizes()
    for p in measured["paths"].values():
        p["function"], p["memory_mb"] = function_for(p["handler"], functions)
        if p["status"] not in (200, 201):
            raise SystemExit(f"{p['name']} answered {p['status']}: the measurement is void")
    measured["functions"] = functions
    measured["prices_as_of"] = prices.PRICES_AS_OF
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(measured, indent=2))
    print(markdown(measured, args.images, args.edge_hit_ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
