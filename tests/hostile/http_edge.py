"""Hypothesis strategies for the HTTP edge: whole API Gateway (payload 2.0) requests.

A `Request` is what a client controls (path parameters, query string, headers, body) for one
route; `Request.event` turns it into the event API Gateway would deliver, the event envelope
itself always well formed (valid base64 when binary, the authorizer's tenant). The values lean
towards the edges where parsers differ from what an API means: unicode and overlong digit
strings, huge and non-finite JSON numbers, deep nesting, lone surrogates, invalid base64,
malformed and enormous multipart bodies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from progimage_service.imaging.formats import EXTENSIONS

from .pipelines import as_json_objects, as_url, extensions, pipeline_specs

TENANT = "alpha"
SIGNING_KEY = "somekey"  # the master key, as PROGIMAGE_SIGNING_KEYS
MASTER = "(master)"  # Request.sign: signed with the master key itself (not a tenant's key)

# The query parameters the API reads, and the headers it looks at.
QUERY_NAMES = ("limit", "cursor", "sig", "exp", "tenant", "ops", "format", "store")
HEADER_NAMES = ("content-type", "idempotency-key", "if-none-match", "authorization")

# --- text ---------------------------------------------------------------------------------------

# Characters that str.isdigit() or int() treat as digits although they are not ASCII ones.
UNICODE_DIGITS = "²³¹⁰⁴⁹₀₉١٢٣٠۱۲߀०१৩๓０９𝟎𝟗①⑨"
# Edge values of the integers the API reads (limits, cursors, unix times, counts).
EDGE_INTEGERS = (
    "0",
    "1",
    "-1",
    "-0",
    "00",
    "01",
    "+1",
    " 1",
    "1 ",
    "1_0",
    "1.0",
    "1e3",
    "0x10",
    "50",
    "99",
    "100",
    "101",
    "1000",
    "1001",
    "9999",
    "10000",
    "10001",
    str(2**31),
    str(2**63 - 1),
    str(2**63),
    str(2**64),
    "9" * 18,
    "9" * 19,
    "1" + "0" * 30,
    "4102444800",  # 2100-01-01
)


@cache
def pick(*values: Any) -> st.SearchStrategy[Any]:
    """``sampled_from``, made once per set of values (strategies drawn inside others)."""
    return st.sampled_from(values)


TENTHS = st.integers(0, 9)  # draw(TENTHS) < 3: three times in ten, or a little more
PERCENT = st.integers(0, 99)  # uniform, unlike the choice of a branch by one_of


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, chosen with these weights (in percent). ``one_of`` does not weigh
    its branches, and soon avoids a finite one (``just``, a short ``sampled_from``) whose
    values it has tried: the edge values would then be drawn far less than meant."""
    assert sum(weight for weight, _ in choices) == 100

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        roll = draw(PERCENT)
        for weight, strategy in choices:
            if roll < weight:
                return draw(strategy)
            roll -= weight
        raise AssertionError(roll)

    return build()


@cache
def surrogates() -> st.SearchStrategy[str]:
    """Lone surrogates: JSON can carry them as escapes, and the Lambda runtime decodes those."""
    return st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)


