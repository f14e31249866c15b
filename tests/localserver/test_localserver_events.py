"""Mapping function results to HTTP responses, and the context object, without a server."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from localserver.events import (
    InvalidResponse,
    LambdaContext,
    is_text_content_type,
    serialize_result,
    to_http_response,
)


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/problem+json", True),
        ("text/html", True),
        ("application/x-www-form-urlencoded", True),
        ("image/png", False),
        ("application/octet-stream", False),
        ("multipart/form-data; boundary=x", False),
        (None, False),
    ],
)
def test_text_content_types(content_type: str | None, text: bool) -> None:
    assert is_text_content_type(content_type) is text


def test_full_response() -> None:
    response = to_http_response(
        {
            "statusCode": 201,
            "headers": {"Location": "/images/x", "X-Count": 3},
            "cookies": ["a=1"],
            "body": '{"id": "x"}',
        }
    )
    assert response.status == 201
    assert response.headers == [("Location", "/images/x"), ("X-Count", "3"), ("Set-Cookie", "a=1")]
    assert response.body == b'{"id": "x"}'


def test_base64_body_is_decoded() -> None:
    data = bytes(range(256))
    response = to_http_response(
        {"statusCode": 200, "body": base64.b64encode(data).decode(), "isBase64Encoded": True}
    )
    assert response.body == data


@pytest.mark.parametrize(
    ("result", "body"),
    [
        ({"id": "x"}, b'{"id": "x"}'),
        ([1, 2], b"[1, 2]"),
        ("plain text", b"plain text"),
        (None, b"null"),
        ({"n": Decimal("2"), "f": Decimal("1.5")}, b'{"n": 2, "f": 1.5}'),
    ],
)
def test_inferred_response(result: object, body: bytes) -> None:
    response = to_http_response(result)
    assert response.status == 200
    assert response.headers == [("Content-Type", "application/json")]
    assert response.body == body


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "abc"},
        {"statusCode": 99},
        {"statusCode": True},
        {"statusCode": 200, "body": b"bytes"},
        {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
        {"statusCode": 200, "headers": {"X": ["a", "b"]}},
        {"statusCode": 200, "cookies": "a=1"},
    ],
)
def test_invalid_results(result: dict) -> None:
    with pytest.raises(InvalidResponse):
        to_http_response(result)


def test_results_must_serialize_to_json() -> None:
    with pytest.raises(InvalidResponse, match="JSON"):
        serialize_result({"x": object()})


def test_context_counts_down() -> None:
    context = LambdaContext(function_name="f", memory_limit_in_mb=512, timeout_s=3)
    assert 2900 < context.get_remaining_time_in_millis() <= 3000
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:f"
    assert context.log_group_name == "/aws/lambda/f"
