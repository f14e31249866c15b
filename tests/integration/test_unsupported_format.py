"""An output format outside the allowlist is 415 unsupported_format, by URL and by JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest

from get.app import handler as get_handler
from progimage_service.auth import DEFAULT_TENANT
from progimage_service.signing import signed_path
from progimage_service.wiring import dependencies
from tests.integration.conftest import EXAMPLE_ID, Aws, call, event
from transform.app import handler as transform_handler

LONG = "svg" * 3_000


def get_converted(extension: str) -> dict[str, Any]:
    path = f"/images/{EXAMPLE_ID}.{extension}"
    request = event("get-image-webp")
    request["pathParameters"]["id"] = f"{EXAMPLE_ID}.{extension}"
    request["rawPath"] = path
    keys = dependencies().signing_keys()
    if keys:  # signed as the API hands out its URLs, so that the format is what is refused
        query = signed_path(keys[0], DEFAULT_TENANT, path, 60).partition("?")[2]
        request |= {"rawQueryString": query, "queryStringParameters": dict(parse_qsl(query))}
    answer = call(get_handler, request)
    assert answer.status == 415, answer.body
    return answer.json()["error"]


def transform_to(fmt: str) -> dict[str, Any]:
    body = {"source": {"id": EXAMPLE_ID}, "ops": "grayscale", "format": fmt}
    answer = call(transform_handler, event("post-transform-json") | {"body": json.dumps(body)})
    assert answer.status == 415, answer.body
    return answer.json()["error"]


@pytest.mark.parametrize("ask", [get_converted, transform_to])
def test_svg_is_an_unsupported_format(aws: Aws, ask: Callable[[str], dict[str, Any]]) -> None:
    error = ask("svg")
    assert error["code"] == "unsupported_format"
    assert error["param"] == "format"
    assert "'svg'" in error["message"] and "webp" in error["message"]
    assert not aws.object_keys()


@pytest.mark.parametrize("ask", [get_converted, transform_to])
def test_a_long_format_is_not_echoed_whole(aws: Aws, ask: Callable[[str], dict[str, Any]]) -> None:
    error = ask(LONG)
    assert error["code"] == "unsupported_format"
    assert len(error["message"]) < 200
    assert "…" in error["message"]
