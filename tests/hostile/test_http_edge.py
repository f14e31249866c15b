"""Hostile requests at the HTTP edge, through the real handlers on moto: no input is a 5xx.

Query strings, headers, path parameters, JSON bodies (shapes, numbers, nesting, encodings),
base64 sources and multipart bodies, drawn by ``http_edge``. Oracle: every answer is under 500;
every 4xx carries the contract's ``{"error": {"code", "message"}}`` with a message of at most
1,000 characters (echoed input is cut); a 4xx leaves no original and no image record behind.

Each test provisions the bucket and table once (the integration tests' ``aws`` fixture, from
template.yaml) and runs all its examples inside. Failures are collected rather than raised, so
that a common bug does not end the search before a rare one is met; each distinct one (a 5xx:
the exception and the line that raised it, from the handler's ERROR log) is then minimized
greedily and the test fails listing them all. URLs are never fetched: every host name resolves
to a private address, which the SSRF guard refuses.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from get.app import handler as get_handler
from progimage_service.adapters import fetch
from tests.images import sample
from tests.integration import conftest as integration
from transform.app import handler as transform_handler
from upload.app import handler as upload_handler

from .http_edge import (
    SIGNING_KEY,
    Request,
    Stage,
    image_requests,
    json_requests,
    multipart_requests,
    paging_requests,
    raw_requests,
    url_requests,
)
from .oracle import HTTP, STATS
from .samples import by_format

# Pillow warns about the damage it meets (corrupt EXIF, truncated reads, large images): expected.
pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::PIL.Image.DecompressionBombWarning"
)

aws = integration.aws  # the bucket and table of template.yaml, in moto (a fixture)

HANDLERS: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
    "get": get_handler,
    "transform": transform_handler,
    "upload": upload_handler,
}
MAX_MESSAGE = 1000
# How many requests each test tries, as a share of the profile's examples (ci: 300).
SHARE = {"images": 1.5, "paging": 1.0, "json": 1.5, "urls": 0.5, "multipart": 0.5, "raw": 0.5}


def _examples(kind: str) -> int:
    return max(20, int(settings().max_examples * SHARE[kind]))


# --- no fetch leaves the machine --------------------------------------------------------------


class _PrivateResolver:
    """``socket`` for the fetch adapter: addresses are checked as the real resolver checks them
    (it refuses the same names), and every name, and every public address literal (such as
    ``24.24``, which is 24.0.0.24), resolves to a private address, so the SSRF guard refuses
    every URL with a 400 and nothing is fetched."""

    def __getattr__(self, name: str) -> Any:
        return getattr(socket, name)

    @staticmethod
    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        kwargs["flags"] = socket.AI_NUMERICHOST  # no lookup: literals only, names fail
        private = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port))]
        try:
            found = socket.getaddrinfo(host, port, *args, **kwargs)
        except socket.gaierror:
            return private
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in found]
        return found if all(fetch.blocked_reason(a) for a in addresses) else private


# --- the stage and the oracle ------------------------------------------------------------------


class _Errors(logging.Handler):
    """The handlers' ERROR records, with the exception each logged."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


ORIGINALS, RECORDS = "originals/", "IMG#"


@dataclass
class Edge:
    aws: integration.Aws
    stage: Stage
    errors: _Errors

    def counts(self) -> tuple[int, int]:
        """How many originals and image records exist. Read from moto's own stores: through
        the API, the two calls cost as much as the request judged (tens of ms each); through
        the API again if moto's internals ever move."""
        try:
            return self._counts_in_moto()
        except (ImportError, LookupError, AttributeError):
            return self._counts_by_api()

    def _counts_in_moto(self) -> tuple[int, int]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
        from moto.s3.models import s3_backends

        bucket = s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets[self.aws.bucket]
        region = os.environ["AWS_DEFAULT_REGION"]
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(self.aws.table)
        originals = sum(1 for key in bucket.keys if key.startswith(ORIGINALS))
        records = sum(
            len(items) for pk, items in table.items.items() if str(pk.value).startswith(RECORDS)
        )
        return originals, records

    def _counts_by_api(self) -> tuple[int, int]:
        pages = self.aws.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.aws.bucket, Prefix=ORIGINALS
        )
        originals = sum(page.get("KeyCount", 0) for page in pages)
        pages = self.aws.dynamodb.get_paginator("scan").paginate(
            TableName=self.aws.table,
            Select="COUNT",
            FilterExpression="begins_with(pk, :img)",
            ExpressionAttributeValues={":img": {"S": RECORDS}},
        )
        return originals, sum(page["Count"] for page in pages)


def _request(function: str, route: str, body: bytes, content_type: str) -> integration.Answer:
    request = Request(function, route, headers={"content-type": content_type}, body=body)
    return integration.call(HANDLERS[function], request.event())


