"""Browsers on an allowed origin, over HTTP: the API's preflight and headers as API Gateway gives
them, and a presigned upload posted to the bucket (moto) with its CORS rules; with
``CorsAllowedOrigins`` set as `make serve ARGS="--parameter CorsAllowedOrigins=..."` sets it."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from localserver import LocalServer
from tests.images import sample

pytestmark = pytest.mark.e2e

ORIGIN = "http://localhost:8080"
OTHER = "https://elsewhere.example"
KEY = "cors-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server_options() -> dict[str, Any]:
    return {
        "parameter_overrides": {"CorsAllowedOrigins": f"{ORIGIN},https://app.example.com"},
        "api_keys": [f"alpha:{KEY}"],
    }


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _preflight(url: str, origin: str, method: str, headers: str = "") -> requests.Response:
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = headers
    return requests.options(url, headers=request_headers, timeout=30)


def _concrete(path: str) -> str:
    """A route's path with its variables filled in."""
    return re.sub(r"\{[^}]+\+\}", "thumbnail:64.jpg", re.sub(r"\{[^}+]+\}", "x" * 25, path))


def test_every_route_answers_the_preflight_of_an_allowed_origin(server: LocalServer) -> None:
    assert server.cors is not None
    for route in server.routes:
        answer = _preflight(
            f"{server.url}{_concrete(route.path)}",
            ORIGIN,
            route.method,
            "authorization,content-type,idempotency-key",
        )
        assert answer.status_code == 204, route.route_key
        headers = _lower(answer.headers)
        assert headers["access-control-allow-origin"] == ORIGIN, route.route_key
        assert route.method in headers["access-control-allow-methods"].split(","), route
        allowed = {h.lower() for h in headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type", "idempotency-key"} <= allowed
        assert int(headers["access-control-max-age"]) > 0
        assert headers["vary"] == "Origin"


def test_answers_to_an_allowed_origin_carry_the_cors_headers(server: LocalServer) -> None:
    answer = requests.post(
        f"{server.url}/uploads",
        json={"count": 1, "content_type": "image/jpeg"},
        headers={**AUTH, "Origin": ORIGIN, "Idempotency-Key": "k1"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    headers = _lower(answer.headers)
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["vary"] == "Origin"
    exposed = set(headers["access-control-expose-headers"].split(","))
    assert {"ETag", "Location", "X-Request-Id"} <= exposed
    # so are API Gateway's own refusals, which a page must be able to read
    refused = requests.get(f"{server.url}/images", headers={"Origin": ORIGIN}, timeout=30)
    assert refused.status_code == 401
    assert _lower(refused.headers)["access-control-allow-origin"] == ORIGIN


def test_another_origin_gets_no_cors_header(server: LocalServer) -> None:
    preflight = _preflight(f"{server.url}/uploads", OTHER, "POST", "authorization")
    answer = requests.get(f"{server.url}/images", headers={**AUTH, "Origin": OTHER}, timeout=30)
    assert answer.status_code == 200
    for response in (preflight, answer):
        assert not [h for h in _lower(response.headers) if h.startswith("access-control-")]


def _presigned_upload(server: LocalServer, origin: str | None = None) -> dict[str, Any]:
    """One presigned upload of a JPEG, asked for (from ``origin``, if any) by the API."""
    created = requests.post(
        f"{server.url}/uploads",
        json={"count": 1, "content_type": "image/jpeg"},
        headers={**AUTH, **({"Origin": origin} if origin else {})},
        timeout=30,
    )
    (upload,) = created.json()["uploads"]
    return upload


def _post_form(upload: dict[str, Any], origin: str) -> requests.Response:
    """The presigned form POST of hopper.jpg, as a page on ``origin`` sends it."""
    return requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("hopper.jpg", sample("formats/hopper.jpg"), "image/jpeg")},
        headers={"Origin": origin},
        timeout=30,
    )


def test_a_presigned_upload_posted_from_an_allowed_origin(server: LocalServer) -> None:
    upload = _presigned_upload(server, ORIGIN)
    # The preflight a page's fetch() may send, then the form POST itself.
    preflight = _preflight(upload["url"], ORIGIN, "POST", "content-type")
    assert preflight.status_code == 200
    headers = _lower(preflight.headers)
    assert headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in headers["access-control-allow-methods"]
    posted = _post_form(upload, ORIGIN)
    assert posted.status_code == 204, posted.text
    headers = _lower(posted.headers)
    assert headers["access-control-allow-origin"] == ORIGIN
    assert {"ETag", "Location"} <= {
        h.strip() for h in headers["access-control-expose-headers"].split(",")
    }

    deadline = time.monotonic() + 60
    while True:
        info = requests.get(f"{server.url}/images/{upload['id']}/info", headers=AUTH, timeout=30)
        if info.json()["status"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert info.json()["status"] == "ready"


def test_the_bucket_refuses_another_origin(server: LocalServer) -> None:
    upload = _presigned_upload(server)
    preflight = _preflight(upload["url"], OTHER, "POST")
    assert preflight.status_code == 403
    posted = _post_form(upload, OTHER)
    # the form is stored (S3 does not refuse it), but a browser cannot read the answer
    for response in (preflight, posted):
        assert "access-control-allow-origin" not in _lower(response.headers)
