"""IAM callers: the client's SigV4 signer against the local server's verifier (botocore
recomputing the signature from the request as it arrives), with fixed fake credentials.

End to end, against the local server in IAM mode: tests/e2e/test_iam_over_http.py.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import httpx
import progimage
import pytest
from botocore.credentials import Credentials
from progimage.cli import main
from progimage.iam import SigV4Auth, canonical_query

from localserver.auth import access_key_id
from localserver.intrinsics import REGION
from localserver.sigv4 import MISMATCH, AccessKey, SignatureRefused, verify

KEY = "iam-tests-default-key"  # the secret access key of tenant default's IAM user
ALPHA_KEY = "iam-tests-alpha-key"
KEYS = {access_key_id(KEY): AccessKey(KEY, "default")}


def credentials(key: str = KEY) -> Credentials:
    return Credentials(access_key_id(key), key)


def signed(
    method: str = "POST",
    url: str = "http://127.0.0.1:3000/transform?ops=thumbnail:64&format=webp",
    body: bytes = b"\x89PNG...",
    key: str = KEY,
) -> httpx.Request:
    request = httpx.Request(method, url, content=body, headers={"Content-Type": "image/png"})
    SigV4Auth(REGION, credentials=credentials(key)).sign(request)
    return request


def check(request: httpx.Request, *, body: bytes | None = None, now: datetime | None = None) -> str:
    """Verify as the local server does; the tenant that signed."""
    path, _, query = request.url.raw_path.decode().partition("?")
    headers = {name.lower(): value for name, value in request.headers.items()}
    content = request.content if body is None else body
    _, key = verify(request.method, path, query, headers, content, KEYS, REGION, now)
    return key.tenant


# --- the signer against the verifier, no server ---------------------------------------------


def test_a_signed_request_passes_the_verifier() -> None:
    request = signed()
    authorization = request.headers["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={access_key_id(KEY)}/")
    assert f"/{REGION}/execute-api/aws4_request" in authorization
    assert "SignedHeaders=content-type;host;x-amz-date," in authorization
    assert check(request) == "default"
    assert check(signed("GET", "http://127.0.0.1:3000/images?limit=2&cursor=a%2Fb", b"")) == (
        "default"
    )


def test_signing_again_replaces_the_signature() -> None:
    request = signed()
    SigV4Auth(REGION, credentials=Credentials("AKIAOTHER", "x", "a-session-token")).sign(request)
    assert request.headers["x-amz-security-token"] == "a-session-token"
    assert request.headers["authorization"].count("Credential=") == 1
    SigV4Auth(REGION, credentials=credentials()).sign(request)
    assert "x-amz-security-token" not in request.headers and check(request) == "default"


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda r: {"body": b"another body"}, MISMATCH),
        (lambda r: r.headers.update({"content-type": "image/gif"}), MISMATCH),
        (lambda r: r.headers.update({"x-amz-date": "20300101T000000Z"}), "Signature expired"),
        (lambda r: r.headers.update({"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}), MISMATCH),
        (lambda r: r.headers.update({"x-amz-security-token": "t"}), "security token"),
        (lambda r: r.headers.pop("authorization"), "Forbidden"),
        (lambda r: r.headers.update({"authorization": "Bearer key"}), "Forbidden"),
        (
            lambda r: r.headers.update({"authorization": r.headers["authorization"][:-4] + "0000"}),
            MISMATCH,
        ),
        (
            lambda r: r.headers.update(
                {"authorization": r.headers["authorization"].replace(REGION, "eu-west-1")}
            ),
            "valid region",
        ),
    ],
)
def test_a_tampered_request_is_refused(tamper, message: str) -> None:  # type: ignore[no-untyped-def]
    request = signed()
    change = tamper(request) or {}
    with pytest.raises(SignatureRefused, match=message):
        check(request, **(change if isinstance(change, dict) else {}))


def test_a_tampered_query_and_an_unknown_key_are_refused() -> None:
    request = signed()
    moved = httpx.Request(
        request.method,
        str(request.url).replace("thumbnail:64", "thumbnail:640"),
        content=request.content,
        headers=request.headers,
    )
    with pytest.raises(SignatureRefused, match="does not match"):
        check(moved)
    with pytest.raises(SignatureRefused, match="security token included in the request is invalid"):
        check(signed(key="not-a-server-key"))


def test_a_signature_expires_after_15_minutes() -> None:
    request = signed()
    now = datetime.now(UTC)
    assert check(request, now=now + timedelta(minutes=14)) == "default"
    with pytest.raises(SignatureRefused, match="Signature expired"):
        check(request, now=now + timedelta(minutes=16))


def test_the_canonical_query_encodes_and_sorts() -> None:
    assert canonical_query([("ops", "thumbnail:64"), ("format", "webp"), ("a", "x y/z")]) == (
        "a=x%20y%2Fz&format=webp&ops=thumbnail%3A64"
    )


def test_the_region_comes_from_the_url_or_the_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    auth = SigV4Auth(credentials=credentials())
    assert auth.region_for(httpx.URL("https://abc123.execute-api.ap-south-1.amazonaws.com/x")) == (
        "ap-south-1"
    )
    assert auth.region_for(httpx.URL("https://images.example.com/x")) == "eu-west-1"
    assert SigV4Auth("us-west-2", credentials=credentials()).region_for(
        httpx.URL("https://abc123.execute-api.ap-south-1.amazonaws.com/x")
    ) == ("us-west-2")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ValueError, match="AWS_REGION"):
        SigV4Auth(credentials=credentials()).region_for(httpx.URL("https://images.example.com/"))


def test_no_credentials_and_no_botocore_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    with pytest.raises(ValueError, match="no AWS credentials"):
        SigV4Auth(REGION)
    with pytest.raises(ValueError, match=r"no AWS credentials: .*no-such-profile"):
        SigV4Auth(REGION, profile="no-such-profile")
    monkeypatch.setitem(sys.modules, "botocore.auth", None)  # as if botocore were missing
    monkeypatch.delitem(sys.modules, "progimage.iam")
    with pytest.raises(ImportError, match=r"pip install 'progimage\[iam\]'"):
        import progimage.iam  # noqa: F401
    code = main(["--url", "http://127.0.0.1:9", "--iam", "ls"])
    assert code == 1 and "pip install 'progimage[iam]'" in capsys.readouterr().err


def test_auth_and_an_api_key_exclude_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = SigV4Auth(REGION, credentials=credentials())
    with pytest.raises(ValueError, match="not both"):
        progimage.ProgImage("http://127.0.0.1:9", "key", auth=auth)
    monkeypatch.setenv("PROGIMAGE_API_KEY", "from-the-environment")
    with progimage.ProgImage("http://127.0.0.1:9", auth=auth) as client:
        assert client.api_key is None  # the environment's key is not sent alongside