@pytest.fixture
def edge(aws: integration.Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Edge]:
    monkeypatch.setattr(fetch, "socket", _PrivateResolver())
    # exercise() switches signing on and off per request; setting the variable through
    # monkeypatch first makes sure it is unset again after the test, whatever it was left as.
    monkeypatch.setenv("PROGIMAGE_SIGNING_KEYS", "")
    stored = []
    for name, kind in (("formats/hopper.jpg", "image/jpeg"), ("formats/hopper.png", "image/png")):
        answer = _request("upload", "POST /images", sample(name), kind)
        assert answer.status == 201, answer.body
        stored.append(answer.json()["id"])
    items = {"items": [{"source": {"id": stored[0]}, "ops": "thumbnail:8"}]}
    answer = _request("transform", "POST /jobs", json.dumps(items).encode(), "application/json")
    assert answer.status == 202, answer.body
    images = [by_format()[fmt][0] for fmt in ("png", "jpeg", "gif")]
    errors = _Errors()
    logger = logging.getLogger("progimage")
    logger.addHandler(errors)
    try:
        stage = Stage(tuple(stored), answer.json()["job_id"], tuple(images))
        edge = Edge(aws, stage, errors)
        assert edge._counts_in_moto() == edge._counts_by_api() == (2, 2)
        yield edge
    finally:
        logger.removeHandler(errors)


@dataclass
class Finding:
    """One failure of the oracle: a 5xx, a 4xx without the contract's body, or a 4xx that left
    something behind. ``key`` names the bug (for a 5xx, the exception and the line raising it),
    so that each is reported once, with the smallest request that shows it."""

    key: str
    request: Request
    status: int
    detail: str
    trace: str = ""


def exercise(edge: Edge, request: Request, *, count: bool = True) -> list[Finding]:
    """Send one request, judge its answer, and return what the oracle found wrong with it."""
    if request.signing:
        os.environ["PROGIMAGE_SIGNING_KEYS"] = SIGNING_KEY
    else:
        os.environ.pop("PROGIMAGE_SIGNING_KEYS", None)
    writes = request.method != "GET"  # reads make variants, never originals or records
    before = edge.counts() if writes else None
    edge.errors.records.clear()
    started = time.perf_counter()
    escaped: BaseException | None = None
    try:
        answer = integration.call(HANDLERS[request.function], request.event())
    except Exception as error:  # escaped the router: Lambda reports an error, API Gateway a 500
        escaped = error
        answer = integration.Answer(500, {}, b"")
    if count:
        seconds = time.perf_counter() - started
        if seconds > HTTP.max_seconds:
            HTTP.max_seconds, HTTP.slowest = seconds, f"{request!r:.240} -> {answer.status}"
        HTTP.requests += 1
        HTTP.routes[request.route] += 1
        HTTP.statuses[answer.status] += 1

    findings = []
    if answer.status >= 500:
        cause = escaped or next(
            (r.exc_info[1] for r in edge.errors.records if r.exc_info and r.exc_info[1]), None
        )
        if cause is not None:
            where, message = _origin(cause)
            trace = "".join(traceback.format_exception(cause)[-6:])
        else:  # answered without a log record (the idempotency wrapper answers errors itself)
            _, code, _ = _error_body_problem(answer)
            where, message, trace = (
                f"{code} (not logged)",
                answer.body[:200].decode(errors="replace"),
                "",
            )
        findings.append(Finding(f"5xx {where}", request, answer.status, message, trace))
        if count:
            HTTP.server_errors += 1
    elif 400 <= answer.status < 500:
        problem, code, param = _error_body_problem(answer)
        if problem:
            key = f"4xx body {request.route} {answer.status} {code} {param}"
            findings.append(Finding(key, request, answer.status, problem))
            if count:
                HTTP.bad_errors += 1
        if before is not None:
            after = edge.counts()
            if after != before:
                detail = f"(originals, image records) {before} -> {after}"
                key = f"leftover {request.route} {answer.status} {code}"
                findings.append(Finding(key, request, answer.status, detail))
                if count:
                    HTTP.leftovers += 1
    return findings


