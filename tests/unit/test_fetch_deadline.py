"""The remote fetcher against a raw server on loopback: one deadline for the whole fetch, and
every number or URL a response carries either taken or refused as a ProgImageError.

No test measures time. A slow server paces itself by waiting for the client to hang up, and
records what it managed to send: far fewer bytes than it would send in all proves the client
gave up early. Every wait of the server is bounded, so a client that never gave up still ends.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from progimage_service.adapters import fetch as fetch_module
from progimage_service.adapters.fetch import FetchPolicy, fetch
from progimage_service.errors import ProgImageError, TooLarge, UpstreamError
from tests.images import encode

LOOPBACK = (ip_network("127.0.0.0/8"),)
IMAGE = encode(Image.new("RGB", (32, 16), (200, 30, 90)), "PNG")
TIMEOUT = 0.5  # seconds: the fetch deadline of the slow-server tests
PACE = 0.1  # seconds between the bytes a slow server trickles: 200 bytes take 20 s
PATIENCE = 20  # seconds a server waits for the client at most: its own bound, never asserted
SLOW = FetchPolicy(
    max_bytes=4096, timeout_seconds=TIMEOUT, allow_http=True, allowed_networks=LOOPBACK
)
LIMIT = 1000
SMALL = FetchPolicy(max_bytes=LIMIT, timeout_seconds=10, allow_http=True, allowed_networks=LOOPBACK)

# One answer to a connection: it gets the socket once the request head has been read.
Answer = Callable[[socket.socket, bytes], None]


class Upstream:
    """A raw HTTP server on 127.0.0.1: each connection's request head is read, then the current
    ``answer`` writes whatever it likes, and the connection is closed."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._serve, daemon=True)]
        self._threads[0].start()

    def url(self, path: str = "/image.png", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def finish(self) -> None:
        """Stop accepting, and wait until every connection accepted has been answered.

        A client that gave up before it was accepted is never answered: what it left in the
        queue of the listener is dropped with it.
        """
        with contextlib.suppress(OSError):  # finished already
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept below
        self._listener.close()
        for thread in self._threads:
            thread.join()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # finished
                return
            thread = threading.Thread(target=self._handle, args=(conn, self.answer), daemon=True)
            self._threads.append(thread)
            thread.start()

    @staticmethod
    def _handle(conn: socket.socket, answer: Answer) -> None:
        with conn:
            conn.settimeout(PATIENCE)
            with contextlib.suppress(OSError):  # the client hung up in the middle
                answer(conn, _read_head(conn))


def _read_head(conn: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head and (data := conn.recv(4096)):
        head += data
    return head


def hung_up(conn: socket.socket, wait: float) -> bool:
    """Whether the client closes the connection within ``wait`` (dropping what it sends)."""
    conn.settimeout(wait)
    try:
        while conn.recv(4096):
            pass
    except TimeoutError:
        return False
    except OSError:  # reset
        return True
    return True


def trickle(conn: socket.socket, data: bytes) -> int:
    """Send ``data`` a byte every PACE seconds until all is sent or the client hangs up.

    Returns how many bytes were sent. The wait between bytes is the wait for the hang-up.
    """
    for sent in range(len(data)):
        if hung_up(conn, PACE):
            return sent
        try:
            conn.sendall(data[sent : sent + 1])
        except OSError:
            return sent
    return len(data)


def chunked(body: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(body), body)


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], Upstream]]:
    """A new server for each test: a client that gave up early cannot reach another test."""
    servers: list[Upstream] = []

    def start(answer: Answer) -> Upstream:
        servers.append(Upstream(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.finish()


def upstream_error(url: str, policy: FetchPolicy = SLOW) -> UpstreamError:
    with pytest.raises(UpstreamError) as raised:
        fetch(url, policy)
    assert raised.value.status == 502
    assert raised.value.code == "upstream_error"
    assert raised.value.param == "url"
    return raised.value


def over_time(url: str, policy: FetchPolicy = SLOW) -> UpstreamError:
    error = upstream_error(url, policy)
    assert f"took longer than the {policy.timeout_seconds:g} s limit" in error.message
    return error


def timed_out(url: str, policy: FetchPolicy = SLOW) -> UpstreamError:
    error = over_time(url, policy)
    assert isinstance(error.__cause__, TimeoutError), repr(error.__cause__)
    return error


# --- the deadline ------------------------------------------------------------------------------

OK = b"HTTP/1.1 200 OK\r\n"
Serve = Callable[[Answer], Upstream]


@pytest.mark.parametrize(
    ("before", "trickled"),
    [
        pytest.param(b"", b"HTTP/1.1 200 " + b"O" * 185 + b"\r\n", id="status line"),
        pytest.param(OK, b"X-Slow: " + b"a" * 190 + b"\r\n", id="headers"),
        pytest.param(OK + b"Content-Length: 200\r\n\r\n", b"x" * 200, id="body"),
        pytest.param(
            OK + b"Transfer-Encoding: chunked\r\n\r\nc8\r\n", b"x" * 200, id="chunked body"
        ),
        pytest.param(OK + b"Connection: close\r\n\r\n", b"x" * 200, id="body until closed"),
    ],
)
def test_a_trickling_server_is_given_up_on_at_the_deadline(
    serve: Serve, before: bytes, trickled: bytes
) -> None:
    """Each byte comes well within any timeout of one receive; all of them never would."""
    sent: list[int] = []

    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(before)
        sent.append(trickle(conn, trickled))

    upstream = serve(answer)
    over_time(upstream.url())
    upstream.finish()
    assert sum(sent) < len(trickled) // 4


# Bodies that stop before their end (over plain HTTP here, over TLS below).
UNENDED_BODIES = [
    pytest.param(OK + b"Content-Length: %d\r\n\r\n" % len(IMAGE) + IMAGE[:-1], id="last byte"),
    pytest.param(
        OK + b"Content-Length: %d\r\n\r\n" % len(IMAGE) + IMAGE[: len(IMAGE) // 2],
        id="mid-body",
    ),
    pytest.param(
        OK + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(IMAGE) + b"0\r\n", id="trailers"
    ),
    pytest.param(OK + b"Connection: close\r\n\r\n" + IMAGE, id="body, never closed"),
]


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(b"", id="nothing"),
        pytest.param(OK + b"Content-Type: image/png\r\n", id="headers never ended"),
        pytest.param(OK + b"Content-Length: 1000\r\n\r\n" + b"x" * 10, id="short of its length"),
        pytest.param(
            OK + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(IMAGE), id="no last chunk"
        ),
        *UNENDED_BODIES,
    ],
)
def test_a_response_that_never_ends_is_given_up_on_at_the_deadline(
    serve: Serve, response: bytes
) -> None:
    client_hung_up: list[bool] = []

    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(response)
        client_hung_up.append(hung_up(conn, PATIENCE))

    upstream = serve(answer)
    timed_out(upstream.url())
    upstream.finish()
    assert client_hung_up == [True]


def test_a_complete_body_is_returned_without_waiting_for_the_connection_to_close(
    serve: Serve,
) -> None:
    client_hung_up: list[bool] = []

    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(OK + b"Content-Length: %d\r\n\r\n" % len(IMAGE) + IMAGE)
        client_hung_up.append(hung_up(conn, PATIENCE))

    upstream = serve(answer)
    # Waiting for the end of the connection would be this fetch's timeout error.
    assert fetch(upstream.url(), SMALL) == IMAGE
    upstream.finish()
    assert client_hung_up == [True]


def test_the_deadline_covers_all_the_redirects_together(serve: Serve) -> None:
    """Every hop is quick alone; a hundred of them together are not."""
    hops: list[bytes] = []

    def answer(conn: socket.socket, head: bytes) -> None:
        hops.append(head)
        conn.sendall(b"HTTP/1.1 302 Found\r\n")
        if not hung_up(conn, PACE / 2):
            conn.sendall(b"Location: /again\r\nContent-Length: 0\r\n\r\n")

    upstream = serve(answer)
    many = FetchPolicy(
        max_bytes=4096,
        timeout_seconds=TIMEOUT,
        max_redirects=100,
        allow_http=True,
        allowed_networks=LOOPBACK,
    )
    over_time(upstream.url(), many)
    upstream.finish()
    assert len(hops) < 50


def test_a_stalled_tls_handshake_is_given_up_on_at_the_deadline(serve: Serve) -> None:
    client_hung_up: list[bool] = []
    upstream = serve(lambda conn, head: client_hung_up.append(hung_up(conn, PATIENCE)))
    policy = FetchPolicy(max_bytes=4096, timeout_seconds=TIMEOUT, allowed_networks=LOOPBACK)
    over_time(upstream.url(scheme="https"), policy)
    upstream.finish()
    assert all(client_hung_up)


def test_a_name_lookup_is_waited_for_only_until_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release, answered = threading.Event(), threading.Event()

    def resolve(host, port, *args, **kwargs):
        release.wait(PATIENCE)
        answered.set()
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", resolve)
    try:
        over_time("http://images.example.test/image.png")
        assert not answered.is_set()  # the fetch gave up while the lookup was still going
    finally:
        release.set()


# --- the end of the body ----------------------------------------------------------------------
#
# A fetch is done only once its body has ended: at its declared length, its last chunk, or the
# end of the connection. A server that sends the headers and then stalls before that end, over
# plain HTTP or TLS, is given up on at the deadline with the fetch's own timeout error.


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class TlsUpstream(Upstream):
    """The same server behind TLS: the answer reads and writes the decrypted stream."""

    def __init__(self, answer: Answer, context: ssl.SSLContext) -> None:
        self.context = context  # before the server starts accepting
        super().__init__(answer)

    def _handle(self, conn: socket.socket, answer: Answer) -> None:  # type: ignore[override]
        with conn:
            conn.settimeout(PATIENCE)
            with contextlib.suppress(OSError):  # the client hung up in the middle
                tls = self.context.wrap_socket(conn, server_side=True)
                answer(tls, _read_head(tls))


@pytest.fixture
def serve_tls(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Answer], Upstream]]:
    """Like ``serve``, over TLS, with the fetcher trusting the test certificate only."""
    cert_file, key_file = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    trusting = ssl.create_default_context

    monkeypatch.setattr(
        fetch_module.ssl, "create_default_context", lambda: trusting(cafile=str(cert_file))
    )
    servers: list[Upstream] = []

    def start(answer: Answer) -> Upstream:
        servers.append(TlsUpstream(answer, server_context))
        return servers[-1]

    yield start
    for server in servers:
        server.finish()


