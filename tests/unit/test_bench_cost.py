"""The cost bench's inputs and arithmetic (bench/cost.py, bench/prices.py); nothing is timed.

The MemorySize it prices must be the template's, the price table must be complete and dated,
the arithmetic must give what a hand computation gives, and the storage calls it counts must be
the ones the handlers make.
"""

from __future__ import annotations

import io
import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bench import cost, prices
from localserver.template import Template

ROOT = Path(__file__).resolve().parents[2]


def _resolved(template: Template, value: Any) -> int:
    if isinstance(value, dict):
        return int(template.parameters[value["Ref"]]["Default"])
    return int(value)


def test_memory_sizes_are_the_templates() -> None:
    template = Template.load(ROOT / "template.yaml")
    read = cost.memory_sizes(ROOT / "template.yaml")
    assert set(read) == set(template.functions)
    for logical_id, spec in template.functions.items():
        assert read[logical_id]["memory_mb"] == _resolved(template, spec.memory_size)
        assert read[logical_id]["handler"] == spec.handler


def test_memory_sizes_follow_the_parameter_and_the_globals() -> None:
    read = cost.memory_sizes(ROOT / "template.yaml")
    template = Template.load(ROOT / "template.yaml")
    image_memory = int(template.parameters["ImageMemorySize"]["Default"])
    assert read["TransformFunction"]["memory_mb"] == image_memory
    assert read["GetFunction"]["memory_mb"] == image_memory
    # UploadFunction names no MemorySize: the Globals' applies.
    assert read["UploadFunction"]["memory_mb"] == 1024


def test_the_priced_handlers_are_in_the_template() -> None:
    functions = cost.memory_sizes(ROOT / "template.yaml")
    assert cost.function_for(cost.UPLOAD_HANDLER, functions)[0] == "UploadFunction"
    assert cost.function_for(cost.VARIANT_HANDLER, functions)[0] == "TransformFunction"


def test_every_price_is_dated_and_sourced() -> None:
    date.fromisoformat(prices.PRICES_AS_OF)
    for name, entry in prices.PRICES.items():
        assert entry["as_of"] == prices.PRICES_AS_OF, name
        assert entry["source"].startswith("https://"), name
        assert entry["unit"], name
    for name, entry in prices.LATENCIES.items():
        low, high = entry["range"]
        assert low <= entry["value"] <= high, name
        assert entry["as_of"] == prices.PRICES_AS_OF, name


def test_every_lambda_price_has_both_architectures() -> None:
    lambda_prices = [name for name in prices.PRICES if name.startswith("lambda_")]
    assert lambda_prices
    for name in lambda_prices:
        by_arch = prices.PRICES[name]["usd"]
        assert set(by_arch) == set(prices.ARCHITECTURES), name
        assert all(value > 0 for value in by_arch.values()), name
    for name, entry in prices.PRICES.items():
        if not name.startswith("lambda_"):
            assert isinstance(entry["usd"], float) and entry["usd"] > 0, name
    gb_s = prices.PRICES["lambda_gb_second"]["usd"]
    assert gb_s["arm64"] < gb_s["x86_64"]


def test_cpu_share_is_proportional_to_memory_up_to_one_core() -> None:
    assert cost.cpu_share(1024) == pytest.approx(1024 / 1769)
    assert cost.cpu_share(1769) == 1.0
    assert cost.cpu_share(3008) == 1.0  # a single thread runs no faster than one core


