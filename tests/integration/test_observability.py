"""What a deployed function tells its operators: the log line and the embedded metrics (EMF) of
each request and message, through the real handlers on moto.

Each EMF object is checked against the format's rules (CloudWatch drops an object that breaks
them, silently): every metric and dimension it declares is a key of the object, metric values
are numbers, the dimension values are from their closed sets, and the tenant and image id are
metadata, never dimensions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth import app as authorizer
from localserver.logs import extra_fields
from progimage_service import observability
from progimage_service.errors import CODES
from tests.images import sample
from tests.integration.conftest import Aws, call, event
from tests.integration.test_bulk import queue_url, receive
from transform.app import handler as transform_handler
from transform.worker import handler as worker_handler
from upload.app import handler as upload_handler

UNITS = {"Count", "Milliseconds", "Bytes"}
VARIANT_ROUTE = "GET /images/{id}/{pipeline+}"


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The EMF objects the invocations write, each checked against the format."""
    documents: list[dict[str, Any]] = []

    def checked(document: dict[str, Any]) -> None:
        json.dumps(document)  # what is written is JSON
        _check_emf(document)
        documents.append(document)

    monkeypatch.setattr(observability, "sink", checked)
    yield documents


def _check_emf(document: dict[str, Any]) -> None:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert isinstance(document["_aws"]["Timestamp"], int)
    assert directive["Namespace"] == observability.DEFAULT_NAMESPACE
    for dimensions in directive["Dimensions"]:
        assert dimensions[0] == "Service" and len(dimensions) <= 30
        for name in dimensions:
            assert isinstance(document[name], str), name
    for metric in directive["Metrics"]:
        assert metric["Unit"] in UNITS
        value = document[metric["Name"]]
        values = value if isinstance(value, list) else [value]
        assert values and all(isinstance(v, int | float) for v in values), metric
    dimension_names = {name for names in directive["Dimensions"] for name in names}
    assert not {"tenant", "image_id", "correlation_id"} & dimension_names