@cache
def any_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any text, now and then with lone surrogates or control characters mixed in."""
    plain = st.text(max_size=max_size)
    mixed = st.lists(
        plain | surrogates() | st.sampled_from(["\x00", "\r\n", "\ufeff", "%", "%2F", "\\", '"']),
        max_size=4,
    ).map("".join)
    return weighted((60, plain), (40, mixed))


@cache
def repeated(pieces: st.SearchStrategy[str], low: int, high: int) -> st.SearchStrategy[str]:
    """A piece repeated many times: long values without drawing every character."""
    return st.builds(lambda piece, n: piece * n, pieces, st.integers(low, high))


def _digits(lengths: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    digits = st.sampled_from("0123456789") | st.text("0123456789", min_size=2, max_size=5)
    return st.builds(
        lambda sign, digit, n: sign + (digit * n)[:n],
        st.sampled_from(["", "", "-", "+"]),
        digits,
        lengths,
    )


@cache
def long_digit_strings() -> st.SearchStrategy[str]:
    """Tens to thousands of digits: more than 64 bits hold, up to what int() takes."""
    return _digits(st.sampled_from([19, 20, 31, 4300]) | st.integers(19, 4300))


@cache
def huge_digit_strings() -> st.SearchStrategy[str]:
    """More digits than int() takes (4,300), up to 20,000."""
    return _digits(st.sampled_from([4301, 5000, 20_000]) | st.integers(4301, 20_000))


@cache
def unicode_digit_strings() -> st.SearchStrategy[str]:
    """Digits that are not ASCII, alone or mixed with ASCII ones."""
    odd = st.sampled_from(UNICODE_DIGITS) | st.characters(categories=["Nd", "No"])
    return st.lists(odd | st.sampled_from("0123456789"), min_size=1, max_size=8).map("".join)


@cache
def digit_strings() -> st.SearchStrategy[str]:
    """Integers as text: edge values, unicode digits, tens to tens of thousands of digits."""
    return weighted(
        (15, st.sampled_from(EDGE_INTEGERS)),
        (10, st.integers(-(10**20), 10**20).map(str)),
        (30, unicode_digit_strings()),
        (15, long_digit_strings()),
        (30, huge_digit_strings()),
    )


@cache
def query_values() -> st.SearchStrategy[str]:
    return weighted(
        (30, digit_strings()),
        (35, any_text()),
        (5, st.just("")),
        (15, st.text("ABCDEFabcdef0123456789-_=+/", min_size=0, max_size=60)),  # signature-like
        (15, repeated(st.sampled_from(["a", "é", "%", "😀", ","]), 256, 20_000)),
    )


# --- ids and pipelines --------------------------------------------------------------------------

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@cache
def id_like() -> st.SearchStrategy[str]:
    """Strings that are, or almost are, ids: 25 base62 characters, give or take."""
    return st.one_of(
        st.text(BASE62, min_size=25, max_size=25),
        st.text(BASE62, min_size=0, max_size=30),
        st.text(BASE62 + ".-_~!*'()", min_size=24, max_size=26),
    )


@cache
def image_ids(stored: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Stored ids most of the time, else ids that name nothing and text that is no id."""
    known = st.sampled_from(stored)
    odd = st.sampled_from(["+", " ", "\x00", "%00", "/.."]) | surrogates()
    return weighted(
        (50, known),
        (20, id_like()),
        (15, any_text()),
        (5, repeated(st.sampled_from(["a", "0", "é", "."]), 26, 5000)),
        (10, st.tuples(known, odd).map("".join)),
    )