def test_billed_duration_is_stretched_compute_plus_waits_rounded_up() -> None:
    assert cost.billed_ms(100.0, 3008, 33.0) == 133
    assert cost.billed_ms(100.0, 3008, 33.2) == 134
    assert cost.billed_ms(50.0, 1769 // 2, 0.0) == math.ceil(50 / ((1769 // 2) / 1769))


def test_request_units_and_item_sizes() -> None:
    assert cost.item_size({"pk": {"S": "IMG#abc"}}) == 2 + 7
    assert cost.item_size({"width": {"N": "4000"}}) == 5 + 2  # one significant digit
    assert cost.item_size({"bytes": {"N": "3104611"}}) == 5 + 5  # seven digits
    assert cost.item_size({"bytes": {"N": "3104610"}}) == 5 + 4  # six significant
    assert cost.item_size({"ok": {"BOOL": True}}) == 3
    assert cost.request_units(4096) == 1
    assert cost.request_units(4097) == 2
    assert cost.request_units(100, consistent=False) == 0.5
    assert cost.write_units(1024, indexes=1) == 2
    assert cost.write_units(1025, indexes=1) == 4


def test_http_api_meters_each_512_kb() -> None:
    assert cost.api_requests(100, 300) == 1
    assert cost.api_requests(512 * 1024, 0) == 1
    assert cost.api_requests(512 * 1024 + 1, 0) == 2
    assert cost.api_requests(3_104_610, 265) == 6


def _path(**changes: Any) -> dict[str, Any]:
    path = {
        "cpu_ms": 100.0,
        "memory_mb": 2048,
        "request_bytes": 0,
        "response_bytes": 0,
        "calls": [
            {"service": "s3", "operation": "GetObject", "bytes": 0, "found": True},
            {"service": "dynamodb", "operation": "GetItem", "bytes": 500, "found": True},
        ],
    }
    return path | changes


def test_a_hand_computed_case() -> None:
    # 100 ms of CPU at 2,048 MB (a whole core), one S3 GET (27.5 ms) and one consistent GetItem
    # (5.5 ms): 133 ms billed, 0.266 GB-s per request, 266 GB-s for 1,000.
    assert prices.latency("s3_request_ms") == 27.5
    assert prices.latency("dynamodb_request_ms") == 5.5
    for arch in prices.ARCHITECTURES:
        got = cost.origin_cost(_path(), 1000, arch)
        assert got["lambda_gb_s"] == pytest.approx(266 * prices.price("lambda_gb_second", arch))
        assert got["lambda_requests"] == pytest.approx(1000 * prices.price("lambda_request", arch))
        assert got["api_gateway"] == pytest.approx(1000 * prices.price("api_http_request"))
        assert got["s3_get"] == pytest.approx(1000 * prices.price("s3_get_request"))
        assert got["s3_put"] == 0
        assert got["dynamodb"] == pytest.approx(1000 * prices.price("dynamodb_read_unit"))
        assert got["transfer_out"] == 0
    assert cost.origin_cost(_path(), 1000, "x86_64")["lambda_gb_s"] == pytest.approx(
        266 * 0.0000166667
    )


def test_transfer_and_the_cdn() -> None:
    path = _path(response_bytes=256 * 1024)  # 1/4096 GiB, within one metered API request
    direct = cost.origin_cost(path, 4096, "x86_64")
    assert direct["transfer_out"] == pytest.approx(prices.price("internet_gb_out"))
    every_hit_at_the_edge = cost.cdn_cost(path, 4096, "x86_64", hit_ratio=1.0)
    assert every_hit_at_the_edge["cloudfront"] == pytest.approx(
        4096 * prices.price("cloudfront_https_request") + prices.price("cloudfront_gb_out")
    )
    others = {k: v for k, v in every_hit_at_the_edge.items() if k != "cloudfront"}
    assert all(v == 0 for v in others.values())
    # At 90 %, one request in ten reaches the origin, whose transfer to CloudFront is free.
    at_ninety = cost.cdn_cost(path, 10, "x86_64", hit_ratio=0.9)
    assert at_ninety["api_gateway"] == pytest.approx(prices.price("api_http_request"))
    assert at_ninety["transfer_out"] == 0


def test_storage_cost() -> None:
    month = cost.storage_cost({"original": cost.GIB}, record_item_bytes=0, images=1)
    assert month["s3_storage"] == pytest.approx(prices.price("s3_storage_gb_month"))
    month = cost.storage_cost({}, record_item_bytes=cost.GIB // 2 - 100, images=1)
    assert month["dynamodb_storage"] == pytest.approx(prices.price("dynamodb_storage_gb_month"))


def test_the_usd_format_keeps_three_figures() -> None:
    assert cost.usd(0) == "0"
    assert cost.usd(12.345) == "12.35"
    assert cost.usd(0.0158) == "0.0158"
    assert cost.usd(0.0000222) == "0.0000222"


def _photo(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize(size).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_the_counted_storage_calls_are_the_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round through the real handlers (no timing asserted): the calls counted are those
    the code makes, and the bytes stored are real objects."""
    from progimage_service import wiring

    monkeypatch.setenv("PROGIMAGE_BUCKET", "bench-bucket")
    monkeypatch.setenv("PROGIMAGE_TABLE", "bench-table")
    monkeypatch.setattr(wiring, "_dependencies", wiring._dependencies)  # restored afterwards
    monkeypatch.setattr(cost, "VARIANTS", (("thumbnail 256 JPEG", "thumbnail:256.jpg"),))
    measured = cost.measure(_photo((2400, 1600)), repeat=1)
    paths = measured["paths"]

    def operations(name: str) -> list[str]:
        return [c["operation"] + ("" if c["found"] else " 404") for c in paths[name]["calls"]]

    # the tenant's presets (none eager), the original, its two working copies (2400 px: 1024 and
    # 2048), the index items, the record
    assert operations("upload") == [
        "Query 404",
        "PutObject",
        "PutObject",
        "PutObject",
        "BatchWriteItem",
        "PutItem",
    ]
    miss = operations("miss thumbnail 256 JPEG")
    assert miss[0] == "GetObject 404"  # the variant
    assert sorted(miss[1:3]) == ["GetItem", "GetObject"]  # the record and working copy, at once
    assert miss[3:] == [
        "PutObject",  # the variant, only if new: the answer is what it wrote
        "GetItem",  # the record again: was the image deleted meanwhile?
    ]
    assert operations("hit thumbnail 256 JPEG") == ["GetObject"]
    assert set(measured["stored_bytes"]) == {"original", "working copy", "thumbnail 256 JPEG"}
    assert all(size > 0 for size in measured["stored_bytes"].values())
    assert 0 < measured["record_item_bytes"] < 1024
