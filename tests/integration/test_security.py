"""Signed URLs and idempotency keys, through the real handlers on moto."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from get.app import handler as get_handler
from progimage_service.signing import signature, tenant_key
from tests.integration.conftest import Aws, call, event
from transform.app import handler as transform_handler
from upload.app import handler as upload_handler

OLD, NEW = b"old-signing-key", b"new-signing-key"


def sign(master: bytes, path: str, expires: int | None = None) -> str:
    """A signature as the default tenant makes it, with its key derived from ``master``."""
    return signature(tenant_key(master, "default"), path, expires)


def stored() -> str:
    answer = call(upload_handler, event("post-images-raw"))
    assert answer.status == 201
    return answer.json()["id"]


def signed_get(handler: Any, request: dict[str, Any], path: str, **query: str) -> Any:
    request = request | {"rawPath": path, "queryStringParameters": query or None}
    return call(handler, request)


def variant_request(image_id: str, pipeline: str) -> dict[str, Any]:
    request = event("get-variant", id=image_id)
    request["pathParameters"]["pipeline"] = pipeline
    return request


def test_signed_urls_accept_only_the_exact_signed_path(aws: Aws, configure: Any) -> None:
    image_id = stored()
    configure(PROGIMAGE_SIGNING_KEYS=f"{NEW.decode()},{OLD.decode()}")
    path = f"/images/{image_id}/thumbnail:32.png"
    request = variant_request(image_id, "thumbnail:32.png")
    good = sign(NEW, path)
    assert signed_get(transform_handler, request, path, sig=good).status == 200
    assert signed_get(transform_handler, request, path, sig=sign(OLD, path)).status == 200

    forbidden = [
        {},  # unsigned
        {"sig": sign(b"another-key", path)},
        {"sig": signature(NEW, path)},  # the master key itself, not the tenant's
        {"sig": good + "="},  # re-encoded (padding)
        {"sig": good.replace("-", "+").replace("_", "/") + "x"},
        {"sig": sign(NEW, f"/images/{image_id}/thumbnail:33.png")},  # another argument
    ]
    for query in forbidden:
        answer = signed_get(transform_handler, request, path, **query)
        assert answer.status == 403, query
        assert answer.json()["error"]["code"] == "forbidden"
    for moved in (path + "/", path.replace("/images/", "/images//"), path.upper()):
        assert signed_get(transform_handler, request, moved, sig=good).status == 403

    original = event("get-image", id=image_id)
    original_path = f"/images/{image_id}"
    assert signed_get(get_handler, original, original_path).status == 403
    assert (
        signed_get(get_handler, original, original_path, sig=sign(OLD, original_path)).status == 200
    )


def test_expiring_signatures(aws: Aws, configure: Any) -> None:
    image_id = stored()
    configure(PROGIMAGE_SIGNING_KEYS=NEW.decode())
    path = f"/images/{image_id}.webp"
    request = event("get-image-webp", id=image_id)
    later = int(time.time()) + 60
    sig = sign(NEW, path, later)
    assert signed_get(get_handler, request, path, sig=sig, exp=str(later)).status == 200
    assert signed_get(get_handler, request, path, sig=sig, exp=str(later + 1)).status == 403
    assert signed_get(get_handler, request, path, sig=sig).status == 403  # expiry removed
    past = int(time.time()) - 1
    expired = signed_get(get_handler, request, path, sig=sign(NEW, path, past), exp=str(past))
    assert expired.status == 403
    assert "expired" in expired.json()["error"]["message"]


def test_unsigned_urls_are_refused_before_any_storage_call(
    aws: Aws, configure: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(PROGIMAGE_SIGNING_KEYS=NEW.decode())
    from progimage_service.wiring import dependencies

    def no_storage(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unsigned request reached storage")

    monkeypatch.setattr(dependencies().store, "get", no_storage)
    monkeypatch.setattr(dependencies().catalog, "get", no_storage)
    answer = call(get_handler, event("get-image"))
    assert answer.status == 403


def with_key(request: dict[str, Any], key: str) -> dict[str, Any]:
    return request | {"headers": request["headers"] | {"idempotency-key": key}}


def test_a_retried_upload_with_the_same_key_stores_once(aws: Aws) -> None:
    request = with_key(event("post-images-raw"), "upload-1")
    first = call(upload_handler, request)
    second = call(upload_handler, request)
    assert first.status == second.status == 201
    assert second.json() == first.json()
    assert second.headers["Location"] == first.headers["Location"]
    assert len(aws.records()) == 1 and len(aws.object_keys("originals/")) == 1

    other_body = with_key(event("post-images-json"), "upload-1")
    reused = call(upload_handler, other_body)
    assert reused.status == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert call(upload_handler, with_key(event("post-images-raw"), "upload-2")).status == 201
    assert len(aws.records()) == 2


def test_a_failed_attempt_releases_the_key_for_the_retry(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from progimage_service.wiring import dependencies

    db = dependencies().catalog.db
    real_put = db.put_item
    failures = iter([True])

    def put_item(**request: Any) -> Any:
        if request["Item"]["pk"]["S"].startswith("IMG#") and next(failures, False):
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem"
            )
        return real_put(**request)

    monkeypatch.setattr(db, "put_item", put_item)
    request = with_key(event("post-images-raw"), "retry-me")
    assert call(upload_handler, request).status == 503
    assert not aws.records() and not aws.object_keys()
    retried = call(upload_handler, request)
    assert retried.status == 201
    assert call(upload_handler, request).json() == retried.json()
    assert len(aws.records()) == 1 and len(aws.object_keys("originals/")) == 1


def test_client_errors_are_remembered_too(aws: Aws) -> None:
    body = json.dumps({"items": []})
    request = with_key(event("post-jobs") | {"body": body}, "job-1")
    assert call(transform_handler, request).status == 400
    again = call(transform_handler, request)
    assert again.status == 400 and again.json()["error"]["param"] == "items"


def test_batch_hands_out_signed_variant_urls_when_signatures_are_required(
    aws: Aws, configure: Any
) -> None:
    image_id = stored()
    configure(PROGIMAGE_SIGNING_KEYS=f"{NEW.decode()},{OLD.decode()}")
    items = [{"source": {"id": image_id}, "ops": "thumbnail:8", "format": "png"}]
    request = event("post-batch") | {"body": json.dumps({"items": items})}
    (result,) = call(transform_handler, request).json()["results"]
    path, _, query = result["url"].partition("?")
    assert path == f"/images/{image_id}/thumbnail:8.png"
    params = dict(part.split("=", 1) for part in query.split("&"))
    assert set(params) == {"exp", "sig"}  # the default tenant's URLs need not name it
    assert int(params["exp"]) > time.time() + 3600  # handed-out URLs expire (a day by default)
    request = variant_request(image_id, "thumbnail:8.png")
    assert signed_get(transform_handler, request, path, **params).status == 200
    configure(PROGIMAGE_SIGNED_URL_TTL="60")
    (result,) = call(
        transform_handler, event("post-batch") | {"body": json.dumps({"items": items})}
    ).json()["results"]
    assert (
        int(dict(p.split("=", 1) for p in result["url"].partition("?")[2].split("&"))["exp"])
        <= time.time() + 60
    )
