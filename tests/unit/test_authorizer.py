"""The HTTP API's Lambda authorizer (functions/auth/app.py) and its constant-time key check."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auth import app
from progimage_service import auth

HASHES_VARIABLE = "PROGIMAGE_API_KEY_HASHES"
SECRET_VARIABLE = "PROGIMAGE_API_KEYS_SECRET"
KEYS = {"first-key": "alpha", "second-key": "default"}
HASHES = ",".join(f"{t}:{hashlib.sha256(k.encode()).hexdigest()}" for k, t in KEYS.items())


def event(**headers: str) -> dict[str, Any]:
    """A payload 2.0 authorizer event, as API Gateway sends it (header names lower-cased)."""
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/POST/jobs",
        "identitySource": [headers["authorization"]] if "authorization" in headers else [],
        "routeKey": "POST /jobs",
        "rawPath": "/jobs",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/jobs"}},
    }


@pytest.fixture(autouse=True)
def hashes_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the keys: the authorizer needs none of the other functions' settings."""
    monkeypatch.setenv(HASHES_VARIABLE, HASHES)
    for name in (SECRET_VARIABLE, "PROGIMAGE_BUCKET", "PROGIMAGE_TABLE"):
        monkeypatch.delenv(name, raising=False)


def allowed(tenant: str) -> dict[str, Any]:
    return {"isAuthorized": True, "context": {"tenant": tenant}}


@pytest.mark.parametrize("key", KEYS)
def test_a_listed_key_is_authorized_as_its_tenant(key: str) -> None:
    assert app.handler(event(authorization=f"Bearer {key}"), None) == allowed(KEYS[key])


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer wrong-key"},
        {"authorization": "Bearer first-key-and-more"},
        {"authorization": "Bearer " + hashlib.sha256(b"first-key").hexdigest()},  # the hash itself
        {},  # API Gateway answers 401 before calling; the handler refuses all the same
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer   "},
        {"authorization": "Basic Zmlyc3Qta2V5"},
        {"authorization": "first-key"},  # no scheme
        {"authorization": "Bearer fïrst-kéy"},  # non-ASCII
        {"x-api-key": "first-key"},
    ],
)
def test_anything_else_is_refused(headers: dict[str, str]) -> None:
    assert app.handler(event(**headers), None) == {"isAuthorized": False}


def test_the_scheme_and_header_name_are_case_insensitive() -> None:
    assert app.handler(event(Authorization="bearer first-key"), None) == allowed("alpha")


def test_malformed_stored_hashes_never_match_and_never_raise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = hashlib.sha256(b"first-key").hexdigest()
    monkeypatch.setenv(HASHES_VARIABLE, f"none, ,zz{good[2:]},é,Bad:{good}, {good.upper()} ")
    assert app.handler(event(authorization="Bearer first-key"), None) == allowed("default")
    monkeypatch.setenv(HASHES_VARIABLE, "none,é")
    assert app.handler(event(authorization="Bearer first-key"), None) == {"isAuthorized": False}


def test_without_the_variable_the_entries_come_from_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []

    class FakeSecrets:
        def get_secret_value(self, **request: str) -> dict[str, Any]:
            reads.append(request["SecretId"])
            return {"SecretString": HASHES}

    monkeypatch.delenv(HASHES_VARIABLE)
    monkeypatch.setenv(SECRET_VARIABLE, "arn:aws:secretsmanager:us-east-1:1:secret:keys")
    monkeypatch.setattr("progimage_service.adapters.secrets.client", lambda service: FakeSecrets())
    app._key_store.cache_clear()
    try:
        assert app.handler(event(authorization="Bearer second-key"), None)["isAuthorized"]
        assert not app.handler(event(authorization="Bearer nope"), None)["isAuthorized"]
    finally:
        app._key_store.cache_clear()
    assert reads == ["arn:aws:secretsmanager:us-east-1:1:secret:keys"]  # cached between calls


def test_without_keys_or_a_secret_the_authorizer_fails_rather_than_guess(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(HASHES_VARIABLE, "  ")
    with pytest.raises(ValueError, match=SECRET_VARIABLE):
        app.handler(event(authorization="Bearer first-key"), None)


def test_importing_the_authorizer_loads_no_aws_client_and_no_pillow() -> None:
    """Its cold start stays small: botocore loads only when a secret is first read."""
    functions = Path(__file__).resolve().parents[2] / "functions"
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, auth.app; print(' '.join(sys.modules))"],
        cwd=functions,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "auth.app" in loaded
    heavy = ("botocore", "boto3", "PIL", "ssl", "http.client", "progimage_service.adapters")
    assert [name for name in loaded if name.startswith(heavy)] == []


def test_every_stored_hash_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: a match on the first hash still compares all the others."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    stored = [(k, auth.key_hash(k)) for k in ("a", "b", "c", "d")]
    for presented in ("a", "d", "nope"):
        calls.clear()
        assert auth.tenant_of_key(presented, stored) == (None if presented == "nope" else presented)
        assert len(calls) == len(stored)
        assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in calls)
    calls.clear()
    assert auth.tenant_of_key(None, stored) is None
    assert auth.tenant_of_key("", stored) is None
    assert auth.tenant_of_key("a", []) is None