TLS_SLOW = FetchPolicy(max_bytes=4096, timeout_seconds=TIMEOUT, allowed_networks=LOOPBACK)


def test_a_complete_body_over_tls_is_returned(serve_tls: Serve) -> None:
    """The TLS server works: the stalled ones below fail for their stall alone."""
    upstream = serve_tls(respond(OK + b"Content-Length: %d\r\n\r\n" % len(IMAGE) + IMAGE))
    policy = FetchPolicy(max_bytes=LIMIT, timeout_seconds=10, allowed_networks=LOOPBACK)
    assert fetch(upstream.url(scheme="https"), policy) == IMAGE


@pytest.mark.parametrize("response", UNENDED_BODIES)
def test_a_body_stalled_before_its_end_over_tls_is_given_up_on_at_the_deadline(
    serve_tls: Serve, response: bytes
) -> None:
    client_hung_up: list[bool] = []

    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(response)
        client_hung_up.append(hung_up(conn, PATIENCE))

    upstream = serve_tls(answer)
    timed_out(upstream.url(scheme="https"), TLS_SLOW)
    upstream.finish()
    assert client_hung_up == [True]


def test_a_body_trickled_over_tls_is_given_up_on_at_the_deadline(serve_tls: Serve) -> None:
    """Each byte its own TLS record, each well within any timeout of one receive."""
    sent: list[int] = []
    body = b"x" * 200

    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(OK + b"Content-Length: %d\r\n\r\n" % len(body))
        sent.append(trickle(conn, body))

    upstream = serve_tls(answer)
    timed_out(upstream.url(scheme="https"), TLS_SLOW)
    upstream.finish()
    assert sum(sent) < len(body) // 4