def _origin(error: BaseException) -> tuple[str, str]:
    """An exception's type and the line that raised it (one bug, whatever the input), and its
    message."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}{where}", str(error)[:160]


def _error_body_problem(answer: integration.Answer) -> tuple[str | None, Any, Any]:
    """Why a 4xx's body is not the contract's error object (or None), its code and param."""
    if answer.headers.get("Content-Type") != "application/json":
        return f"Content-Type {answer.headers.get('Content-Type')!r}", None, None
    try:
        body = json.loads(answer.body)
    except ValueError:
        return f"body is not JSON: {answer.body[:100]!r}", None, None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"no error object: {answer.body[:100]!r}", None, None
    code, message, param = error.get("code"), error.get("message"), error.get("param")
    if not isinstance(code, str) or not isinstance(message, str):
        return f"code and message are not strings: {error!r:.200}", code, param
    if len(message) > MAX_MESSAGE:
        return f"a message of {len(message)} characters: {message[:100]!r}...", code, param
    return None, code, param


# --- collecting, minimizing and reporting the findings -----------------------------------------


def _size(request: Request) -> int:
    return len(repr(request.event()))


def _shorter(text: str) -> list[str]:
    n = len(text)
    cuts = {"", text[:1], text[: n // 2], text[n // 2 :], text[: n - n // 4], text[: n - n // 16]}
    return sorted((c for c in cuts if len(c) < n), key=len)


def _smaller(request: Request) -> Iterator[Request]:
    """Requests a little simpler than this one: a part dropped, a value or the body cut."""
    if request.sign is not None:
        yield replace(request, sign=None, sig_suffix="")
        for cut in _shorter(request.sig_suffix):
            yield replace(request, sig_suffix=cut)
    if request.signing:
        yield replace(request, signing=False)
    for index in range(len(request.query)):
        yield replace(request, query=request.query[:index] + request.query[index + 1 :])
    for name in request.headers:
        yield replace(request, headers={k: v for k, v in request.headers.items() if k != name})
    for index, (name, value) in enumerate(request.query):
        for cut in _shorter(value):
            query = list(request.query)
            query[index] = (name, cut)
            yield replace(request, query=query)
    for name, value in request.headers.items():
        for cut in _shorter(value):
            yield replace(request, headers=request.headers | {name: cut})
    for name, value in request.path.items():
        for cut in _shorter(value):
            yield replace(request, path=request.path | {name: cut})
    if request.body:
        body = request.body
        for cut in (b"", body[: len(body) // 2], body[len(body) // 2 :], body[: len(body) - 1]):
            yield replace(request, body=cut)
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            return
        if isinstance(value, dict):
            for name in value:
                rest = {k: v for k, v in value.items() if k != name}
                yield replace(request, body=json.dumps(rest).encode())
        elif isinstance(value, list) and value:
            yield replace(request, body=json.dumps(value[:1]).encode())


def minimize(edge: Edge, finding: Finding, budget: int = 300) -> Finding:
    """Greedily simplify the request while it still shows the same failure."""
    best = finding
    improved = True
    while improved and budget > 0:
        improved = False
        for candidate in _smaller(best.request):
            if budget <= 0 or _size(candidate) >= _size(best.request):
                continue
            budget -= 1
            same = [f for f in exercise(edge, candidate, count=False) if f.key == finding.key]
            if same:
                best, improved = same[0], True
                break
    return best


class Findings:
    """The distinct failures of one test, each with the smallest request that showed it."""

    def __init__(self) -> None:
        self.found: dict[str, Finding] = {}

    def add(self, findings: list[Finding]) -> None:
        for finding in findings:
            known = self.found.get(finding.key)
            if known is None or _size(finding.request) < _size(known.request):
                self.found[finding.key] = finding

    def check(self, edge: Edge) -> None:
        """Fail with every distinct finding, each minimized, and count them in the summary."""
        if not self.found:
            return
        lines = []
        for key, found in sorted(self.found.items()):
            finding = minimize(edge, found)
            line = f"{finding.request.route} answered {finding.status}: {key}: {finding.detail}"
            if key.startswith("5xx"):
                STATS.unexpected.append(line)
            HTTP.findings.append(line)
            lines.append(f"{line}\n    request: {finding.request!r}\n{finding.trace}")
        raise AssertionError(
            f"{len(lines)} distinct failures at the HTTP edge:\n\n" + "\n".join(lines)
        )


# --- the tests ----------------------------------------------------------------------------------


def explore(edge: Edge, kind: str, requests: Callable[[Stage], st.SearchStrategy[Request]]) -> None:
    """Try the requests, all of them: a common failure must not end the search before a rare
    one is met (Hypothesis stops soon after its first failure). Then fail with every distinct
    failure, each minimized."""
    findings = Findings()

    @settings(
        max_examples=_examples(kind),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,  # nothing fails inside: there is nothing to replay
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        findings.add(exercise(edge, data.draw(requests(edge.stage), label="request")))

    run()
    findings.check(edge)


def test_image_reads_with_any_ids_pipelines_signatures_and_headers(edge: Edge) -> None:
    """GET and DELETE /images/{id}[.ext], /info and variants, with and without signing keys,
    signed correctly or not (sig, exp)."""
    explore(edge, "images", image_requests)


def test_paging_with_any_limit_and_cursor(edge: Edge) -> None:
    """GET /images and GET /jobs/{job_id}: limit and cursor of any kind."""
    explore(edge, "paging", paging_requests)


def test_json_bodies_of_any_shape_number_and_depth(edge: Edge) -> None:
    """POST /images, /uploads, /transform, /batch and /jobs with JSON bodies."""
    explore(edge, "json", json_requests)


def test_remote_sources_with_any_url(edge: Edge) -> None:
    """{"url"} sources: every URL is refused (nothing is fetched), each with a 4xx."""
    explore(edge, "urls", url_requests)


def test_multipart_bodies(edge: Edge) -> None:
    """Boundaries, part headers, missing and extra line breaks, up to thousands of parts."""
    explore(edge, "multipart", multipart_requests)


def test_raw_bodies_with_any_content_type_and_query(edge: Edge) -> None:
    """Image bytes, junk and text under any Content-Type; POST /transform's ?ops&format&store."""
    explore(edge, "raw", raw_requests)
