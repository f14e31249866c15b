"""The remote fetcher: the address checks (SSRF guard), and real fetches from a loopback server.

Nothing here contacts any address but 127.0.0.1: every refused URL names an IP literal (no DNS
lookup leaves the machine) and is refused from its resolved address, before any connection.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

import pytest
from PIL import Image

from progimage_service.adapters import fetch as fetch_module
from progimage_service.adapters.fetch import FetchPolicy, blocked_reason, fetch
from progimage_service.errors import TooLarge, UpstreamError, UrlNotAllowed
from tests.images import encode

LOOPBACK = (ip_network("127.0.0.0/8"),)
IMAGE = encode(Image.new("RGB", (32, 16), (200, 30, 90)), "PNG")


# --- blocked_reason ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "192.168.255.255",
        "169.254.169.254",  # cloud metadata
        "169.254.0.1",
        "100.64.0.1",  # CGNAT
        "100.127.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",  # the AWS metadata service over IPv6
        "ff02::1",  # multicast
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::127.0.0.1",  # deprecated IPv4-compatible
        "::10.0.0.1",
        "2001:db8::1",  # documentation
    ],
)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert blocked_reason(ip_address(address)) is not None


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",  # mapped, but a public IPv4 inside
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "172.32.0.1",  # just outside 172.16/12
        "100.128.0.1",  # just outside 100.64/10
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert blocked_reason(ip_address(address)) is None


def test_reasons_say_what_kind_of_address() -> None:
    assert "loopback" in (blocked_reason(ip_address("127.0.0.1")) or "")
    assert "loopback" in (blocked_reason(ip_address("::1")) or "")
    assert "private" in (blocked_reason(ip_address("10.1.2.3")) or "")
    assert "link-local" in (blocked_reason(ip_address("169.254.169.254")) or "")


def test_allowed_networks_exempt_only_their_range() -> None:
    assert blocked_reason(ip_address("127.0.0.1"), LOOPBACK) is None
    assert blocked_reason(ip_address("::ffff:127.0.0.1"), LOOPBACK) is None
    assert blocked_reason(ip_address("10.0.0.1"), LOOPBACK) is not None
    assert blocked_reason(ip_address("::1"), LOOPBACK) is not None


# --- refused before connecting ------------------------------------------------------------------


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list:
    """Fail the test if the fetcher opens any connection at all."""
    attempts: list = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise AssertionError(f"the fetcher tried to connect to {address}")

    monkeypatch.setattr(fetch_module.socket, "create_connection", refuse)
    return attempts


def refused(url: str, policy: FetchPolicy) -> UrlNotAllowed:
    with pytest.raises(UrlNotAllowed) as raised:
        fetch(url, policy)
    assert raised.value.status == 400
    assert raised.value.code == "url_not_allowed"
    assert raised.value.param == "url"
    return raised.value


HTTP = FetchPolicy(max_bytes=10_000, timeout_seconds=2, allow_http=True)
HTTPS = FetchPolicy(max_bytes=10_000, timeout_seconds=2)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",  # decimal
        "http://0x7f000001/",  # hex
        "http://0x7f.1/",  # hex, short
        "http://127.1/",  # short
        "http://0177.0.0.1/",  # octal
        "http://0/",  # 0.0.0.0
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]:8080/x.png",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1/image.png",
        "http://192.168.1.1:8443/",
        "http://100.64.0.1/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "HTTP://127.0.0.1/",
        "http://127.0.0.1:80@10.0.0.1/",  # credentials in the URL as well
    ],
)
def test_loopback_private_and_metadata_addresses_are_refused_even_with_http(
    url: str, no_connections: list
) -> None:
    refused(url, HTTP)
    assert no_connections == []


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8/image.png",
        "ftp://8.8.8.8/image.png",
        "file:///etc/passwd",
        "gopher://8.8.8.8/",
        "//8.8.8.8/image.png",
        "8.8.8.8/image.png",
        "",
    ],
)
def test_https_is_required_unless_http_is_allowed(url: str, no_connections: list) -> None:
    error = refused(url, HTTPS)
    assert "https" in error.message


def test_non_http_schemes_are_refused_even_with_http_allowed(no_connections: list) -> None:
    for url in ("ftp://8.8.8.8/", "file:///etc/passwd", "data:image/png;base64,AAAA"):
        refused(url, HTTP)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@8.8.8.8/image.png",
        "https://user@8.8.8.8/image.png",
        "https://:secret@8.8.8.8/image.png",
    ],
)
def test_credentials_in_the_url_are_refused(url: str, no_connections: list) -> None:
    assert "credentials" in refused(url, HTTPS).message


@pytest.mark.parametrize(
    "url",
    ["https:///image.png", "https://[::1/", "https://8.8.8.8:99999/", "https://8.8.8.8:port/"],
)
def test_malformed_urls_are_a_client_error(url: str, no_connections: list) -> None:
    refused(url, HTTPS)


def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch, no_connections) -> None:
    """A name with one public and one private address is refused, whichever comes first."""

    def resolve(host, port, *args, **kwargs):
        assert host == "images.example.test"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1%2", port, 0, 2)),
        ]

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", resolve)
    error = refused("https://images.example.test/a.png", HTTPS)
    assert "fe80::1" in error.message


# --- a real server on loopback -------------------------------------------------------------------


@dataclass
class Server:
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(server: Server):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            path = self.path
            if path in ("/image.png", "/caf%C3%A9.png"):
                self._send(200, IMAGE)
            elif path.startswith("/hop/"):
                left = int(path.removeprefix("/hop/"))  # redirects still to come
                target = "/image.png" if left <= 1 else f"/hop/{left - 1}"
                self._redirect(target)
            elif path == "/to-ipv6-loopback":
                self._redirect(f"http://[::1]:{server.port}/image.png")
            elif path == "/to-private":
                self._redirect("http://10.0.0.1/image.png")
            elif path == "/to-metadata":
                self._redirect("http://169.254.169.254/latest/meta-data/")
            elif path == "/to-decimal-loopback":
                self._redirect(f"http://2130706433:{server.port}/image.png")
            elif path == "/to-file":
                self._redirect("file:///etc/passwd")
            elif path == "/to-broken":
                self._redirect("http://[::1")
            elif path == "/missing":
                self._send(404, b"not here")
            elif path == "/error":
                self._send(500, b"oops")
            elif path == "/big":
                self._send(200, b"x" * 5000)
            elif path == "/big-unannounced":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()  # HTTP/1.0: the body ends when the connection closes
                for _ in range(10):
                    self.wfile.write(b"x" * 1000)
            elif path == "/truncated":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"x" * 10)
                self.close_connection = True
            else:
                self._send(404, b"")

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    state = Server(port=0)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


LOCAL = FetchPolicy(max_bytes=4096, timeout_seconds=5, allow_http=True, allowed_networks=LOOPBACK)


def test_fetches_from_an_allowed_local_server(server: Server) -> None:
    assert fetch(server.url("/image.png"), LOCAL) == IMAGE


def test_the_local_server_is_refused_without_the_exemption(server: Server) -> None:
    policy = FetchPolicy(max_bytes=4096, timeout_seconds=5, allow_http=True)
    error = refused(server.url("/image.png"), policy)
    assert "127.0.0.1" in error.message and "loopback" in error.message


def test_the_local_server_is_refused_over_http_unless_http_is_allowed(server: Server) -> None:
    policy = FetchPolicy(max_bytes=4096, timeout_seconds=5, allowed_networks=LOOPBACK)
    refused(server.url("/image.png"), policy)


def test_the_exemption_covers_other_spellings_of_the_same_address(server: Server) -> None:
    assert fetch(f"http://2130706433:{server.port}/image.png", LOCAL) == IMAGE
    assert fetch(f"http://127.1:{server.port}/image.png", LOCAL) == IMAGE


def test_follows_redirects_up_to_the_limit(server: Server) -> None:
    assert fetch(server.url("/hop/3"), LOCAL) == IMAGE  # three redirects: the default limit
    with pytest.raises(UpstreamError) as raised:
        fetch(server.url("/hop/4"), LOCAL)
    assert raised.value.status == 502
    assert "redirect" in raised.value.message
    one = FetchPolicy(max_bytes=4096, allow_http=True, allowed_networks=LOOPBACK, max_redirects=1)
    assert fetch(server.url("/hop/1"), one) == IMAGE
    with pytest.raises(UpstreamError):
        fetch(server.url("/hop/2"), one)


@pytest.mark.parametrize(
    ("path", "address"),
    [
        ("/to-ipv6-loopback", "::1"),
        ("/to-private", "10.0.0.1"),
        ("/to-metadata", "169.254.169.254"),
    ],
)
def test_a_redirect_to_a_blocked_address_is_refused_before_connecting(
    server: Server, path: str, address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected: list = []
    real = socket.create_connection

    def watch(target, *args, **kwargs):
        connected.append(target[0])
        return real(target, *args, **kwargs)

    monkeypatch.setattr(fetch_module.socket, "create_connection", watch)
    error = refused(server.url(path), LOCAL)
    assert address in error.message
    assert connected == ["127.0.0.1"]  # the allowed server only, never the redirect target


def test_a_redirect_to_another_scheme_is_refused(server: Server) -> None:
    refused(server.url("/to-file"), LOCAL)


def test_a_redirect_to_another_spelling_of_an_allowed_address_is_followed(server: Server) -> None:
    assert fetch(server.url("/to-decimal-loopback"), LOCAL) == IMAGE


def test_an_unparsable_redirect_is_an_upstream_error(server: Server) -> None:
    with pytest.raises(UpstreamError):
        fetch(server.url("/to-broken"), LOCAL)


@pytest.mark.parametrize("path", ["/missing", "/error", "/nothing-here"])
def test_an_error_status_from_the_remote_is_a_502(server: Server, path: str) -> None:
    with pytest.raises(UpstreamError) as raised:
        fetch(server.url(path), LOCAL)
    assert raised.value.status == 502
    assert raised.value.code == "upstream_error"


@pytest.mark.parametrize("path", ["/big", "/big-unannounced"])
def test_a_body_over_max_bytes_is_a_413(server: Server, path: str) -> None:
    with pytest.raises(TooLarge) as raised:
        fetch(server.url(path), LOCAL)
    assert raised.value.status == 413
    roomy = FetchPolicy(max_bytes=20_000, allow_http=True, allowed_networks=LOOPBACK)
    assert len(fetch(server.url(path), roomy)) in (5000, 10_000)


def test_a_body_of_exactly_max_bytes_is_accepted(server: Server) -> None:
    exact = FetchPolicy(max_bytes=5000, allow_http=True, allowed_networks=LOOPBACK)
    assert fetch(server.url("/big"), exact) == b"x" * 5000


def test_a_body_cut_short_of_its_content_length_is_a_502(server: Server) -> None:
    with pytest.raises(UpstreamError):
        fetch(server.url("/truncated"), LOCAL)


def test_a_refused_port_is_a_502(server: Server) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UpstreamError):
        fetch(f"http://127.0.0.1:{port}/image.png", LOCAL)


def test_the_connection_goes_to_the_checked_address(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name is resolved once; the connection uses that answer, not a second lookup."""
    name = "images.example.test"  # a reserved name: never looked up for real here
    lookups: list[str] = []
    real_resolve, real_connect = socket.getaddrinfo, socket.create_connection

    def resolve(host, port, *args, **kwargs):
        if host != name:
            return real_resolve(host, port, *args, **kwargs)
        lookups.append(host)  # a second answer would point elsewhere
        answer = "127.0.0.1" if len(lookups) == 1 else "10.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]

    def connect(target, *args, **kwargs):
        assert target[0] == "127.0.0.1", target
        return real_connect(target, *args, **kwargs)

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", resolve)
    monkeypatch.setattr(fetch_module.socket, "create_connection", connect)
    assert fetch(f"http://{name}:{server.port}/image.png", LOCAL) == IMAGE
    assert lookups == [name]


def test_a_path_that_is_not_ascii_is_sent_percent_encoded(server: Server) -> None:
    assert fetch(server.url("/café.png"), LOCAL) == IMAGE


@pytest.mark.parametrize(("scheme", "port"), [("http", 80), ("https", 443)])
def test_an_ipv6_literal_without_a_port_is_fetched_from_the_default_port(
    scheme: str, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """http.client alone would take the last group of the address for a port."""
    address = "2606:4700:4700::1111"
    targets: list = []

    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (host, port, 0, 0))]

    def connect(target, *args, **kwargs):
        targets.append(target)
        raise ConnectionRefusedError("not contacted in tests")

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", resolve)
    monkeypatch.setattr(fetch_module.socket, "create_connection", connect)
    with pytest.raises(UpstreamError):
        fetch(f"{scheme}://[{address}]/image.png", HTTP)
    assert targets == [(address, port)]
