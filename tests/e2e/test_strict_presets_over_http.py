"""Strict presets over HTTP: the local server deployed with SignedUrls=Required and
StrictPresets=Enabled serves an unsigned URL naming presets alone, and refuses the bypasses as
a client sends them (raw bytes on the wire, so nothing normalises the path first)."""

from __future__ import annotations

import http.client
import io
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from PIL import Image

from localserver import LocalServer
from progimage_service.signing import signature, tenant_key
from tests.images import sample

pytestmark = pytest.mark.e2e
KEY = "strict-presets-key"  # a bare key: the tenant "default"


@pytest.fixture(scope="module")
def server_options() -> dict[str, Any]:
    return {
        "api_keys": [KEY],
        "parameter_overrides": {"SignedUrls": "Required", "StrictPresets": "Enabled"},
    }


def raw_get(server: LocalServer, target: str, method: str = "GET") -> tuple[int, bytes, str]:
    """Status, body and Content-Type of a request whose target goes out byte for byte."""
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    try:
        connection.request(method, target)
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Content-Type") or ""
    finally:
        connection.close()


@pytest.fixture(scope="module")
def image_id(server: LocalServer) -> str:
    auth = {"Authorization": f"Bearer {KEY}"}
    body = {"ops": "resize:64:48:fill", "format": "webp"}
    saved = requests.put(f"{server.url}/presets/card", json=body, headers=auth, timeout=30)
    assert saved.status_code == 200, saved.text
    data = sample("formats/hopper.jpg")
    answer = requests.post(f"{server.url}/images", data=data, headers=auth, timeout=60)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_the_template_tells_the_functions(server: LocalServer) -> None:
    assert server.environment["PROGIMAGE_PRESETS_ONLY"] == "true"
    assert server.environment["PROGIMAGE_SIGNING_KEYS_SECRET"]


def test_presets_alone_are_served_unsigned(server: LocalServer, image_id: str) -> None:
    for target in (f"/images/{image_id}/preset:card", f"/images/{image_id}/PRESET:card.png"):
        status, body, kind = raw_get(server, target)
        assert status == 200, body
        picture = Image.open(io.BytesIO(body))
        assert picture.size == (64, 48) and kind == f"image/{picture.format.lower()}"
        assert raw_get(server, target, "HEAD")[:2] == (200, b"")


@pytest.mark.parametrize(
    "pipeline",
    [
        "preset:card/resize:10:10",
        "resize:10:10/preset:card",
        "preset:card/quality:1",
        "preset:card%2Fresize:10:10",
        "preset:card%2fresize:10:10",
        "preset:card%252Fresize:10:10",
        "preset:card;resize:10:10",
        "preset:card%5Cresize:10:10",
        "preset:card//resize:10:10",
        "preset:card/",
        "../preset:card",
        "preset:card/..%2F..%2Fresize:10:10",
    ],
)
def test_every_other_unsigned_pipeline_is_refused(
    server: LocalServer, image_id: str, pipeline: str
) -> None:
    status, body, _ = raw_get(server, f"/images/{image_id}/{pipeline}")
    assert status == 403 and b'"param":"sig"' in body, body


def test_the_original_and_conversions_need_a_signature_and_signed_urls_are_unrestricted(
    server: LocalServer, image_id: str
) -> None:
    secrets = boto3.client("secretsmanager")
    master = secrets.get_secret_value(SecretId=server.environment["PROGIMAGE_SIGNING_KEYS_SECRET"])
    key = tenant_key(master["SecretString"].split(",")[0].encode(), "default")
    for path in (
        f"/images/{image_id}",
        f"/images/{image_id}.webp",
        f"/images/{image_id}/preset:card/resize:10:10",
    ):
        assert raw_get(server, path)[0] == 403, path
        status, body, _ = raw_get(server, f"{path}?sig={signature(key, path)}")
        assert status == 200, (path, body)
