"""The HttpApi's CorsConfiguration as the local server reads it and answers with it."""

from __future__ import annotations

from typing import Any

import pytest

from localserver.cors import CorsRules
from localserver.intrinsics import NO_VALUE
from localserver.template import TemplateError

CONFIG: dict[str, Any] = {
    "AllowOrigins": ["https://a.example", "http://localhost:8080"],
    "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["Authorization", "Content-Type"],
    "ExposeHeaders": ["ETag", "Location"],
    "MaxAge": "600",
}


@pytest.mark.parametrize("absent", [None, NO_VALUE, False, {"AllowOrigins": []}])
def test_no_configuration_is_no_cors(absent: Any) -> None:
    assert CorsRules.parse(absent, "Api") is None


def test_true_allows_every_origin() -> None:
    rules = CorsRules.parse(True, "Api")
    assert rules is not None
    assert rules.response_headers("https://any.example") == [("Access-Control-Allow-Origin", "*")]


def test_an_allowed_origin_gets_the_headers_and_another_none() -> None:
    rules = CorsRules.parse(CONFIG, "Api")
    assert rules is not None
    assert rules.preflight_headers("http://localhost:8080") == [
        ("Access-Control-Allow-Origin", "http://localhost:8080"),
        ("Vary", "Origin"),
        ("Access-Control-Allow-Methods", "GET,POST"),
        ("Access-Control-Allow-Headers", "Authorization,Content-Type"),
        ("Access-Control-Max-Age", "600"),
    ]
    assert rules.response_headers("https://a.example") == [
        ("Access-Control-Allow-Origin", "https://a.example"),
        ("Vary", "Origin"),
        ("Access-Control-Expose-Headers", "ETag,Location"),
    ]
    for origin in (None, "", "https://b.example", "https://a.example.evil"):
        assert rules.preflight_headers(origin) == []
        assert rules.response_headers(origin) == []


@pytest.mark.parametrize(
    "bad", ["*", {"AllowOrigins": "*"}, {"AllowOrigins": ["*"], "AllowCredentials": True}]
)
def test_what_api_gateway_would_refuse_stops_the_server(bad: Any) -> None:
    with pytest.raises(TemplateError):
        CorsRules.parse(bad, "Api")