@cache
def with_extension(ids: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """An id with an extension (a conversion) now and then, valid or not."""
    ext = st.sampled_from(sorted(EXTENSIONS)) | st.sampled_from(["", "JPG", "svg", "html"])
    ext |= any_text(12)
    return st.one_of(
        ids,
        st.builds(lambda i, e: f"{i}.{e}", ids, ext),
        st.builds(lambda i, e: f"{i}.{e}.{e}", ids, ext),
    )


@cache
def pipeline_paths() -> st.SearchStrategy[str]:
    """The {pipeline+} path parameter: valid specs, broken ones, and odd characters."""
    specs = st.builds(lambda g, ext: as_url(g[0], ext), pipeline_specs(max_ops=4), extensions())
    return weighted(
        (40, specs),
        (15, any_text()),
        (10, st.text(":/.-+#0123456789aefinrsxz", max_size=30)),
        (
            15,
            st.builds(
                lambda op, n: f"{op}:{n}",
                st.sampled_from(["thumbnail", "resize", "blur", "quality", "maxbytes", "rotate"]),
                digit_strings(),
            ),
        ),
        (10, repeated(st.sampled_from(["/", "grayscale/", ".", ":", "thumbnail:64/"]), 10, 5000)),
        (10, st.tuples(specs, surrogates() | st.sampled_from(["\x00", "é", "/"])).map("".join)),
    )


# --- JSON ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A JSON token written as it is (numbers Python would not print, nesting built as text)."""

    text: str

    def __repr__(self) -> str:
        return f"Raw({short(self.text)})"


@cache
def raw_numbers() -> st.SearchStrategy[Raw]:
    fixed = st.sampled_from(
        [
            "1e999",
            "-1e999",
            "1E400",
            "1e-400",
            "NaN",
            "Infinity",
            "-Infinity",
            "-0",
            "0e99999999999",
            "1e" + "9" * 5000,
            "1." + "0" * 5000 + "1",
            "123456789012345678901234567890",
            "1234567890123456789012345678901",
        ]
    )
    huge = (long_digit_strings() | huge_digit_strings()).map(lambda s: s.removeprefix("+"))
    return (fixed | huge).map(Raw)


@cache
def nested() -> st.SearchStrategy[Raw]:
    """Arrays or objects nested N deep, written as text: N up to 100,000."""
    # CPython's json gives up (RecursionError) from about 10,000 levels; the API much earlier.
    depth = weighted(
        (25, st.sampled_from([31, 32, 33, 64, 1000, 9_999, 10_000, 100_000])),
        (15, st.integers(1, 1000)),
        (20, st.integers(1000, 10_000)),
        (40, st.integers(10_000, 100_000)),
    )
    shapes = st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"source":', "}"), ('[{"x":', "}]")])
    return st.builds(lambda d, s: Raw(s[0] * d + "0" + s[1] * d), depth, shapes)


@cache
def numbers() -> st.SearchStrategy[Any]:
    """Numbers of every kind: Python's, non-finite floats, and raw tokens of any length."""
    return st.one_of(
        st.integers(),
        st.floats(),  # NaN and infinities are written as NaN, Infinity, -Infinity
        raw_numbers(),
        raw_numbers(),
    )


@cache
def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), any_text(), numbers(), numbers())


@cache
def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """Any JSON value, with huge and non-finite numbers, deep nesting and odd strings."""
    keys = st.sampled_from(["source", "ops", "format", "store", "items", "id", "data", "url"])
    keys |= any_text(10)
    tree = st.recursive(
        json_scalars(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=max_leaves,
    )
    return weighted((75, tree), (25, nested()))


def dump(value: Any, ascii_only: bool = True) -> str:
    """JSON text of a value that may hold Raw tokens and non-finite floats."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=ascii_only)
    if isinstance(value, dict):
        items = (f"{dump(str(k), ascii_only)}:{dump(v, ascii_only)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dump(v, ascii_only) for v in value) + "]"
    raise TypeError(type(value))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@cache
def base64_fields(images: tuple[bytes, ...]) -> st.SearchStrategy[Any]:
    """The ``data`` of a source: valid base64 of an image or of junk, and invalid base64."""
    junk = st.binary(max_size=64)
    return st.one_of(
        st.sampled_from(images).map(_b64),
        junk.map(_b64),
        junk.map(lambda b: base64.urlsafe_b64encode(b).decode()),
        junk.map(lambda b: _b64(b).rstrip("=")),
        junk.map(lambda b: _b64(b) + "="),
        st.sampled_from(images).map(lambda b: _b64(b)[: len(_b64(b)) // 2 + 1]),
        st.builds(lambda b, c: _b64(b) + c, junk, st.sampled_from(["\n", " ", "*", "é", "\x00"])),
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=40),
        any_text(),
        json_scalars(),
    )


# Remote sources: none may be fetched (the test resolves every name to a private address).
URLS = (
    "https://example.com/a.jpg",
    "http://example.com/a.jpg",
    "file:///etc/passwd",
    "ftp://example.com/a.jpg",
    "https://127.0.0.1/a.png",
    "https://[::1]/a.png",
    "https://169.254.169.254/latest/meta-data/",
    "https://user:pass@example.com/a.jpg",
    "https://example.com:99999/a.jpg",
    "https://example.com:-1/",
    "https://[::1/",
    "https://",
    "https:///a.jpg",
    "//example.com/a.jpg",
    "https://exa\x00mple.com/",
    "https://\ud800.example/",
    "https://" + "a" * 64 + ".com/",
    "https://" + "é" * 300 + "/",
    "https://a..b/",
    "https://0x7f.1/",
    "https://2130706433/",
)


@cache
def host_names() -> st.SearchStrategy[str]:
    """Host names a resolver may refuse before any lookup: empty or overlong labels, characters
    IDNA cannot encode, or encodes to over 63 bytes."""
    labels = weighted(
        (25, st.text(BASE62 + "-", min_size=1, max_size=70)),
        (25, any_text(20)),
        (25, repeated(pick("a", "é", "😀", "-", "."), 1, 300)),
        (25, st.sampled_from(["", ".", "..", "xn--", "xn--a", "-a", "ß", "\u200d", "\x80", "%41"])),
    )
    return st.lists(labels, min_size=1, max_size=4).map(".".join)


@cache
def urls() -> st.SearchStrategy[Any]:
    hosts = st.builds(
        lambda scheme, host, port, path: f"{scheme}://{host}{port}/{path}",
        pick("https", "https", "http", "HTTPS", "file", ""),
        host_names(),
        pick("", "", ":443", ":0", ":99999", ":-1", ":x", ":" + "1" * 30),
        any_text(10),
    )
    return weighted(
        (30, st.sampled_from(URLS)),
        (50, hosts),
        (10, st.builds(lambda t: "https://" + t, any_text(30))),
        (10, any_text()),
    )


@cache
def sources(stored: tuple[str, ...], images: tuple[bytes, ...]) -> st.SearchStrategy[Any]:
    """``{"id"}``, ``{"data"}`` or ``{"url"}`` with any value, two of them, or any JSON."""
    one = weighted(
        (35, st.builds(lambda i: {"id": i}, image_ids(stored))),
        (30, st.builds(lambda d: {"data": d}, base64_fields(images))),
        (35, st.builds(lambda u: {"url": u}, urls())),
    )
    return weighted(
        (80, one),
        (5, st.builds(lambda a, b: a | b, one, one)),  # two kinds at once
        (5, st.builds(lambda i: {"id": i}, json_values(4))),
        (10, json_values(6)),
    )


@cache
def ops_values() -> st.SearchStrategy[Any]:
    specs = pipeline_specs(max_ops=4).map(lambda g: g[0])
    return st.one_of(
        specs.map(lambda s: "/".join(x.text for x in s)),
        specs.map(lambda s: [x.text for x in s]),
        specs.map(as_json_objects),
        st.builds(lambda n: {"op": "thumbnail", "width": n}, raw_numbers() | json_scalars()),
        st.builds(lambda n: [{"op": "blur", "sigma": n}], raw_numbers() | json_scalars()),
        json_values(6),
    )


@cache
def formats() -> st.SearchStrategy[Any]:
    return (
        st.sampled_from(sorted(EXTENSIONS)) | st.sampled_from(["JPEG", "svg", ""]) | json_scalars()
    )


@cache
def flags() -> st.SearchStrategy[Any]:
    return st.booleans() | st.sampled_from(["true", "1", 1, 0]) | json_scalars()


def objects(
    fields: dict[str, st.SearchStrategy[Any]], required: tuple[str, ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """An object with some of the fields (the required ones mostly), and now and then an extra."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, values in fields.items():
            keep = draw(TENTHS) < (9 if name in required else 6)
            if keep:
                result[name] = draw(values)
        if draw(TENTHS) == 0:
            result[draw(any_text(10))] = draw(json_values(4))
        return result

    return build()


@cache
def transform_items(stored: tuple[str, ...], images: tuple[bytes, ...]) -> st.SearchStrategy[Any]:
    return objects(
        {
            "source": sources(stored, images),
            "ops": ops_values(),
            "format": formats(),
            "store": flags(),
        },
        required=("source",),
    )


@cache
def item_lists(
    stored: tuple[str, ...], images: tuple[bytes, ...], limit: int
) -> st.SearchStrategy[Any]:
    """Lists of items: a few real ones, or many cheap ones around the limit. (A job of many
    items is not drawn: its queue messages take seconds to send, and its items are the same.)"""
    few = st.lists(transform_items(stored, images) | json_values(4), min_size=0, max_size=4)
    cheap = {"source": {"id": "x"}}  # refused before any work: not an id
    sizes = (0, limit + 1, 2 * limit) if limit > 100 else (0, limit, limit + 1)
    many = st.sampled_from(sizes).map(lambda n: [cheap] * n)
    return weighted((60, few), (15, many), (25, json_values(6)))


@cache
def json_bodies(
    route: str, stored: tuple[str, ...], images: tuple[bytes, ...]
) -> st.SearchStrategy[Any]:
    """A JSON body for a route: its own shape with arbitrary values, or any JSON at all."""
    match route:
        case "POST /images":
            shaped = weighted(
                (35, st.builds(lambda d: {"data": d}, base64_fields(images))),
                (45, st.builds(lambda u: {"url": u}, urls())),
                (20, sources(stored, images)),
            )
        case "POST /uploads":
            shaped = objects(
                {
                    "count": st.sampled_from([0, 1, 2, 100, 101, True, 1.0, "1"])
                    | raw_numbers()
                    | json_scalars(),
                    "content_type": st.sampled_from(["image/jpeg", "image/png", "text/html", ""])
                    | json_scalars(),
                }
            )
        case "POST /transform":
            shaped = transform_items(stored, images)
        case "POST /batch":
            shaped = st.builds(lambda i: {"items": i}, item_lists(stored, images, 100))
        case "POST /jobs":
            shaped = st.builds(lambda i: {"items": i}, item_lists(stored, images, 10_000))
        case _:
            raise AssertionError(route)
    return weighted((80, shaped), (20, json_values()))


# --- multipart ----------------------------------------------------------------------------------


@cache
def boundaries() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["b", "progimage-boundary", "----WebKitFormBoundary7MA4YWxkTrZu0gW"]),
        st.text("abcdefghijklmnopqrstuvwxyz0123456789'()+_,-./:=? ", min_size=1, max_size=70),
        any_text(20).filter(bool),
        repeated(st.sampled_from(["x", "-", "é"]), 71, 5000),
    )


