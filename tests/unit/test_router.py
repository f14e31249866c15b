"""The route table: every route says what its caller must show, and the router checks it first.

No AWS is touched: the checks read only the event, the settings and the signing keys, and each
handler here records what it was given instead of doing any work.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from progimage_service.api import (
    Needs,
    Request,
    Response,
    Route,
    credentials,
    idempotent,
    json_response,
    public,
    router,
    signed,
)
from progimage_service.config import settings
from progimage_service.errors import InvalidOperation
from progimage_service.imaging.pipeline import parse_path
from progimage_service.signing import signature, tenant_key

MASTER = b"a-signing-key"
PATH = "/images/abc"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what the settings require: no keys, no open tenant, no IAM mapping."""
    for name in list(os.environ):
        if name.startswith("PROGIMAGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PROGIMAGE_BUCKET", "bucket")
    monkeypatch.setenv("PROGIMAGE_TABLE", "table")


class Recorder:
    """A handler that answers 200 and remembers the tenant it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, request: Request, *tenant: str | None) -> Response:
        self.calls.append(tenant)
        return json_response(200, {"tenant": tenant[0] if tenant else "-"})


def event(route_key: str, path: str = PATH, **context: Any) -> dict[str, Any]:
    query = context.pop("query", None)
    return {
        "routeKey": route_key,
        "rawPath": path,
        "queryStringParameters": query,
        "headers": context.pop("headers", {}),
        "requestContext": {"requestId": "r-1", "authorizer": context or None},
    }


def answer(result: dict[str, Any]) -> tuple[int, Any]:
    body = result["body"]
    if result["isBase64Encoded"]:
        body = base64.b64decode(body).decode()
    return result["statusCode"], json.loads(body) if body else None


# ------------------------------------------------------------------ declarations


def test_a_route_without_a_declaration_is_refused_when_the_table_is_built() -> None:
    bare = Recorder()
    with pytest.raises(TypeError, match=r"GET /images/\{id\}.*credentials.*signed.*public"):
        router({"GET /images": credentials(bare), "GET /images/{id}": bare}, "get")  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="POST /images"):
        router({"POST /images": idempotent(bare)}, "get")  # type: ignore[dict-item]


@pytest.mark.parametrize("key", ["/images", "get /images", "HEAD /images", "GET images", ""])
def test_a_table_accepts_only_route_keys_it_can_serve(key: str) -> None:
    """HEAD is served by the GET route: a HEAD entry would never be reached."""
    with pytest.raises(ValueError, match="route key"):
        router({key: public(Recorder())}, "get")


def test_the_builders_say_what_each_route_needs() -> None:
    handler = Recorder()
    assert credentials(handler) == Route(Needs.CREDENTIALS, handler)
    assert signed(handler) == Route(Needs.SIGNATURE, handler)
    assert public(handler) == Route(Needs.NOTHING, handler)


def test_every_functions_table_declares_every_route() -> None:
    from get.app import ROUTES as GET
    from transform.app import ROUTES as TRANSFORM
    from upload.app import ROUTES as UPLOAD

    tables = {**GET, **TRANSFORM, **UPLOAD}
    assert len(tables) == len(GET) + len(TRANSFORM) + len(UPLOAD)
    needs = {key: route.needs for key, route in tables.items()}
    # the image bytes are read by URL; everything else acts for the caller's tenant
    signed_routes = {"GET /images/{id}", "GET /images/{id}/{pipeline+}"}
    assert {key for key, need in needs.items() if need is Needs.SIGNATURE} == signed_routes
    assert all(need is Needs.CREDENTIALS for key, need in needs.items() if key not in signed_routes)


# ------------------------------------------------------------------ credentials


def test_credentials_are_checked_before_the_handler_runs() -> None:
    handler = Recorder()
    serve = router({"POST /images": credentials(handler)}, "get")
    status, body = answer(serve(event("POST /images"), None))
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    assert handler.calls == []


def test_the_authorizers_tenant_reaches_the_handler() -> None:
    handler = Recorder()
    serve = router({"POST /images": credentials(handler)}, "get")
    assert answer(serve(event("POST /images", **{"lambda": {"tenant": "alpha"}}), None)) == (
        200,
        {"tenant": "alpha"},
    )
    assert handler.calls == [("alpha",)]


def test_a_malformed_tenant_in_the_context_is_no_credential() -> None:
    handler = Recorder()
    serve = router({"POST /images": credentials(handler)}, "get")
    status, _ = answer(serve(event("POST /images", **{"lambda": {"tenant": "Not A Tenant"}}), None))
    assert status == 401
    assert handler.calls == []


def test_an_iam_principal_acts_for_its_mapped_tenant_and_no_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROGIMAGE_IAM_TENANTS", "arn:aws:iam::123456789012:user/ci=beta")
    handler = Recorder()
    serve = router({"GET /images": credentials(handler)}, "get")
    mapped = {"iam": {"userArn": "arn:aws:iam::123456789012:user/ci"}}
    assert answer(serve(event("GET /images", **mapped), None)) == (200, {"tenant": "beta"})
    stranger = {"iam": {"userArn": "arn:aws:iam::123456789012:user/someone"}}
    status, body = answer(serve(event("GET /images", **stranger), None))
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert handler.calls == [("beta",)]


def test_the_local_open_mode_names_the_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROGIMAGE_OPEN_TENANT", "default")
    handler = Recorder()
    serve = router({"GET /images": credentials(handler)}, "get")
    assert answer(serve(event("GET /images"), None)) == (200, {"tenant": "default"})


def test_head_is_checked_like_its_get() -> None:
    handler = Recorder()
    serve = router({"GET /images": credentials(handler)}, "get")
    refused = serve(event("HEAD /images"), None)
    assert (refused["statusCode"], refused["body"]) == (401, "")
    allowed = serve(event("HEAD /images", **{"lambda": {"tenant": "alpha"}}), None)
    assert (allowed["statusCode"], allowed["body"]) == (200, "")
    assert handler.calls == [("alpha",)]


def test_an_idempotent_route_is_scoped_to_the_checked_tenant() -> None:
    """Without credentials the idempotency table is never reached: the 401 comes first."""
    handler = Recorder()
    serve = router({"POST /jobs": credentials(idempotent(handler))}, "get")
    status, _ = answer(serve(event("POST /jobs", headers={"idempotency-key": "k"}), None))
    assert status == 401
    assert handler.calls == []


# ------------------------------------------------------------------ signatures


def test_without_signing_keys_a_signed_route_is_open_and_names_no_tenant() -> None:
    handler = Recorder()
    serve = router({"GET /images/{id}": signed(handler)}, "get")
    assert answer(serve(event("GET /images/{id}"), None)) == (200, {"tenant": None})
    assert handler.calls == [(None,)]


def test_with_signing_keys_the_signature_is_checked_before_the_handler_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROGIMAGE_SIGNING_KEYS", MASTER.decode())
    handler = Recorder()
    serve = router({"GET /images/{id}": signed(handler)}, "get")
    good = signature(tenant_key(MASTER, "alpha"), PATH)
    for query in (None, {"tenant": "alpha"}, {"tenant": "beta", "sig": good}):
        status, body = answer(serve(event("GET /images/{id}", query=query), None))
        assert (status, body["error"]["code"]) == (403, "forbidden"), query
    assert handler.calls == []
    # credentials are no substitute for a signature
    with_key = event("GET /images/{id}", **{"lambda": {"tenant": "alpha"}})
    assert answer(serve(with_key, None))[0] == 403
    assert handler.calls == []
    query = {"tenant": "alpha", "sig": good}
    assert answer(serve(event("GET /images/{id}", query=query), None)) == (200, {"tenant": "alpha"})
    head = serve(event("HEAD /images/{id}"), None)
    assert (head["statusCode"], head["body"]) == (403, "")
    assert handler.calls == [("alpha",)]


def test_strict_presets_serve_an_unsigned_request_only_where_the_route_reads_presets_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The router asks the route's pipeline reader, given the request itself; a route without
    a reader (the original), a reader that finds other steps or one that fails stay 403."""
    monkeypatch.setenv("PROGIMAGE_SIGNING_KEYS", MASTER.decode())
    monkeypatch.setenv("PROGIMAGE_PRESETS_ONLY", "true")
    read: list[str] = []

    def reader(request: Request) -> Any:
        read.append(request.path_param("pipeline"))
        if read[-1] == "broken":
            raise InvalidOperation("no such operation")
        return parse_path(read[-1])

    handler = Recorder()
    serve = router({"GET /images/{id}/{pipeline+}": signed(handler, reader)}, "transform")
    plain = router({"GET /images/{id}": signed(handler)}, "get")
    key = "GET /images/{id}/{pipeline+}"

    def unsigned(pipeline: str) -> tuple[int, Any]:
        request = event(key, f"{PATH}/{pipeline}") | {"pathParameters": {"pipeline": pipeline}}
        return answer(serve(request, None))

    assert unsigned("preset:card/PRESET:x.webp") == (200, {"tenant": None})
    for other in ("preset:card/grayscale", "grayscale", "broken"):
        assert unsigned(other)[0] == 403, other
    assert answer(plain(event("GET /images/{id}"), None))[0] == 403
    assert read == ["preset:card/PRESET:x.webp", "preset:card/grayscale", "grayscale", "broken"]
    assert handler.calls == [(None,)]
    monkeypatch.setenv("PROGIMAGE_PRESETS_ONLY", "false")
    assert unsigned("preset:card")[0] == 403
    monkeypatch.setenv("PROGIMAGE_PRESETS_ONLY", "yes")  # a typo is a mistake, not "false"
    with pytest.raises(ValueError, match="PROGIMAGE_PRESETS_ONLY"):
        settings()


# ------------------------------------------------------------------ public


def test_a_public_route_needs_nothing_and_is_given_no_tenant() -> None:
    handler = Recorder()
    serve = router({"GET /health": public(handler)}, "get")
    assert answer(serve(event("GET /health", path="/health"), None)) == (200, {"tenant": "-"})
    assert handler.calls == [()]


def test_a_route_the_table_lacks_is_a_server_error() -> None:
    serve = router({"GET /health": public(Recorder())}, "get")
    status, body = answer(serve(event("GET /nothing", path="/nothing"), None))
    assert status == 500
    assert "no route" in body["error"]["message"]
