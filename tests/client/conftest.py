"""Fixtures for the client's tests: the real local server over HTTP, and a scripted fake server.

The local server runs with API keys of three tenants (every route but the image bytes needs
``Authorization: Bearer``, checked by the template's authorizer; most tests use the key of the
tenant ``default``, as a caller with one key does), a URL signing master key (so every image GET
the client makes is signed, with its tenant's key derived from it), a small inline limit (so
originals over 20 kB answer 307 to a presigned storage URL, which the client must follow), and
may fetch remote sources from this machine (a scripted server).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from progimage.signing import tenant_key

from localserver import LocalServer
from tests.images import sample

ROOT = Path(__file__).resolve().parents[2]
MASTER_KEY = "client-tests-master-key"  # the server's; tenants are given keys derived from it
SIGNING_KEY = tenant_key(MASTER_KEY, "default")
API_KEY = "client-tests-api-key"  # a bare key: the tenant "default"
# Two more tenants, each with its API key and its URL signing key.
TENANT_KEYS = {
    tenant: (f"client-tests-{tenant}-api-key", tenant_key(MASTER_KEY, tenant))
    for tenant in ("alpha", "beta")
}
INLINE_MAX_BYTES = 20_000


@pytest.fixture(scope="package")
def server() -> Iterator[LocalServer]:
    env = {
        "PROGIMAGE_SIGNING_KEYS": MASTER_KEY,
        "PROGIMAGE_INLINE_MAX_BYTES": str(INLINE_MAX_BYTES),
        # Remote sources served by a scripted server on this machine.
        "PROGIMAGE_FETCH_ALLOW_HTTP": "1",
        "PROGIMAGE_FETCH_ALLOW_NETWORKS": "127.0.0.0/8",
    }
    api_keys = [API_KEY, *(f"{tenant}:{key}" for tenant, (key, _) in TENANT_KEYS.items())]
    server = LocalServer(ROOT / "template.yaml", env_overrides=env, api_keys=api_keys)
    with server as running:
        yield running


@pytest.fixture(scope="package")
def api(server: LocalServer) -> str:
    return server.url


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def png() -> bytes:
    return sample("formats/hopper.png")  # 128x128, 30 kB: over the inline limit


@pytest.fixture
def jpeg() -> bytes:
    return sample("formats/hopper.jpg")  # 128x128, small: served inline


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No PROGIMAGE_* variables from the developer's shell."""
    for name in (
        "PROGIMAGE_URL",
        "PROGIMAGE_API_KEY",
        "PROGIMAGE_SIGNING_KEY",
        "PROGIMAGE_TENANT",
        "PROGIMAGE_SIGNING_MASTER_KEY",
        "PROGIMAGE_CDN_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# --- a scripted HTTP server ---------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes | str | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (to provoke client timeouts)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Scripted:
    """A local HTTP server that answers each request with the next scripted reply (the last one
    repeats) and records what it received. Header names in ``received`` are lower case."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self._lock = threading.Lock()
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with scripted._lock:
                    scripted.received.append(
                        Received(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    reply = scripted.replies.pop(0) if len(scripted.replies) > 1 else None
                    reply = reply or (scripted.replies[0] if scripted.replies else Reply(500))
                if reply.delay:
                    threading.Event().wait(reply.delay)
                payload = reply.body
                headers = dict(reply.headers)
                if isinstance(payload, dict):
                    payload = json.dumps(payload).encode()
                    headers.setdefault("Content-Type", "application/json")
                elif isinstance(payload, str):
                    payload = payload.encode()
                try:
                    self.send_response(reply.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_DELETE = do_PUT = _handle  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_port}"

    def script(self, *replies: Reply) -> Scripted:
        self.replies = list(replies)
        self.received = []
        return self

    def start(self) -> Scripted:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    fake = Scripted().start()
    yield fake
    fake.stop()


@pytest.fixture
def other_host() -> Iterator[Scripted]:
    """A second scripted server (another origin: redirects must not carry credentials)."""
    fake = Scripted().start()
    yield fake
    fake.stop()


IMAGE_RECORD = {
    "id": "0Ojp8iUHJrV2bQ4mJmGpV1rNY",
    "status": "ready",
    "format": "png",
    "content_type": "image/png",
    "width": 1,
    "height": 1,
    "bytes": 67,
    "sha256": "0" * 64,
    "frames": 1,
    "created_at": "2024-05-01T12:00:00.000Z",
}
