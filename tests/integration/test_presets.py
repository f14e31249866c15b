"""Presets through the real handlers on moto: saved, listed, read and deleted per tenant; named
in variant URLs and in POST /transform; an edit never answered with the old preset's variant;
and a hit reads the presets once beside the variant."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from progimage_service.services import variants
from progimage_service.signing import signature, tenant_key
from tests.integration.conftest import Aws, as_tenant, call, http_event
from tests.integration.test_miss_path import Calls
from tests.integration.test_tenants import variant as signed_variant
from tests.integration.test_working_copy import photo, upload, variant
from transform.app import handler as transform_handler


def preset(method: str, name: str, body: Any = None, tenant: str = "default") -> Any:
    route = "/presets/{name}"
    request = http_event(method, route, f"/presets/{name}", pathParameters={"name": name})
    if body is not None:
        request |= {"body": json.dumps(body), "isBase64Encoded": False}
        request["headers"] = request["headers"] | {"content-type": "application/json"}
    return call(transform_handler, as_tenant(request, tenant))


def listed(tenant: str = "default") -> list[str]:
    answer = call(transform_handler, as_tenant(http_event("GET", "/presets", "/presets"), tenant))
    assert answer.status == 200, answer.body
    return [p["name"] for p in answer.json()["presets"]]


def size_of(body: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(body)).size


@pytest.fixture
def image_id(aws: Aws) -> str:
    return upload(photo(1200, 800, progressive=False))["id"]


def test_a_preset_is_saved_read_listed_and_deleted_by_its_tenant(aws: Aws) -> None:
    saved = preset("PUT", "Card", {"ops": "resize:300:200:FILL/quality:70", "format": "webp"})
    assert saved.status == 200, saved.body
    assert saved.json() | {"updated_at": ""} == {
        "name": "card",
        "ops": "resize:300:200:fill/quality:70",
        "format": "webp",
        "eager": False,
        "version": 1,
        "updated_at": "",
    }
    again = preset("PUT", "card", {"ops": [{"op": "thumbnail", "width": 64}]})
    assert again.json()["version"] == 2 and again.json()["format"] is None
    assert preset("GET", "CARD").json()["ops"] == "thumbnail:64"
    assert listed() == ["card"]
    assert listed("other") == [] and preset("GET", "card", tenant="other").status == 404
    assert preset("DELETE", "card", tenant="other").status == 404
    assert preset("DELETE", "card").status == 204
    assert preset("GET", "card").status == 404 and listed() == []


@pytest.mark.parametrize(
    ("name", "body", "param"),
    [
        ("bad.name", {"ops": "grayscale"}, "name"),
        ("-x", {"ops": "grayscale"}, "name"),
        ("x" * 65, {"ops": "grayscale"}, "name"),
        ("card", {"ops": "preset:other"}, "ops"),
        ("card", {"ops": ""}, "ops"),
        ("card", {"ops": "resize:0:0"}, "ops[0]"),
        ("card", {"ops": "grayscale", "format": 5}, "format"),
        ("card", {"ops": "grayscale", "eager": "yes"}, "eager"),
        ("card", {"ops": "grayscale", "extra": 1}, "body"),
        ("card", ["grayscale"], "body"),
    ],
)
def test_a_bad_preset_is_refused_and_nothing_is_saved(
    aws: Aws, name: str, body: Any, param: str
) -> None:
    answer = preset("PUT", name, body)
    assert answer.status == 400, answer.body
    assert answer.json()["error"]["param"] == param
    assert listed() == []


def test_a_variant_url_names_a_preset_and_an_edit_is_never_served_stale(
    aws: Aws, image_id: str
) -> None:
    preset("PUT", "card", {"ops": "resize:300:200:fill", "format": "webp"})
    first = variant(image_id, "preset:card")
    assert first.status == 200, first.body
    assert first.headers["Content-Type"] == "image/webp" and size_of(first.body) == (300, 200)
    assert first.headers["X-Variant-Cache"] == "miss"
    assert first.headers["Cache-Control"] == "public, max-age=60"
    hit = variant(image_id, "PRESET:Card")
    assert hit.headers["X-Variant-Cache"] == "hit" and hit.headers["ETag"] == first.headers["ETag"]
    # combined with other steps, and the URL's extension over the preset's format
    combined = variant(image_id, "preset:card/rotate:90.png")
    assert combined.headers["Content-Type"] == "image/png" and size_of(combined.body) == (200, 300)

    preset("PUT", "card", {"ops": "resize:120:120:fill", "format": "webp"})
    edited = variant(image_id, "preset:card")
    assert edited.headers["X-Variant-Cache"] == "miss" and size_of(edited.body) == (120, 120)
    assert edited.headers["ETag"] != first.headers["ETag"]


def test_a_hit_through_a_preset_is_one_read_of_the_presets_and_one_of_the_variant(
    aws: Aws, image_id: str
) -> None:
    """Unsigned (an open deployment), the owner's presets are found through the record, read
    first the first time a function meets the image (an image never changes owner); a signed
    URL names the tenant and skips that read."""
    preset("PUT", "card", {"ops": "thumbnail:100"})
    preset("PUT", "gray", {"ops": "grayscale"})
    assert variant(image_id, "preset:card/preset:gray/preset:card").status == 200
    calls = Calls()
    answer = variant(image_id, "preset:card/preset:gray/preset:card")
    assert answer.headers["X-Variant-Cache"] == "hit"
    assert [operation for operation, _ in calls.sent] == ["BatchGetItem", "GetObject"]
    variants._OWNERS.clear()  # a cold function
    calls.clear()
    again = variant(image_id, "preset:card/preset:gray/preset:card")
    assert again.headers["X-Variant-Cache"] == "hit"
    assert [operation for operation, _ in calls.sent] == ["GetItem", "BatchGetItem", "GetObject"]


def test_a_url_naming_a_preset_the_tenant_has_not_saved_is_a_400(aws: Aws, image_id: str) -> None:
    preset("PUT", "card", {"ops": "thumbnail:100"}, tenant="other")
    answer = variant(image_id, "preset:card")
    assert answer.status == 400 and answer.json()["error"]["code"] == "invalid_operation"
    assert "card" in answer.json()["error"]["message"]


def test_post_transform_expands_presets_too(aws: Aws, image_id: str) -> None:
    preset("PUT", "card", {"ops": "resize:64:48:fill", "format": "png"})
    body = {"source": {"id": image_id}, "ops": "preset:card"}
    request = http_event("POST", "/transform", "/transform")
    request |= {"body": json.dumps(body), "isBase64Encoded": False}
    request["headers"] = request["headers"] | {"content-type": "application/json"}
    answer = call(transform_handler, as_tenant(request, "default"))
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"] == "image/png" and size_of(answer.body) == (64, 48)


def test_a_signed_hit_through_a_preset_reads_the_presets_alone(
    aws: Aws, image_id: str, configure: Any
) -> None:
    master = b"master-key"
    configure(PROGIMAGE_SIGNING_KEYS=master.decode())
    preset("PUT", "card", {"ops": "thumbnail:100"})
    path = f"/images/{image_id}/preset:card.webp"
    sig = signature(tenant_key(master, "default"), path)
    assert signed_variant(image_id, "preset:card.webp", tenant="default", sig=sig).status == 200
    calls = Calls()
    answer = signed_variant(image_id, "preset:card.webp", tenant="default", sig=sig)
    assert answer.status == 200 and answer.headers["X-Variant-Cache"] == "hit"
    assert [operation for operation, _ in calls.sent] == ["BatchGetItem", "GetObject"]