@cache
def disposition() -> st.SearchStrategy[str | None]:
    name = st.sampled_from(['name="file"', "name=file", 'name="other"', 'NAME="file"', ""])
    name |= any_text(20).map(lambda t: f"name={json.dumps(t)}")
    filename = st.sampled_from(
        ['filename="a.jpg"', 'filename=""', "filename*=UTF-8''%C3%A9.png", ""]
    )
    filename |= any_text(30).map(lambda t: f'filename="{t}"')
    return st.one_of(
        st.builds(lambda n, f: "; ".join(p for p in ("form-data", n, f) if p), name, filename),
        st.none(),
        any_text(),
    )


@cache
def multipart_parts(images: tuple[bytes, ...]) -> st.SearchStrategy[bytes]:
    """One part: headers (the disposition in its forms, others, huge ones) and content."""
    contents = st.one_of(st.sampled_from(images), st.binary(max_size=40), st.just(b""))

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        lines: list[str] = []
        value = draw(disposition())
        if value is not None:
            lines.append(f"Content-Disposition: {value}")
        if draw(st.booleans()):
            lines.append("Content-Type: " + draw(pick("image/png", "text/plain", "")))
        lines += [f"X-H{n}: v" for n in range(draw(pick(0, 0, 0, 1, 9, 20)))]
        if draw(TENTHS) == 0:
            lines.append("X-Big: " + "h" * draw(pick(4000, 5000, 100_000)))
        if draw(TENTHS) == 0:
            lines.append(draw(any_text(40)))  # not a header at all
        newline = b"\r\n" if draw(TENTHS) else b"\n"
        head = newline.join(h.encode("utf-8", "surrogatepass") for h in lines)
        return head + newline + newline + draw(contents)

    return build()