# --- numbers and URLs from the response ------------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    """One server for every example of a property: each test sets its ``answer``."""
    server = Upstream(lambda conn, head: None)
    yield server
    server.finish()


def respond(response: bytes) -> Answer:
    return lambda conn, head: conn.sendall(response)


def with_length(value: str, body: bytes = b"") -> bytes:
    return OK + b"Content-Length: " + value.encode() + b"\r\n\r\n" + body


def plain_length(value: str) -> bool:
    """A Content-Length HTTP allows: decimal digits, with optional blanks around the value."""
    return re.fullmatch(r"[ \t]*[0-9]{1,20}[ \t]*", value) is not None


# Text a header field may hold: a line break would end it.
header_text = st.characters(codec="utf-8", exclude_characters="\r\n")


@settings(max_examples=150, deadline=None)
@given(
    value=st.one_of(
        st.text(header_text, max_size=30),
        st.text("0123456789 \t+-_,.eEx", max_size=30),
        st.integers(21, 5000).map(lambda digits: "7" * digits),
    ).filter(lambda value: not plain_length(value))
)
@example(value="+5")
@example(value="-5")
@example(value="1_000")
@example(value="١٢٣")
@example(value="²")
@example(value="5, 5")
@example(value="0x10")
@example(value="")
@example(value="1" * 5000)
def test_a_content_length_that_is_not_a_plain_number_is_a_502(
    upstream: Upstream, value: str
) -> None:
    upstream.answer = respond(with_length(value, b"x" * 5))
    assert "Content-Length" in upstream_error(upstream.url(), SMALL).message


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, LIMIT),
    zeros=st.integers(0, 16),
    blanks=st.tuples(st.sampled_from(["", " ", "\t "]), st.sampled_from(["", " ", " \t"])),
)
def test_a_plain_content_length_within_the_limit_is_read(
    upstream: Upstream, size: int, zeros: int, blanks: tuple[str, str]
) -> None:
    body = bytes(range(256)) * 4
    value = blanks[0] + "0" * zeros + str(size) + blanks[1]
    upstream.answer = respond(with_length(value, body[:size]))
    assert fetch(upstream.url(), SMALL) == body[:size]


