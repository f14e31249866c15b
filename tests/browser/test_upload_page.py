"""docs/examples/upload.html in headless Chromium: served from its own origin, it uploads a real
image through `make serve`'s server with CORS for that origin (a presigned POST straight to the
bucket) and shows the stored image."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from localserver import LocalServer
from tests.browser.chromium import Chromium, find_chromium
from tests.images import TESTDATA

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
KEY = "browser-example-key"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        if os.geteuid() == 0:
            pytest.fail("chromium is missing: `make test` installs it (scripts/apt-install.sh)")
        pytest.skip("chromium is not installed, and installing it (`make test`) needs root")
    return found


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """The example pages on a static server of their own: another origin than the API's."""
    handler = functools.partial(_QuietHandler, directory=str(EXAMPLES))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_the_example_page_uploads_and_shows_the_image(chromium: str, page_origin: str) -> None:
    options = {"parameter_overrides": {"CorsAllowedOrigins": page_origin}, "api_keys": [KEY]}
    with LocalServer(ROOT / "template.yaml", **options) as server, Chromium(chromium) as browser:
        query = urlencode({"api": server.url, "key": KEY})
        browser.goto(f"{page_origin}/upload.html?{query}")
        browser.set_files("#file", TESTDATA / "formats" / "hopper.jpg")
        browser.evaluate("document.getElementById('upload').click()")
        browser.wait_for("['done', 'error'].includes(document.body.dataset.state)", timeout=90)
        status = browser.evaluate("document.getElementById('status').textContent")
        assert browser.evaluate("document.body.dataset.state") == "done", status
        image = browser.evaluate(
            "(({naturalWidth, naturalHeight, dataset}) => "
            "({width: naturalWidth, height: naturalHeight, id: dataset.id}))"
            "(document.getElementById('stored'))"
        )
        assert image["width"] > 0 and image["height"] > 0, image
        info = requests.get(
            f"{server.url}/images/{image['id']}/info",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=30,
        ).json()
        assert (info["status"], info["format"]) == ("ready", "jpeg")