# Many parts: all alike and cheap (files that are not images), around the parser's limits.
MANY_PARTS = (100, 101, 127, 128, 129, 1000, 3000)
_CHEAP_PART = b'Content-Disposition: form-data; name="file"; filename="x"\r\n\r\nx'


@cache
def multipart_bodies(images: tuple[bytes, ...]) -> st.SearchStrategy[tuple[str, bytes]]:
    """A multipart/form-data body and the Content-Type that announces it, often malformed."""
    counts = pick(0, 1, 1, 2, 3) | pick(*MANY_PARTS)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, bytes]:
        boundary = draw(boundaries())
        announced = draw(pick("same", "same", "same", "quoted", "other", "none"))
        if announced == "quoted":
            param = f"boundary={json.dumps(boundary)}"
        elif announced == "other":
            param = f"boundary={draw(boundaries())}"
        elif announced == "none":
            param = draw(pick("", "boundary=", "charset=utf-8", "boundary"))
        else:
            param = f"boundary={boundary}"
        kind = draw(pick("multipart/form-data", "multipart/form-data", "Multipart/Form-Data"))
        content_type = f"{kind}; {param}" if param else kind
        if draw(TENTHS) == 0:
            content_type += "; " + draw(pick("boundary=x", "charset=é", "a", ";;"))

        count = draw(counts)
        if count > 3:
            parts = [_CHEAP_PART] * count
        else:
            parts = [draw(multipart_parts(images)) for _ in range(count)]
        delimiter = b"--" + boundary.encode("utf-8", "surrogatepass")
        newline = b"\r\n" if draw(TENTHS) else b"\n"
        chunks = [draw(pick(b"", b"", b"preamble\r\n", b"\r\n\r\n"))]
        chunks += [delimiter + newline + content + newline for content in parts]
        ending = draw(pick("close", "close", "close", "none", "unclosed", "epilogue"))
        if ending == "close":
            chunks.append(delimiter + b"--" + newline)
        elif ending == "unclosed":
            chunks.append(delimiter + newline)
        elif ending == "epilogue":
            chunks.append(delimiter + b"--" + newline + b"epilogue" + delimiter)
        body = b"".join(chunks)
        if draw(TENTHS) == 0:  # damage: cut short
            body = body[: draw(st.integers(0, len(body)))]
        return content_type, body

    return build()


# --- headers ------------------------------------------------------------------------------------


@cache
def content_types(kind: str) -> st.SearchStrategy[str]:
    """Variants of a content type: case, parameters, spaces; and other types altogether."""
    params = st.sampled_from(["", "; charset=utf-8", ";charset=latin-1", "; boundary=x", ";", " "])
    variants = st.builds(
        lambda k, p, up: (k.upper() if up else k) + p, st.just(kind), params, st.booleans()
    )
    others = st.sampled_from(
        [
            "",
            "image/jpeg",
            "image/x-unknown",
            "application/octet-stream",
            "application/json",
            "text/plain",
            "multipart/form-data",
            "application/x-www-form-urlencoded",
            "image/",
            "/",
            ";",
        ]
    )
    return weighted((70, variants), (15, others), (15, any_text(30)))


@cache
def idempotency_keys() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(min_size=1, max_size=40),
        st.builds(lambda n: "k" * n, st.sampled_from([254, 255, 256, 1000])),
        repeated(st.sampled_from(["é", "😀", "\x00"]), 80, 300),
        any_text(),
    )


