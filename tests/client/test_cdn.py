"""cdn_url: image and variant URLs and downloads on the CDN, every other call on the API; signed
URLs keep their path, so the server verifies them whichever host they were fetched from."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from progimage import ProgImage
from progimage.cli import main

from progimage_service.signing import tenant_key, verify
from tests.client.conftest import Reply, Scripted

IMAGE_ID = "0Ojp8iUHJrV2bQ4mJmGpV1rNY"
MASTER = b"cdn-tests-master-key"


def _verifies(url: str, tenant: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return verify([MASTER], parts.path, query.get("tenant"), query.get("sig"), query.get("exp"))


def test_urls_are_on_the_cdn_and_their_signatures_verify(env: pytest.MonkeyPatch) -> None:
    key = tenant_key(MASTER, "alpha").decode()
    with ProgImage(
        "https://api.example.com",
        cdn_url="https://cdn.example.com/",
        signing_key=key,
        tenant="alpha",
    ) as client:
        url = client.url(IMAGE_ID, "thumbnail:64.webp", expires_in=600)
        assert url.startswith(f"https://cdn.example.com/images/{IMAGE_ID}/thumbnail:64.webp?")
        assert _verifies(url, "alpha") == "alpha"
        signed = client.signed_url(IMAGE_ID, "png")
        assert signed.startswith(f"https://cdn.example.com/images/{IMAGE_ID}.png?")
        assert _verifies(signed, "alpha") == "alpha"
    with ProgImage("https://api.example.com") as plain:
        assert plain.cdn_url is None
        assert plain.url(IMAGE_ID) == f"https://api.example.com/images/{IMAGE_ID}"


def test_the_environment_names_the_cdn(env: pytest.MonkeyPatch) -> None:
    env.setenv("PROGIMAGE_CDN_URL", "https://cdn.example.com")
    with ProgImage("https://api.example.com") as client:
        assert client.url(IMAGE_ID) == f"https://cdn.example.com/images/{IMAGE_ID}"
    with ProgImage("https://api.example.com", cdn_url="") as client:  # off, whatever the env
        assert client.url(IMAGE_ID) == f"https://api.example.com/images/{IMAGE_ID}"


@pytest.mark.parametrize(
    "bad", ["cdn.example.com", "https://cdn.example.com/prefix", "ftp://cdn", "https://c/?a=1"]
)
def test_a_cdn_url_is_a_scheme_and_a_host(env: pytest.MonkeyPatch, bad: str) -> None:
    """A path would change what the server sees from what was signed."""
    with pytest.raises(ValueError, match="cdn_url"):
        ProgImage("https://api.example.com", cdn_url=bad)


def test_downloads_go_to_the_cdn_without_credentials_and_the_rest_to_the_api(
    env: pytest.MonkeyPatch, scripted: Scripted, other_host: Scripted
) -> None:
    api, cdn = scripted, other_host
    cdn.script(Reply(200, b"\x89PNG bytes", {"Content-Type": "image/png"}))
    api.script(Reply(204))
    with ProgImage(api.url, "secret-key", cdn_url=cdn.url) as client:
        assert client.get(IMAGE_ID, "thumbnail:8.png") == b"\x89PNG bytes"
        client.delete(IMAGE_ID)
    (got,) = cdn.received
    assert (got.method, got.path) == ("GET", f"/images/{IMAGE_ID}/thumbnail:8.png")
    assert "authorization" not in got.headers
    (deleted,) = api.received
    assert (deleted.method, deleted.path) == ("DELETE", f"/images/{IMAGE_ID}")
    assert deleted.headers["authorization"] == "Bearer secret-key"


def test_batch_results_are_fetched_from_the_cdn(
    env: pytest.MonkeyPatch, scripted: Scripted, other_host: Scripted
) -> None:
    api, cdn = scripted, other_host
    path = f"/images/{IMAGE_ID}/thumbnail:8.png"
    api.script(Reply(200, {"results": [{"index": 0, "status": 200, "url": path}]}))
    cdn.script(Reply(200, b"bytes", {"Content-Type": "image/png"}))
    with ProgImage(api.url, "secret-key", cdn_url=cdn.url) as client:
        (result,) = client.batch(
            [{"source": {"id": IMAGE_ID}, "ops": "thumbnail:8", "format": "png"}]
        )
        assert result.url == cdn.url + path  # a server without a CDN answers paths
        assert client.fetch(result.url) == b"bytes"
    assert [r.path for r in cdn.received] == [path]
    assert "authorization" not in cdn.received[0].headers


def test_the_cli_takes_the_cdn_url(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--url", "https://api.example.com", "--json", "url", IMAGE_ID, "webp"]
    assert main(["--cdn-url", "https://cdn.example.com", *args[:2], *args[2:]]) == 0
    assert (
        json.loads(capsys.readouterr().out)["url"]
        == f"https://cdn.example.com/images/{IMAGE_ID}.webp"
    )
    env.setenv("PROGIMAGE_CDN_URL", "https://edge.example.com")
    assert main(args) == 0
    assert (
        json.loads(capsys.readouterr().out)["url"]
        == f"https://edge.example.com/images/{IMAGE_ID}.webp"
    )
