"""Fetch a remote image for a `{"url": ...}` source, without becoming an SSRF proxy.

Every hop (the URL and each redirect) is resolved, and every address it resolves to must be a
public unicast address: loopback, private, link-local (cloud metadata), CGNAT, multicast,
reserved and unspecified ranges are refused, including IPv4 written inside IPv6 (mapped,
compatible, 6to4, NAT64) and the decimal/hex IPv4 spellings that resolvers accept. The connection
is then made to the address that was checked, so a second DNS answer cannot change it. Bytes and
time are bounded: one deadline covers the whole fetch, redirects included, and every lookup,
connection, send and receive is given only the time left before it.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Buffer, Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import SplitResult, quote, urljoin, urlsplit

from .. import observability
from ..config import FetchPolicy, IPNetwork
from ..errors import TooLarge, UpstreamError, UrlNotAllowed
from ..inputs import echo

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024
_HEADERS = {"User-Agent": "ProgImage/1.0", "Accept": "image/*"}
# A Content-Length is 1*DIGIT (RFC 9110); 20 digits already exceed any size worth reading.
_CONTENT_LENGTH = re.compile(r"[0-9]{1,20}")
# Characters a request target may carry as they are; anything else is percent-encoded.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"


def fetch(url: str, policy: FetchPolicy) -> bytes:
    """The body of a successful GET of ``url``, following a few checked redirects.

    One deadline, ``policy.timeout_seconds`` from the start, bounds the whole exchange: every
    hop's lookup, connection, request, status line, headers and body, up to its last byte.
    A url refused (a private address, a scheme not allowed ...) is counted.
    """
    try:
        return _fetch(url, policy)
    except UrlNotAllowed:
        observability.add("FetchRefusals")
        raise


def _fetch(url: str, policy: FetchPolicy) -> bytes:
    deadline = time.monotonic() + policy.timeout_seconds
    for _ in range(policy.max_redirects + 1):
        parts = _check_url(url, policy)
        try:
            address = _resolve(parts.hostname or "", parts.port, policy, deadline)
            kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
            connection = kind(parts.hostname or "", address, parts.port, deadline)
            try:
                connection.request("GET", _target(parts), headers=_HEADERS)
                response = connection.getresponse()
                if response.status in _REDIRECTS and response.getheader("Location"):
                    url = _redirect(url, response.getheader("Location", ""))
                    continue
                if response.status != 200:
                    raise UpstreamError(
                        f"fetching {echo(url)} answered HTTP {response.status}", param="url"
                    )
                return _read_bounded(response, policy.max_bytes, url)
            finally:
                _hang_up(connection)
        except TimeoutError as error:
            raise UpstreamError(
                f"fetching {echo(url)} took longer than the {policy.timeout_seconds:g} s limit",
                param="url",
            ) from error
        except (OSError, http.client.HTTPException) as error:  # refused, reset, cut off, garbled
            raise UpstreamError(f"fetching {echo(url)} failed: {error}", param="url") from error
    raise UpstreamError(f"more than {policy.max_redirects} redirects from {echo(url)}", param="url")


def _time_left(deadline: float) -> float:
    """Seconds until the deadline, for the next operation's timeout; TimeoutError once past it."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline has passed")
    return left


def _target(parts: SplitResult) -> str:
    """The request target: path and query, with spaces, controls and non-ASCII percent-encoded."""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return quote(target, safe=_TARGET_SAFE)


def _redirect(url: str, location: str) -> str:
    # Header values arrive decoded as Latin-1; a raw non-ASCII Location is UTF-8 in practice.
    location = location.encode("latin-1").decode("utf-8", "replace")
    try:
        return urljoin(url, location)
    except ValueError as error:  # an unparsable Location, such as "http://[::1"
        raise UpstreamError(
            f"{echo(url)} redirects to an invalid url: {error}", param="url"
        ) from None


def _check_url(url: str, policy: FetchPolicy) -> SplitResult:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number 0-65535
    except ValueError as error:
        raise UrlNotAllowed(f"url is not valid: {error}", param="url") from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise UrlNotAllowed(
            f"url must use {' or '.join(schemes)}, got {echo(parts.scheme or 'none')}", param="url"
        )
    if not parts.hostname:
        raise UrlNotAllowed("url has no host", param="url")
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        raise UrlNotAllowed(
            f"url host {echo(parts.hostname)} is not a valid host name", param="url"
        ) from None
    if parts.username or parts.password:
        raise UrlNotAllowed("url must not carry credentials", param="url")
    return parts


def _resolve(host: str, port: int | None, policy: FetchPolicy, deadline: float) -> str:
    """Resolve the host; refuse unless every address it has is allowed. Return one to use."""
    try:
        infos = _lookup(host, port or 443, deadline)
    except (socket.gaierror, UnicodeError) as error:
        raise UpstreamError(f"cannot resolve host {echo(host)}: {error}", param="url") from error
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    for address in addresses:
        reason = blocked_reason(address, policy.allowed_networks)
        if reason:
            raise UrlNotAllowed(
                f"url host {echo(host)} resolves to {address}, a {reason} address", param="url"
            )
    return str(addresses[0])