@cache
def headers(content_type: st.SearchStrategy[str] | None) -> st.SearchStrategy[dict[str, str]]:
    """Headers a client may send: the ones the API reads, in odd forms, and any others."""
    quarters = st.integers(0, 3)
    sixths = st.integers(0, 5)
    etags = pick("*", '""', 'W/"x"', '"a", "b"') | any_text(80)
    authorizations = st.builds(lambda t: "Bearer " + t, any_text(60)) | any_text(40)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, str]:
        result: dict[str, str] = {}
        if content_type is not None and draw(TENTHS):
            result["content-type"] = draw(content_type)
        if draw(quarters) == 0:
            result["idempotency-key"] = draw(idempotency_keys())
        if draw(quarters) == 0:
            result["if-none-match"] = draw(etags)
        if draw(sixths) == 0:
            result["authorization"] = draw(authorizations)
        if draw(sixths) == 0:  # a name in another case: not every emulator lowers them
            result[draw(pick(*HEADER_NAMES)).title()] = draw(any_text(40))
        for _ in range(draw(pick(0, 0, 0, 1, 2))):
            result[draw(any_text(20))] = draw(any_text(60))
        return result

    return build()


# --- queries ------------------------------------------------------------------------------------


@cache
def queries(names: tuple[str, ...] = QUERY_NAMES) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Query parameters in order, names repeated now and then (API Gateway joins them)."""
    name = st.sampled_from(names) | st.sampled_from(QUERY_NAMES) | any_text(12)
    return st.lists(st.tuples(name, query_values()), max_size=4)


# --- requests -----------------------------------------------------------------------------------


def short(value: Any, limit: int = 120) -> str:
    """A repr that stays readable for inputs of 100,000 characters."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} long)" if hasattr(value, "__len__") else ""
    return f"{text[: limit - 40]}...{text[-30:]}{size}"


def _quoted(text: str) -> str:
    return quote(text, safe="", errors="surrogatepass")


def _joined(query: list[tuple[str, str]]) -> dict[str, str]:
    """queryStringParameters: API Gateway joins the values of a repeated name with commas."""
    joined: dict[str, str] = {}
    for name, value in query:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _hmac_b64(key: bytes, message: str) -> bytes:
    digest = hmac.new(key, message.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=")


@dataclass
class Request:
    """One client request to one route of one function."""

    function: str  # "upload", "get" or "transform"
    route: str  # the route key, "METHOD /path/{param}"
    path: dict[str, str] = field(default_factory=dict)  # path parameters
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    text_body: bool = False  # delivered as text (isBase64Encoded false) when it is UTF-8
    signing: bool = False  # the function runs with signing keys configured
    # Sign the path (and exp, if given; the last ``sig`` wins) with this tenant's key, or MASTER
    # with the master key itself; ``sig_suffix`` is appended to the signature.
    sign: str | None = None
    sig_suffix: str = ""

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def raw_path(self) -> str:
        path = self.route.split(" ", 1)[1]
        for name, value in self.path.items():
            path = path.replace("{" + name + "+}", value).replace("{" + name + "}", value)
        return path

    def final_query(self) -> list[tuple[str, str]]:
        """The query, with the signature made as the contract says (docs/API.md)."""
        if self.sign is None:
            return list(self.query)
        key = SIGNING_KEY.encode()
        if self.sign != MASTER:
            key = _hmac_b64(key, f"progimage-url-signing\n{self.sign}")
        exp = _joined(self.query).get("exp")
        sig = _hmac_b64(key, self.raw_path if exp is None else f"{self.raw_path}\n{exp}")
        return [(k, v) for k, v in self.query if k != "sig"] + [
            ("sig", sig.decode() + self.sig_suffix)
        ]

    def event(self) -> dict[str, Any]:
        method = self.method
        query = self.final_query()
        joined = _joined(query)
        raw_query = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in query)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": self.route,
            "rawPath": self.raw_path,
            "rawQueryString": raw_query,
            "headers": {"host": "localhost:3000", "user-agent": "hypothesis"} | self.headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "authorizer": {"lambda": {"tenant": TENANT}},
                "domainName": "localhost",
                "http": {
                    "method": method,
                    "path": self.raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "hypothesis",
                },
                "requestId": "hypothesis-http-edge",
                "routeKey": self.route,
                "stage": "$default",
            },
            "isBase64Encoded": False,
        }
        if joined:
            event["queryStringParameters"] = joined
        if self.path:
            event["pathParameters"] = dict(self.path)
        if self.body is not None:
            text = None
            if self.text_body:
                try:
                    text = self.body.decode("utf-8", "surrogatepass")
                except UnicodeDecodeError:
                    text = None
            if text is None:
                event["body"] = base64.b64encode(self.body).decode()
                event["isBase64Encoded"] = True
            else:
                event["body"] = text
        return event

    def __repr__(self) -> str:
        parts = [f"{self.route!r}"]
        if self.path:
            parts.append(
                "path={" + ", ".join(f"{k!r}: {short(v)}" for k, v in self.path.items()) + "}"
            )
        if self.query:
            parts.append(
                "query=[" + ", ".join(f"({short(k, 40)}, {short(v)})" for k, v in self.query) + "]"
            )
        if self.headers:
            parts.append(
                "headers={"
                + ", ".join(f"{short(k, 40)}: {short(v)}" for k, v in self.headers.items())
                + "}"
            )
        if self.body is not None:
            parts.append(f"body={short(self.body, 200)}")
        if self.signing:
            parts.append("signing=True")
        if self.sign is not None:
            parts.append(f"sign={short(self.sign, 40)}, sig_suffix={short(self.sig_suffix)}")
        return f"Request({', '.join(parts)})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis prints with this
        printer.text(repr(self))


