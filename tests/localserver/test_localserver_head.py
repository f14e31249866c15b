"""HEAD requests: API Gateway matches routes on the method, so HEAD reaches only a HEAD (or ANY)
route, and its answer has the function's status and headers but never a body.

A tiny template (package ``lshead``) declares ``HEAD /images/{id}`` beside ``GET /images/{id}``,
a GET-only route and an ANY route; its handler always answers a body, even to HEAD.
"""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from localserver import LocalServer

pytestmark = pytest.mark.e2e

HEAD_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31

Globals:
  Function:
    Runtime: python3.13
    CodeUri: src/
    Timeout: 10

Resources:
  ImageFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lshead.app.image
      Events:
        GetImage:
          Type: HttpApi
          Properties: {Method: GET, Path: "/images/{id}"}
        HeadImage:
          Type: HttpApi
          Properties: {Method: HEAD, Path: "/images/{id}"}
        GetOnly:
          Type: HttpApi
          Properties: {Method: GET, Path: /get-only}
        Anything:
          Type: HttpApi
          Properties: {Method: ANY, Path: /any}
"""

HEAD_HANDLERS = '''\
"""Answers a PNG-typed body to every method, HEAD included: the server drops it for HEAD."""

import base64

BODY = bytes(range(256)) * 4


def image(event, context):
    missing = (event.get("pathParameters") or {}).get("id") == "missing"
    return {
        "statusCode": 404 if missing else 200,
        "headers": {
            "Content-Type": "image/png",
            "ETag": '"v1"',
            "X-Route-Key": event["routeKey"],
            "X-Method": event["requestContext"]["http"]["method"],
        },
        "body": base64.b64encode(BODY[:10] if missing else BODY).decode(),
        "isBase64Encoded": True,
    }
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    directory = tmp_path_factory.mktemp("localserver-head")
    package = directory / "src" / "lshead"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(textwrap.dedent(HEAD_HANDLERS))
    template = directory / "template.yaml"
    template.write_text(HEAD_TEMPLATE)
    with LocalServer(Path(template), port=0) as running:
        yield running


def raw_exchange(server: LocalServer, method: str, path: str) -> tuple[str, dict[str, str], bytes]:
    """Send one request over a bare socket and read until the server closes it: the status
    line, the headers (names lower-cased) and every byte after them."""
    address = urlsplit(server.url)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        request = f"{method} {path} HTTP/1.1\r\nHost: {address.netloc}\r\nConnection: close\r\n\r\n"
        connection.sendall(request.encode())
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in lines)}
    return status, headers, rest


def test_head_reaches_the_head_route_and_sends_no_body(server: LocalServer) -> None:
    status, headers, rest = raw_exchange(server, "HEAD", "/images/abc")
    assert status == "HTTP/1.1 200 OK"
    assert rest == b""
    assert headers["x-route-key"] == "HEAD /images/{id}"
    assert headers["x-method"] == "HEAD"
    assert headers["content-type"] == "image/png"
    assert headers["etag"] == '"v1"'
    assert headers["apigw-requestid"]

    get_status, get_headers, body = raw_exchange(server, "GET", "/images/abc")
    assert get_status == "HTTP/1.1 200 OK"
    assert get_headers["x-route-key"] == "GET /images/{id}"
    assert body == bytes(range(256)) * 4
    # the GET's length, announced without the bytes
    assert headers["content-length"] == get_headers["content-length"] == str(len(body))


def test_head_passes_the_functions_status_through(server: LocalServer) -> None:
    status, headers, rest = raw_exchange(server, "HEAD", "/images/missing")
    assert status == "HTTP/1.1 404 NOT FOUND"
    assert (headers["x-route-key"], headers["content-type"]) == ("HEAD /images/{id}", "image/png")
    assert rest == b""


def test_head_without_a_head_route_is_404_without_a_body(server: LocalServer) -> None:
    status, headers, rest = raw_exchange(server, "HEAD", "/get-only")
    assert status == "HTTP/1.1 404 NOT FOUND"
    assert headers["content-type"] == "application/json"
    assert "x-route-key" not in headers
    assert rest == b""
    assert requests.get(f"{server.url}/get-only", timeout=10).status_code == 200


def test_head_reaches_an_any_route(server: LocalServer) -> None:
    answer = requests.head(f"{server.url}/any", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["X-Route-Key"] == "ANY /any"
    assert answer.headers["X-Method"] == "HEAD"
    assert answer.content == b""


def test_a_connection_goes_on_after_a_head(server: LocalServer) -> None:
    """No stray body bytes: the next response on the same connection reads cleanly."""
    with requests.Session() as session:
        for _ in range(2):
            head = session.head(f"{server.url}/images/abc", timeout=10)
            assert (head.status_code, head.content) == (200, b"")
            get = session.get(f"{server.url}/images/abc", timeout=10)
            assert get.content == bytes(range(256)) * 4