def metric(documents: list[dict[str, Any]], name: str, **dimensions: str) -> list[float]:
    """Every value of the metric reported with these dimension values."""
    found = []
    for document in documents:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        names = {m["Name"] for m in directive["Metrics"]}
        if name in names and all(document.get(k) == v for k, v in dimensions.items()):
            value = document[name]
            found += value if isinstance(value, list) else [value]
    return found


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The fields of the requests' log lines, as Lambda's JSON log format would write them."""
    lines = []
    for record in caplog.records:
        fields = extra_fields(record)
        if record.name == "progimage" and "status" in fields:
            lines.append(json.loads(json.dumps(fields)))  # every field is JSON as it stands
    return lines


def _stored() -> str:
    answer = call(upload_handler, event("post-images-raw"))
    assert answer.status == 201
    return answer.json()["id"]


def test_a_miss_then_a_hit_emit_what_an_operator_needs(
    aws: Aws, emitted: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    image_id = _stored()
    emitted.clear()
    caplog.set_level(logging.INFO, logger="progimage")
    variant = event("get-variant", id=image_id)
    variant["pathParameters"]["pipeline"] = "thumbnail:64.webp"
    assert call(transform_handler, variant).status == 200
    assert call(transform_handler, variant).status == 200

    assert metric(emitted, "Requests", Route=VARIANT_ROUTE, StatusClass="2xx") == [1, 1]
    assert metric(emitted, "CacheMisses", Route=VARIANT_ROUTE) == [1]
    assert metric(emitted, "CacheHits", Route=VARIANT_ROUTE) == [1]
    assert metric(emitted, "Outputs", Format="webp") == [1]
    (render,) = metric(emitted, "RenderTime", Format="webp")
    (decode,) = metric(emitted, "DecodeTime", Format="webp")
    (encode,) = metric(emitted, "EncodeTime", Format="webp")
    assert 0 < decode + encode <= render
    (miss_bytes, hit_bytes) = metric(emitted, "BytesOut", Route=VARIANT_ROUTE)
    assert miss_bytes == hit_bytes > 0
    assert all(document["image_id"] == image_id for document in emitted)

    miss, hit = request_lines(caplog)
    for line in (miss, hit):
        assert line["route"] == VARIANT_ROUTE and line["status"] == 200
        assert line["image_id"] == image_id and line["latency_ms"] > 0
        assert line["correlation_id"] == variant["requestContext"]["requestId"]
    assert (miss["cache"], hit["cache"]) == ("miss", "hit")
    assert miss["output"] == "webp" and "render_ms" in miss and "render_ms" not in hit


def test_a_refusal_is_counted_by_its_code_and_logged_with_the_tenant(
    aws: Aws, emitted: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="progimage")
    body = json.dumps({"source": {"url": "https://example.com/x.png"}, "ops": "rotate:x"})
    answer = call(transform_handler, event("post-transform-json") | {"body": body})
    assert answer.status == 400
    assert metric(emitted, "Rejections", Reason="invalid_operation") == [1]
    assert metric(emitted, "Requests", Route="POST /transform", StatusClass="4xx") == [1]
    (line,) = request_lines(caplog)
    assert line["error"] == "invalid_operation" and line["status"] == 400
    assert line["tenant"] == "default"


def test_a_private_url_is_a_fetch_refusal(aws: Aws, emitted: list[dict[str, Any]]) -> None:
    body = json.dumps({"source": {"url": "https://10.0.0.1/x.png"}, "ops": "thumbnail:10"})
    answer = call(transform_handler, event("post-transform-json") | {"body": body})
    assert answer.status == 400
    assert metric(emitted, "FetchRefusals") == [1]
    assert metric(emitted, "Rejections", Reason="url_not_allowed") == [1]


def test_job_items_and_their_messages_are_counted_and_logged(
    aws: Aws, emitted: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    image_id = _stored()
    items = [{"source": {"id": image_id}, "ops": "thumbnail:9"}] * 2
    items += [{"source": {"id": image_id}, "ops": "blur:0"}]
    answer = call(transform_handler, event("post-jobs") | {"body": json.dumps({"items": items})})
    assert answer.status == 202
    records = receive(aws, queue_url(aws, "JobsQueue"))
    emitted.clear()
    caplog.set_level(logging.INFO, logger="progimage")
    assert worker_handler({"Records": records}, None) == {"batchItemFailures": []}
    assert worker_handler({"Records": records}, None) == {"batchItemFailures": []}  # again
    assert sum(metric(emitted, "JobItems", Outcome="succeeded")) == 2  # once each
    assert sum(metric(emitted, "JobItems", Outcome="failed")) == 1
    messages = [extra_fields(r) for r in caplog.records if "message_id" in extra_fields(r)]
    assert len(messages) == 6 and {m["outcome"] for m in messages} == {"done"}
    assert {m["message_id"] for m in messages} == {r["messageId"] for r in records}
    assert all(json.dumps(m) for m in messages)


def test_an_ingested_upload_is_counted_by_outcome(aws: Aws, emitted: list[dict[str, Any]]) -> None:
    uploads = call(upload_handler, event("post-uploads")).json()["uploads"]
    good, bad = uploads[0], uploads[1]
    for upload, data in ((good, sample("formats/hopper.jpg")), (bad, b"not an image")):
        aws.s3.put_object(Bucket=aws.bucket, Key=upload["fields"]["key"], Body=data)
    records = receive(aws, queue_url(aws, "IngestQueue"))
    assert worker_from_ingest(records) == {"batchItemFailures": []}
    assert metric(emitted, "IngestOutcomes", Outcome="ready") == [1]
    assert metric(emitted, "IngestOutcomes", Outcome="rejected") == [1]


def worker_from_ingest(records: list[dict[str, Any]]) -> dict[str, Any]:
    from upload.ingest import handler

    return handler({"Records": records}, None)


def test_the_authorizer_logs_and_counts_each_refusal_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
    emitted: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PROGIMAGE_API_KEY_HASHES", "alpha:" + "0" * 64)
    caplog.set_level(logging.INFO, logger="progimage")
    request = {"routeKey": "POST /jobs", "headers": {"authorization": "Bearer wrong"}}
    assert authorizer.handler(request, None) == {"isAuthorized": False}
    assert authorizer.handler(request | {"headers": {"authorization": "Basic x"}}, None) == {
        "isAuthorized": False
    }
    assert metric(emitted, "Rejections", Reason="forbidden") == [1]
    assert metric(emitted, "Rejections", Reason="unauthorized") == [1]
    refusals = [extra_fields(r) for r in caplog.records if r.name == "progimage"]
    assert [(r["route"], r["error"]) for r in refusals] == [
        ("POST /jobs", "forbidden"),
        ("POST /jobs", "unauthorized"),
    ]


def test_a_sampled_invocation_logs_at_debug_and_the_next_does_not(
    monkeypatch: pytest.MonkeyPatch, emitted: list[dict[str, Any]]
) -> None:
    seen = []
    monkeypatch.setenv(observability.SAMPLE_RATE_ENV, "1")
    with observability.invocation("get") as current:
        seen.append(observability.logger.isEnabledFor(logging.DEBUG))
        assert current.fields["debug_sampled"] is True
    monkeypatch.setenv(observability.SAMPLE_RATE_ENV, "0")
    with observability.invocation("get"):
        seen.append(observability.logger.isEnabledFor(logging.DEBUG))
    assert seen == [True, False]


def test_the_first_invocation_of_a_function_in_a_process_is_its_cold_start(
    monkeypatch: pytest.MonkeyPatch, emitted: list[dict[str, Any]]
) -> None:
    monkeypatch.setattr(observability, "_started", set())
    for _ in range(3):
        with observability.invocation("upload") as current:
            pass
    assert current.fields["cold_start"] is False
    assert metric(emitted, "ColdStarts", Function="upload") == [1]


@given(
    route=st.text(max_size=40),
    reason=st.text(max_size=20) | st.sampled_from(sorted(CODES)),
    fmt=st.text(max_size=6) | st.just("webp"),
    tenant=st.text(max_size=20),
)
def test_no_input_opens_a_new_series(route: str, reason: str, fmt: str, tenant: str) -> None:
    """Whatever a request carries, a dimension takes a value of its closed set or ``other``;
    what identifies a tenant or an image is never a dimension."""
    documents: list[dict[str, Any]] = []
    previous, observability.sink = observability.sink, documents.append
    try:
        with observability.invocation("get", route=route, tenant=tenant, image_id=tenant):
            observability.add("Latency", 1.0)
            observability.add("Rejections", Reason=reason)
            observability.add("Outputs", Format=fmt)
    finally:
        observability.sink = previous
    for document in documents:
        _check_emf(document)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        for name in directive["Dimensions"][0][1:]:
            value = document[name]
            assert value == observability.OTHER or observability._VALUES[name](value)
    (latency,) = [d for d in documents if "Latency" in d]
    assert latency["Route"] == observability.OTHER or latency["Route"] == route
    (rejection,) = [d for d in documents if "Rejections" in d]
    assert rejection["Reason"] == reason if reason in CODES else rejection["Reason"] == "other"