# --- requests to each route ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """What exists when requests arrive: stored images, a job, small images for bodies."""

    stored: tuple[str, ...]
    job_id: str
    images: tuple[bytes, ...]


# Who signs a URL: its owner (the tenant that stored the images) mostly, with or without naming
# it in ``tenant``; another tenant, the default one, the master key; or nobody.
SIGNERS = weighted(
    (45, st.just(TENANT)),
    (10, st.sampled_from(["default", "beta"])),
    (10, st.just(MASTER)),
    (5, any_text(12)),
    (30, st.none()),
)


def _signing(draw: st.DrawFn, request: Request) -> Request:
    """Signing keys configured or not; the request signed by one key or another, correctly or
    with a suffix, for a time to come or past; or not signed."""
    request.signing = draw(TENTHS) < 7
    request.sign = draw(SIGNERS)
    if request.sign is None:
        return request
    if request.sign != MASTER and draw(TENTHS) < 8:
        request.query.append(("tenant", request.sign))
    when = draw(TENTHS)
    if when < 4:  # expiring in an hour, or an hour ago
        later = int(time.time()) + (3600 if when < 3 else -3600)
        request.query = [(k, v) for k, v in request.query if k != "exp"] + [("exp", str(later))]
    if draw(TENTHS) < 3:
        request.sig_suffix = draw(query_values())
    return request


IMAGE_ROUTES = (
    "GET /images/{id}",
    "GET /images/{id}",
    "GET /images/{id}/info",
    "DELETE /images/{id}",
    "GET /images/{id}/{pipeline+}",
    "GET /images/{id}/{pipeline+}",
)


@cache
def image_requests(stage: Stage) -> st.SearchStrategy[Request]:
    """GET and DELETE /images/{id}[.ext], /info and variants: ids, pipelines, signatures (sig,
    exp) and queries of any kind, with signing keys configured or not."""
    ids = image_ids(stage.stored)
    not_stored = id_like() | any_text()  # DELETE never names the stored images: others use them
    read_headers = headers(content_types("image/png"))
    signed = queries(("sig", "exp", "tenant"))
    sigs, exps = query_values(), digit_strings()

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        route = draw(pick(*IMAGE_ROUTES))
        function = "transform" if "pipeline" in route else "get"
        request = Request(function, route, headers=draw(read_headers))
        if route == "DELETE /images/{id}":
            request.path["id"] = draw(not_stored)
        elif route == "GET /images/{id}":
            request.path["id"] = draw(with_extension(ids))
        else:
            request.path["id"] = draw(ids)
        if "{pipeline+}" in route:
            request.path["pipeline"] = draw(pipeline_paths())
        request.query = draw(signed)
        if draw(TENTHS) < 6:
            request.query.append(("sig", draw(sigs)))
        if draw(TENTHS) < 6:
            request.query.append(("exp", draw(exps)))
        return _signing(draw, request)

    return build()


@cache
def paging_requests(stage: Stage) -> st.SearchStrategy[Request]:
    """GET /images and GET /jobs/{job_id} (mostly the job that exists): limit and cursor."""
    other_jobs = id_like() | any_text()
    limits = pick("1", "50", "100") | digit_strings()  # valid now and then: cursors are read next
    cursors = {
        "GET /images": pick(*stage.stored) | id_like() | digit_strings(),
        "GET /jobs/{job_id}": digit_strings() | pick("0", "1", "99"),
    }
    paging_headers = headers(None)
    paging = queries(("limit", "cursor"))

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        route = draw(pick(*sorted(cursors)))
        function = "get" if route == "GET /images" else "transform"
        request = Request(function, route, headers=draw(paging_headers))
        if route == "GET /jobs/{job_id}":
            real = draw(TENTHS) < 7
            request.path["job_id"] = stage.job_id if real else draw(other_jobs)
        request.query = draw(paging) if draw(TENTHS) < 3 else []
        if draw(TENTHS) < 5:
            request.query.append(("limit", draw(limits)))
        if draw(TENTHS) < 7:
            request.query.append(("cursor", draw(cursors[route])))
        request.signing = draw(st.booleans())  # these routes ignore signatures
        return request

    return build()