def blocked_reason(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why an address must not be fetched from, or None if it is public."""
    if any(address in network for network in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_v4(address)
        if embedded is not None:
            return blocked_reason(embedded, allowed)
        if address.is_loopback or address.is_unspecified:
            return "loopback"
        if address.is_link_local or address.is_site_local or address.is_private:
            return "private or link-local"
        if address.is_multicast or address.is_reserved or not address.is_global:
            return "non-public"
        return None
    if address.is_loopback:
        return "loopback"
    if any(address in network for network in _BLOCKED_V4):
        return "private, link-local, multicast or reserved"
    return None


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    packed = address.packed
    if packed[:12] == bytes(12) and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed[12:])
    return None


def _lookup(host: str, port: int, deadline: float) -> list:
    """``socket.getaddrinfo``, waited for only until the deadline: it has no timeout of its own."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        lookup = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        return lookup.result(timeout=_time_left(deadline))
    finally:
        pool.shutdown(wait=False)  # a lookup that outlives the deadline ends by itself


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever DNS says now, within the deadline."""

    def __init__(self, host: str, address: str, port: int | None, deadline: float) -> None:
        # The port is always given: left out, http.client would read one from an IPv6 host.
        super().__init__(host, self.default_port if port is None else port)
        self._address = address
        self._deadline = deadline
        self.opened: _DeadlineSocket | None = None

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), _time_left(self._deadline))
        self.sock = self.opened = _DeadlineSocket(sock, self._deadline)  # type: ignore[assignment]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, verifying the certificate for the URL's host name."""

    def __init__(self, host: str, address: str, port: int | None, deadline: float) -> None:
        port = self.default_port if port is None else port
        super().__init__(host, port, context=ssl.create_default_context())
        self._address = address
        self._deadline = deadline
        self.opened: _DeadlineSocket | None = None

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), _time_left(self._deadline))
        try:
            raw.settimeout(_time_left(self._deadline))  # for the whole handshake
            sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]
        except BaseException:
            raw.close()
            raise
        self.sock = self.opened = _DeadlineSocket(sock, self._deadline)  # type: ignore[assignment]


def _hang_up(connection: _PinnedHTTPConnection | _PinnedHTTPSConnection) -> None:
    """Close a hop's connection and its socket now, whatever still refers to its response."""
    connection.close()
    if connection.opened is not None:
        connection.opened.hang_up()


class _DeadlineSocket:
    """A connected socket as http.client uses it, every send and receive given the time left.

    http.client needs only ``sendall``, ``makefile`` and ``close``. It reads the status line,
    the headers and the body through ``makefile``, one receive at a time, so setting the
    timeout to the time left before each receive bounds the whole response, however slowly
    its bytes arrive.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(_time_left(self._deadline))
        self._sock.sendall(data)

    def recv_into(self, buffer: Buffer) -> int:
        self._sock.settimeout(_time_left(self._deadline))
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        """Nothing yet: see ``hang_up``."""

    def hang_up(self) -> None:
        """Close the socket, once the hop is over.

        Not on ``close``: http.client closes its connection before it reads a body that runs to
        the end of the connection; and a response still referred to (by a traceback) must not
        keep the connection open once the fetch has given up.
        """
        self._sock.close()


class _DeadlineReader(io.RawIOBase):
    """The stream http.client reads a response from."""

    def __init__(self, sock: _DeadlineSocket) -> None:
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer) -> int:
        return self._sock.recv_into(buffer)


def _read_bounded(response: http.client.HTTPResponse, max_bytes: int, url: str) -> bytes:
    declared = _content_length(response, url)
    if declared is not None and declared > max_bytes:
        raise TooLarge(f"remote image is {declared} bytes; the limit is {max_bytes}", param="url")
    chunks, size = [], 0
    while chunk := response.read1(_CHUNK):  # one receive per call, each within the deadline
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"remote image is over {max_bytes} bytes", param="url")
        chunks.append(chunk)
    if declared is not None and size < declared:
        raise UpstreamError(
            f"fetching {echo(url)} failed: the body ended after {size} of {declared} bytes",
            param="url",
        )
    return b"".join(chunks)


def _content_length(response: http.client.HTTPResponse, url: str) -> int | None:
    """The declared body size, or None if there is none; anything but plain digits is refused.

    Several Content-Length fields arrive joined by commas, and are refused like any other value
    that is not one decimal number (a sign, underscores, non-ASCII digits, thousands of digits).
    """
    value = response.getheader("Content-Length")
    if value is None:
        return None
    digits = value.strip(" \t")  # optional whitespace around a field value is not part of it
    if not _CONTENT_LENGTH.fullmatch(digits):
        raise UpstreamError(
            f"fetching {echo(url)} failed: the Content-Length {echo(value)} is invalid", param="url"
        )
    return int(digits)
