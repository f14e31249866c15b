"""IAM callers end to end: the repository's template deployed with ``AuthMode=IAM`` on the local
server, which verifies SigV4 signatures; the client signs with ``SigV4Auth`` (sync, async and
the CLI's ``--iam``). Unsigned, tampered and stale requests are refused with 403. Each API key is
the secret access key of one access key of its tenant's IAM user (fixed fake credentials).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.auth
import httpx
import progimage
import pytest
from botocore.credentials import Credentials
from progimage.cli import main
from progimage.iam import SigV4Auth

from localserver import LocalServer
from localserver.auth import access_key_id
from localserver.intrinsics import REGION
from tests.images import sample

pytestmark = pytest.mark.e2e
KEY = "iam-e2e-default-key"  # the secret access key of tenant default's IAM user
ALPHA_KEY = "iam-e2e-alpha-key"
JPEG = sample("formats/hopper.jpg")
PNG = sample("formats/hopper.png")


@pytest.fixture(scope="module")
def server_options() -> dict[str, Any]:
    """IAM mode: the routes but the image bytes take SigV4; tenants default and alpha."""
    return {"parameter_overrides": {"AuthMode": "IAM"}, "api_keys": [KEY, f"alpha:{ALPHA_KEY}"]}


def credentials(key: str = KEY) -> Credentials:
    return Credentials(access_key_id(key), key)


class Recording(httpx.HTTPTransport):
    """Remembers each request's URL and whether it was signed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, bool]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((str(request.url), "authorization" in request.headers))
        return super().handle_request(request)


def test_the_sync_client_uploads_and_transforms_with_sigv4(server: LocalServer) -> None:
    transport = Recording()
    auth = SigV4Auth(credentials=credentials())  # the region: AWS_REGION, the server's
    with progimage.ProgImage(server.url, auth=auth, transport=transport) as client:
        image = client.upload(JPEG)
        stored = client.transform(image.id, "thumbnail:32", format="png", store=True)
        assert stored.width == 32 and stored.format == "png"
        assert client.transform(JPEG, "grayscale", format="webp")[:4] == b"RIFF"
        big = client.upload(PNG, presigned=True)  # straight to storage: never signed
        assert {record.id for record in client.list()} >= {image.id, stored.id, big.id}
    storage = [signed for url, signed in transport.seen if not url.startswith(server.url)]
    api = [signed for url, signed in transport.seen if url.startswith(server.url)]
    assert storage == [False] and all(api)
    with (
        progimage.ProgImage(
            server.url, auth=SigV4Auth(credentials=credentials(ALPHA_KEY))
        ) as alpha,
        pytest.raises(progimage.NotFound),
    ):
        alpha.info(image.id)  # another tenant's image


def test_the_async_client_uploads_and_transforms_with_sigv4(server: LocalServer) -> None:
    async def calls() -> None:
        auth = SigV4Auth(REGION, credentials=credentials(ALPHA_KEY))
        async with progimage.AsyncProgImage(server.url, auth=auth) as client:
            image = await client.upload(JPEG)
            thumb = await client.transform(image.id, "thumbnail:16.png")
            assert thumb[:8] == b"\x89PNG\r\n\x1a\n"
            assert (await client.info(image.id, timeout=30)).id == image.id

    asyncio.run(calls())


def test_the_cli_uploads_and_transforms_with_iam(
    server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key_id(KEY))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    monkeypatch.setenv("PROGIMAGE_URL", server.url)
    monkeypatch.setenv("PROGIMAGE_API_KEY", "ignored-with-iam")
    source = tmp_path / "in.jpg"
    source.write_bytes(JPEG)
    assert main(["--iam", "upload", str(source), "--json"]) == 0
    image_id = json.loads(capsys.readouterr().out)[0]["image"]["id"]
    out = tmp_path / "thumb.png"
    monkeypatch.setenv("PROGIMAGE_IAM", "1")
    assert main(["transform", image_id, "thumbnail:24", "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-wrong-secret")
    assert main(["--json", "info", image_id]) == 5
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "forbidden" and error["status"] == 403
    assert "signature we calculated does not match" in error["message"]


def test_unsigned_tampered_and_stale_requests_are_403(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{server.url}/images"
    with httpx.Client() as http:
        unsigned = http.get(url)
        assert unsigned.status_code == 403 and unsigned.json() == {"message": "Forbidden"}
        bearer = http.get(url, headers={"Authorization": f"Bearer {KEY}"})
        assert bearer.status_code == 403  # IAM routes take no API keys

        request = http.build_request("GET", url)
        SigV4Auth(REGION, credentials=credentials()).sign(request)
        assert http.send(request).status_code == 200
        tampered = http.build_request("GET", url + "?limit=1", headers=request.headers)
        answer = http.send(tampered)
        assert answer.status_code == 403 and "does not match" in answer.json()["message"]

        past = datetime.now(UTC) - timedelta(minutes=20)
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: past)
        stale = http.build_request("GET", url)
        SigV4Auth(REGION, credentials=credentials()).sign(stale)
        answer = http.send(stale)
        assert answer.status_code == 403 and "Signature expired" in answer.json()["message"]


def test_the_open_routes_need_no_signature(server: LocalServer) -> None:
    with progimage.ProgImage(server.url, auth=SigV4Auth(credentials=credentials())) as client:
        image = client.upload(JPEG)
    assert httpx.get(f"{server.url}/images/{image.id}/thumbnail:8").status_code == 200