JSON_ROUTES = {
    "POST /images": "upload",
    "POST /uploads": "upload",
    "POST /transform": "transform",
    "POST /batch": "transform",
    "POST /jobs": "transform",
}
JSON_ROUTE_CHOICE = weighted(
    (25, st.just("POST /images")),
    (25, st.just("POST /transform")),
    (20, st.just("POST /batch")),
    (15, st.just("POST /jobs")),
    (15, st.just("POST /uploads")),
)
ENCODINGS = weighted(
    (70, st.just("utf-8")),
    (30, st.sampled_from(["utf-8-sig", "utf-16", "utf-16-be", "utf-32", "latin-1"])),
)
POST_QUERY = ("ops", "format", "store")


@cache
def json_requests(stage: Stage) -> st.SearchStrategy[Request]:
    """POST routes with JSON bodies of the route's shape or any other, in several encodings."""
    json_headers = headers(content_types("application/json"))

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        route = draw(JSON_ROUTE_CHOICE)
        value = draw(json_bodies(route, stage.stored, stage.images))
        text = dump(value, ascii_only=draw(st.booleans()))
        encoding = draw(ENCODINGS)
        body = text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")
        if draw(st.integers(0, 19)) == 0:  # damaged: cut short, or invalid UTF-8 inserted
            cut = draw(st.integers(0, len(body)))
            body = body[:cut] + draw(pick(b"", b"\xff", b"\xc3", b"\x00"))
        return Request(
            JSON_ROUTES[route],
            route,
            query=draw(queries(POST_QUERY)),
            headers=draw(json_headers),
            body=body,
            text_body=draw(TENTHS) > 1,
        )

    return build()


URL_ROUTES = weighted(
    (50, st.just("POST /images")),
    (25, st.just("POST /transform")),
    (25, st.just("POST /batch")),
)


@cache
def url_requests(stage: Stage) -> st.SearchStrategy[Request]:
    """Remote sources: ``{"url"}`` in POST /images, /transform and /batch, with URLs of every
    scheme, host name (IDNA and its limits), port and path."""
    json_headers = headers(content_types("application/json"))

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        route = draw(URL_ROUTES)
        url = draw(urls())
        body: Any = {"url": url}
        if route != "POST /images":
            item = {"source": body} | ({"ops": "thumbnail:8"} if draw(st.booleans()) else {})
            body = {"items": [item]} if route == "POST /batch" else item
        return Request(
            JSON_ROUTES[route],
            route,
            headers=draw(json_headers),
            body=dump(body, ascii_only=draw(st.booleans())).encode("utf-8", "surrogatepass"),
            text_body=draw(st.booleans()),
        )

    return build()


@cache
def multipart_requests(stage: Stage) -> st.SearchStrategy[Request]:
    """POST /images (and now and then POST /transform) with multipart bodies."""
    routes = pick(*["POST /images"] * 9, "POST /transform")

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        content_type, body = draw(multipart_bodies(stage.images))
        route = draw(routes)
        return Request(
            JSON_ROUTES[route],
            route,
            query=draw(queries(POST_QUERY)),
            headers=draw(headers(None)) | {"content-type": content_type},
            body=body,
            text_body=draw(st.booleans()),
        )

    return build()


@cache
def raw_requests(stage: Stage) -> st.SearchStrategy[Request]:
    """Raw bodies with any content type: POST /images, and POST /transform with ?ops&format."""
    image = st.sampled_from(stage.images)
    bodies = st.one_of(
        image,
        image,
        st.binary(max_size=64),
        st.just(b""),
        st.builds(lambda b, n: b[:n], image, st.integers(0, 200)),
        st.builds(lambda t: t.encode("utf-8", "surrogatepass"), any_text()),
    )
    raw_headers = headers(content_types("image/png"))

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        route = draw(pick("POST /images", "POST /transform"))
        transform = route == "POST /transform"
        query = draw(queries(POST_QUERY if transform else QUERY_NAMES))
        if transform and draw(st.booleans()):
            query.append(("ops", draw(pipeline_paths())))
        return Request(
            JSON_ROUTES[route],
            route,
            query=query,
            headers=draw(raw_headers),
            body=draw(bodies),
            text_body=draw(TENTHS) == 0,
        )

    return build()
