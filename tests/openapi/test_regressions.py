"""What the OpenAPI document and Schemathesis found in the handlers, over HTTP.

- ``POST /images`` took JSON ``{"data"}`` only: the contract's ``{"url"}`` answered 400
  (and a ``data`` that was not a string was turned into one and decoded).
- An integer query parameter took an empty value as absent, and whatever ``int()`` reads
  (``" 5"``, ``"+5"``, ``"1_0"``, non-ASCII digits) as a number.
- Likewise ``POST /transform?store=`` was false and ``?format=`` (or ``"format": ""``) the
  source's format: an empty value is not one of the values the document lists (an empty or
  unknown format is ``415 unsupported_format``, as an unknown extension is).

The server may fetch from loopback over plain HTTP here (only here), so that a ``{"url"}``
upload can be served by the local server itself.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from localserver import LocalServer
from progimage_service.ids import new_id
from tests.images import sample

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK_FETCHES = {
    "PROGIMAGE_FETCH_ALLOW_HTTP": "1",
    "PROGIMAGE_FETCH_ALLOW_NETWORKS": "127.0.0.0/8",
}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ROOT / "template.yaml", port=0, env_overrides=LOOPBACK_FETCHES) as running:
        yield running


def test_an_image_is_uploaded_from_a_url(server: LocalServer) -> None:
    photo = sample("formats/hopper.png")
    first = requests.post(
        f"{server.url}/images", data=photo, headers={"Content-Type": "image/png"}, timeout=30
    )
    assert first.status_code == 201, first.text
    source = f"{server.url}/images/{first.json()['id']}"
    copied = requests.post(f"{server.url}/images", json={"url": source}, timeout=30)
    assert copied.status_code == 201, copied.text
    record = copied.json()
    assert record["id"] != first.json()["id"]
    assert record["sha256"] == hashlib.sha256(photo).hexdigest()
    assert copied.headers["Location"] == f"/images/{record['id']}"
    stored = requests.get(f"{server.url}{copied.headers['Location']}", timeout=30)
    assert stored.content == photo


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"url": "https://169.254.169.254/latest/meta-data"}, 400, "url_not_allowed", "url"),
        ({"url": "file:///etc/passwd"}, 400, "url_not_allowed", "url"),
        ({"url": 5}, 400, "bad_request", "url"),
        ({"data": 1234}, 400, "bad_request", "data"),  # was decoded as "1234": a 415
        ({"data": "", "url": "https://example.com/a.png"}, 400, "bad_request", "body"),
        ({}, 400, "bad_request", "body"),
        ({"data": "", "name": "a.png"}, 400, "bad_request", "body"),
        (["data"], 400, "bad_request", "body"),
    ],
)
def test_a_json_upload_is_one_of_data_and_url(
    server: LocalServer, body: object, status: int, code: str, param: str
) -> None:
    answer = requests.post(f"{server.url}/images", json=body, timeout=30)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["param"].split(".")[-1] == param  # "url" or "source.url"


@pytest.mark.parametrize("value", ["", " 5", "5 ", "+5", "1_0", "٥", "0x10", "5.0"])
@pytest.mark.parametrize("path", ["/images", "/jobs/{id}"])
def test_an_integer_parameter_is_plain_digits(server: LocalServer, path: str, value: str) -> None:
    url = server.url + path.format(id=new_id())
    answer = requests.get(url, params={"limit": value}, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == {
        "code": "bad_request",
        "message": f"limit must be an integer, got {value!r}",
        "param": "limit",
    }


def test_integer_parameters_still_read_numbers(server: LocalServer) -> None:
    assert requests.get(f"{server.url}/images?limit=7", timeout=30).status_code == 200
    assert requests.get(f"{server.url}/images", timeout=30).status_code == 200  # default
    low = requests.get(f"{server.url}/images?limit=-1", timeout=30)
    assert low.status_code == 400
    assert "between 1 and" in low.json()["error"]["message"]


@pytest.mark.parametrize(
    ("query", "status", "param"),
    [
        ("store=", 400, "store"),
        ("store=yes", 400, "store"),
        ("format=", 415, "format"),
        ("format=xyz", 415, "format"),
    ],
)
def test_transform_query_values_are_one_of_those_listed(
    server: LocalServer, query: str, status: int, param: str
) -> None:
    answer = requests.post(
        f"{server.url}/transform?{query}",
        data=sample("formats/hopper.png"),
        headers={"Content-Type": "image/png"},
        timeout=30,
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["param"] == param


def test_an_empty_json_format_is_refused_and_null_is_the_source_s(server: LocalServer) -> None:
    data = base64.b64encode(sample("formats/hopper.png")).decode()
    body = {"source": {"data": data}, "ops": "thumbnail:16"}
    empty = requests.post(f"{server.url}/transform", json=body | {"format": ""}, timeout=30)
    assert empty.status_code == 415, empty.text
    assert empty.json()["error"] == empty.json()["error"] | {
        "code": "unsupported_format",
        "param": "format",
    }
    null = requests.post(f"{server.url}/transform", json=body | {"format": None}, timeout=30)
    assert null.status_code == 200, null.text
    assert null.headers["Content-Type"] == "image/png"


def test_transform_query_values_still_work(server: LocalServer) -> None:
    photo = sample("formats/hopper.png")
    headers = {"Content-Type": "image/png"}
    url = f"{server.url}/transform"
    plain = requests.post(f"{url}?ops=thumbnail:16", data=photo, headers=headers, timeout=30)
    assert plain.status_code == 200 and plain.headers["Content-Type"] == "image/png"
    webp = requests.post(f"{url}?format=webp&store=0", data=photo, headers=headers, timeout=30)
    assert webp.status_code == 200 and webp.headers["Content-Type"] == "image/webp"
    stored = requests.post(f"{url}?store=true", data=photo, headers=headers, timeout=30)
    assert stored.status_code == 201, stored.text


# -- what the document says of HEAD and of the refusals added with tenants -----------------


def test_head_answers_the_get_s_status_and_headers_without_a_body(server: LocalServer) -> None:
    photo = sample("formats/hopper.png")
    stored = requests.post(
        f"{server.url}/images", data=photo, headers={"Content-Type": "image/png"}, timeout=30
    ).json()["id"]
    paths = [
        "/images",
        f"/images/{stored}",
        f"/images/{stored}.webp",
        f"/images/{stored}.svg",
        f"/images/{stored}/info",
        f"/images/{stored}/thumbnail:8.png",
        f"/images/{new_id()}",
        f"/jobs/{new_id()}",
    ]
    for path in paths:
        got = requests.get(server.url + path, timeout=30)
        head = requests.head(server.url + path, timeout=30)
        assert (head.status_code, head.content) == (got.status_code, b""), path
        for name in ("Content-Type", "ETag", "Cache-Control"):
            assert head.headers.get(name) == got.headers.get(name), f"{path} {name}"


@pytest.mark.parametrize(
    ("pipeline", "status", "code"),
    [(".svg", 415, "unsupported_format"), ("/thumbnail:8.svg", 400, "invalid_operation")],
)
def test_an_unsupported_output_format(
    server: LocalServer, pipeline: str, status: int, code: str
) -> None:
    stored = requests.post(
        f"{server.url}/images",
        data=sample("formats/hopper.jpg"),
        headers={"Content-Type": "image/jpeg"},
        timeout=30,
    ).json()["id"]
    answer = requests.get(f"{server.url}/images/{stored}{pipeline}", timeout=30)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


def test_a_multipart_body_over_its_part_limit_is_413(server: LocalServer) -> None:
    files = [("file", (f"{n}.png", b"x", "image/png")) for n in range(101)]
    answer = requests.post(f"{server.url}/images", files=files, timeout=30)
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    "body",
    [
        '{"url": "https://example.com/a.png", "x": ' + "[" * 33 + "]" * 33 + "}",
        '{"url": "https://example.com/a.png", "x": 1' + "0" * 30 + "}",
        '{"url": "https://example.com/a.png", "x": NaN}',
        '{"url": "https://example.com/a.png", "x": -Infinity}',
    ],
)
def test_json_beyond_the_document_s_bounds_is_400(server: LocalServer, body: str) -> None:
    answer = requests.post(
        f"{server.url}/images",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == {
        "code": "bad_request",
        "message": answer.json()["error"]["message"],
        "param": "body",
    }