@settings(max_examples=40, deadline=None)
@given(size=st.integers(LIMIT + 1, 10**20 - 1))
def test_a_plain_content_length_over_the_limit_is_refused_before_the_body(
    upstream: Upstream, size: int
) -> None:
    upstream.answer = respond(with_length(str(size)))  # no body: reading one would be a 502
    with pytest.raises(TooLarge) as raised:
        fetch(upstream.url(), SMALL)
    assert raised.value.status == 413


def test_two_content_length_fields_are_a_502(upstream: Upstream) -> None:
    upstream.answer = respond(OK + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nxxxxx")
    assert "Content-Length" in upstream_error(upstream.url(), SMALL).message


@settings(max_examples=100, deadline=None)
@given(size=st.binary(max_size=30).filter(lambda line: not {13, 10} & set(line)))
@example(size=b"-5")
@example(size=b"f" * 5000)
@example(size=b"\xd9\xa1")
def test_any_chunk_size_ends_in_a_body_or_a_502(upstream: Upstream, size: bytes) -> None:
    after = b"xxxxx\r\n0\r\n\r\n"
    upstream.answer = respond(OK + b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\n" + after)
    try:
        body = fetch(upstream.url(), SMALL)
    except ProgImageError as error:
        assert error.status == 502, error
    else:
        assert after.startswith(body)  # read as far as the size said, and no further


# Text a Location may hold after its leading "/": a tab is dropped from URLs wherever it is, so
# "/\t/host" would name another host, and a second "/" would as well.
location_text = st.characters(codec="utf-8", exclude_characters="\r\n\t")


@settings(max_examples=100, deadline=None)
@given(path=st.text(location_text, max_size=40).filter(lambda path: not path.startswith("/")))
@example(path="é.png")
@example(path="a b/c d.png?q=ü&r=\x00")
@example(path='%zz<>"{}|\\^`')
def test_a_relative_redirect_to_any_path_is_followed_with_a_clean_request(
    upstream: Upstream, path: str
) -> None:
    requests: list[bytes] = []

    def answer(conn: socket.socket, head: bytes) -> None:
        requests.append(head.split(b"\r\n", 1)[0])
        if len(requests) == 1:
            location = b"/" + path.encode()  # sent raw, as UTF-8, as servers do
            conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\n\r\n")
        else:
            conn.sendall(OK + b"Content-Length: %d\r\n\r\n" % len(IMAGE) + IMAGE)

    upstream.answer = answer
    assert fetch(upstream.url("/start"), SMALL) == IMAGE
    assert len(requests) == 2
    assert re.fullmatch(rb"GET /[\x21-\x7e]* HTTP/1.1", requests[1]), requests[1]


def test_a_raw_utf8_location_is_followed_to_the_same_path(upstream: Upstream) -> None:
    requests: list[bytes] = []

    def answer(conn: socket.socket, head: bytes) -> None:
        requests.append(head.split(b"\r\n", 1)[0])
        if len(requests) == 1:
            conn.sendall(b"HTTP/1.1 301 Moved\r\nLocation: /caf\xc3\xa9.png\r\n\r\n")
        else:
            conn.sendall(OK + b"Content-Length: %d\r\n\r\n" % len(IMAGE) + IMAGE)

    upstream.answer = answer
    assert fetch(upstream.url("/start"), SMALL) == IMAGE
    assert requests[1] == b"GET /caf%C3%A9.png HTTP/1.1"
