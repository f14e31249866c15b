"""`sam local start-api`: the template's HTTP API in front of the built functions, over HTTP."""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from tests.sam_local.conftest import (
    ROOT,
    START_TIMEOUT_S,
    Stack,
    decode_image,
    free_port,
    stop,
    wait_for_port,
)


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[str]:
    port = free_port()
    log = stack.workdir / "start-api.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            stack.sam_command(
                "local",
                "start-api",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--warm-containers",
                "EAGER",
                # The SAM CLI cannot read an authorizer chosen by Fn::If (AuthMode); the
                # authorizer function itself is invoked in test_invoke and test_events.
                "--disable-authorizer",
                *stack.common_options(),
            ),
            cwd=ROOT,
            env=stack.sam_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log, START_TIMEOUT_S)
        stack.timings["sam local start-api: ready"] = time.monotonic() - started
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process, log)


def timed(stack: Stack, response: requests.Response) -> requests.Response:
    key = "start-api requests"
    stack.timings[key] = stack.timings.get(key, 0.0) + response.elapsed.total_seconds()
    return response


def test_upload_get_convert_over_http(api: str, stack: Stack, png_bytes: bytes) -> None:
    session = requests.Session()

    def call(method: str, path: str, **kwargs: object) -> requests.Response:
        return timed(stack, session.request(method, api + path, timeout=120, **kwargs))  # type: ignore[arg-type]

    # JSON bodies: `sam local start-api` passes a binary request body to an HTTP API's function
    # only for the API's binary media types, which an HTTP API does not have (API Gateway
    # base64-encodes every non-text body). Binary bodies are covered by tests/sam_local/test_events.
    created = call("POST", "/images", json={"data": base64.b64encode(png_bytes).decode()})
    assert created.status_code == 201, created.text
    record = created.json()
    image_id = record["id"]
    assert created.headers["Location"] == f"/images/{image_id}"
    assert (record["status"], record["format"], record["width"], record["height"]) == (
        "ready",
        "png",
        128,
        128,
    )

    original = call("GET", f"/images/{image_id}")
    assert original.status_code == 200, original.text
    assert original.headers["Content-Type"] == "image/png"
    assert original.content == png_bytes

    webp = call("GET", f"/images/{image_id}.webp")
    assert webp.status_code == 200, webp.text
    assert webp.headers["Content-Type"] == "image/webp"
    converted = decode_image(webp.content)
    assert (converted.format, converted.size) == ("WEBP", (128, 128))

    variant = call("GET", f"/images/{image_id}/thumbnail:32/grayscale.jpg")
    assert variant.status_code == 200, variant.text
    thumbnail = decode_image(variant.content)
    assert (thumbnail.format, thumbnail.size, thumbnail.mode) == ("JPEG", (32, 32), "L")

    info = call("GET", f"/images/{image_id}/info")
    assert info.status_code == 200, info.text
    assert info.json()["id"] == image_id

    transformed = call(
        "POST",
        "/transform",
        json={"source": {"id": image_id}, "ops": "thumbnail:16", "format": "png"},
    )
    assert transformed.status_code == 200, transformed.text
    small = decode_image(transformed.content)
    assert (small.format, small.size) == ("PNG", (16, 16))

    deleted = call("DELETE", f"/images/{image_id}")
    assert deleted.status_code == 204, deleted.text
    missing = call("GET", f"/images/{image_id}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
