"""Fetch a remote image for a `{"url": ...}` source, without becoming an SSRF proxy.

Every hop (the URL and each redirect) is resolved, and every address it resolves to must be a
public unicast address: loopback, private, link-local (cloud metadata), CGNAT, multicast,
reserved and unspecified ranges are refused, including IPv4 written inside IPv6 (mapped,
compatible, 6to4, NAT64) and the decimal/hex IPv4 spellings that resolvers accept. The connection
is then made to the address that was checked, so a second DNS answer cannot change it. Bytes and
time are bounded.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from ..errors import TooLarge, UpstreamError, UrlNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

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


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    timeout_seconds: float = 10.0  # for the whole fetch, redirects included
    max_redirects: int = 3
    allow_http: bool = False
    # Ranges exempted from the address check: for tests against a local server only.
    allowed_networks: Sequence[IPNetwork] = field(default_factory=tuple)


def fetch(url: str, policy: FetchPolicy) -> bytes:
    """The body of a successful GET of ``url``, following a few checked redirects."""
    deadline = time.monotonic() + policy.timeout_seconds
    for _ in range(policy.max_redirects + 1):
        parts = _check_url(url, policy)
        address = _resolve(parts.hostname or "", parts.port, policy)
        try:
            response, connection = _get(parts, address, deadline)
        except (OSError, http.client.HTTPException) as error:
            raise UpstreamError(f"fetching {url!r} failed: {error}", param="url") from error
        try:
            if response.status in _REDIRECTS and response.getheader("Location"):
                url = _redirect(url, response.getheader("Location", ""))
                continue
            if response.status != 200:
                raise UpstreamError(
                    f"fetching {url!r} answered HTTP {response.status}", param="url"
                )
            return _read_bounded(response, policy.max_bytes, deadline, url)
        except (OSError, http.client.HTTPException) as error:  # a timeout or a cut-off body
            raise UpstreamError(f"fetching {url!r} failed: {error}", param="url") from error
        finally:
            connection.close()
    raise UpstreamError(f"more than {policy.max_redirects} redirects from {url!r}", param="url")


def _redirect(url: str, location: str) -> str:
    try:
        return urljoin(url, location)
    except ValueError as error:  # an unparsable Location, such as "http://[::1"
        raise UpstreamError(f"{url!r} redirects to an invalid url: {error}", param="url") from None


def _check_url(url: str, policy: FetchPolicy):
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number 0-65535
    except ValueError as error:
        raise UrlNotAllowed(f"url is not valid: {error}", param="url") from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise UrlNotAllowed(
            f"url must use {' or '.join(schemes)}, got {parts.scheme or 'none'!r}", param="url"
        )
    if not parts.hostname:
        raise UrlNotAllowed("url has no host", param="url")
    if parts.username or parts.password:
        raise UrlNotAllowed("url must not carry credentials", param="url")
    return parts


def _resolve(host: str, port: int | None, policy: FetchPolicy) -> str:
    """Resolve the host; refuse unless every address it has is allowed. Return one to use."""
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UpstreamError(f"cannot resolve host {host!r}: {error}", param="url") from error
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    for address in addresses:
        reason = blocked_reason(address, policy.allowed_networks)
        if reason:
            raise UrlNotAllowed(
                f"url host {host!r} resolves to {address}, a {reason} address", param="url"
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


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever DNS says now."""

    def __init__(self, host: str, address: str, port: int | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, verifying the certificate for the URL's host name."""

    def __init__(self, host: str, address: str, port: int | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def _get(parts, address: str, deadline: float):
    remaining = max(0.1, deadline - time.monotonic())
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(parts.hostname, address, parts.port, remaining)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection.request("GET", path, headers={"User-Agent": "ProgImage/1.0", "Accept": "image/*"})
    return connection.getresponse(), connection


def _read_bounded(response, max_bytes: int, deadline: float, url: str) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"remote image is {declared} bytes; the limit is {max_bytes}", param="url")
    chunks, size = [], 0
    # read1: one receive per call, so the deadline is checked however slowly the bytes come.
    while chunk := response.read1(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"remote image is over {max_bytes} bytes", param="url")
        if time.monotonic() > deadline:
            raise UpstreamError(f"fetching {url!r} took too long", param="url")
        chunks.append(chunk)
    if declared and declared.isdigit() and size < int(declared):
        raise UpstreamError(
            f"fetching {url!r} failed: the body ended after {size} of {declared} bytes",
            param="url",
        )
    return b"".join(chunks)
