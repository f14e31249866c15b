"""CORS (CorsAllowedOrigins): with origins, the HTTP API and the bucket allow those browsers;
without (the default), neither has any CORS rule. Checked on the template as test_template.py
translates it (offline, the language extensions resolved first), linted and scanned the same."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_template import (
    _fmt,
    _is_chosen_reference,
    _is_resolved_condition,
    _lint,
    _load_sam,
    _resources_of,
    _run_checkov,
    _translate,
)

ORIGINS = "https://app.example.com,http://localhost:8080"


@pytest.fixture(scope="module")
def stacks() -> dict[str, dict[str, Any]]:
    sam = _load_sam()
    return {"none": _translate(sam), "cors": _translate(sam, CorsAllowedOrigins=ORIGINS)}


def _api_cors(cfn: dict[str, Any]) -> dict[str, Any] | None:
    (api,) = _resources_of(cfn, "AWS::ApiGatewayV2::Api").values()
    return api["Properties"]["Body"].get("x-amazon-apigateway-cors")


def _bucket_cors(cfn: dict[str, Any]) -> dict[str, Any] | None:
    return cfn["Resources"]["ImagesBucket"]["Properties"].get("CorsConfiguration")


def _sam_routes(sam: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for resource in sam["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }


def test_the_parameter_takes_origins_or_a_wildcard() -> None:
    parameter = _load_sam()["Parameters"]["CorsAllowedOrigins"]
    pattern = re.compile(parameter["AllowedPattern"])
    for good in ("", "*", ORIGINS, "https://app.example.com", "http://127.0.0.1:8000"):
        assert pattern.fullmatch(good), good
    for bad in ("app.example.com", "https://a.com/", "https://a.com, https://b.com", "*,*", ","):
        assert not pattern.fullmatch(bad), bad


def test_no_cors_by_default(stacks: dict[str, dict[str, Any]]) -> None:
    assert _load_sam()["Parameters"]["CorsAllowedOrigins"]["Default"] == ""
    assert _api_cors(stacks["none"]) is None
    assert _bucket_cors(stacks["none"]) is None


def test_the_api_allows_the_origins_every_method_and_the_headers_it_reads(
    stacks: dict[str, dict[str, Any]],
) -> None:
    cors = _api_cors(stacks["cors"])
    assert cors is not None
    assert cors["allowOrigins"] == ORIGINS.split(",")
    # every method a route has (API Gateway answers the preflight OPTIONS itself)
    assert set(cors["allowMethods"]) == {method for method, _ in _sam_routes(_load_sam())}
    assert {"Authorization", "Content-Type", "Idempotency-Key", "If-None-Match"} <= set(
        cors["allowHeaders"]
    )
    assert set(cors["exposeHeaders"]) == {"ETag", "Location", "Retry-After", "X-Request-Id"}
    assert cors["maxAge"] > 0
    assert not cors.get("allowCredentials")  # keys travel in Authorization, never cookies


def test_the_bucket_allows_presigned_posts_and_redirected_gets(
    stacks: dict[str, dict[str, Any]],
) -> None:
    cors = _bucket_cors(stacks["cors"])
    assert cors is not None
    (rule,) = cors["CorsRules"]
    assert rule["AllowedOrigins"] == ORIGINS.split(",")
    assert set(rule["AllowedMethods"]) == {"POST", "GET", "HEAD"}
    assert rule["AllowedHeaders"] == ["*"]  # a presigned POST's form carries no custom header
    assert set(rule["ExposedHeaders"]) == {"ETag", "Location"}


@pytest.mark.parametrize("variant", ["none", "cors"])
def test_cors_stacks_lint_clean(stacks: dict[str, dict[str, Any]], variant: str) -> None:
    problems = [
        m
        for m in _lint(stacks[variant])
        if m.rule.id[0] in "EW"
        and not _is_chosen_reference(m, "ApiKey", "Off")
        and not _is_resolved_condition(m)
    ]
    assert not problems, _fmt(problems)


def test_cors_stack_passes_checkov(stacks: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    (tmp_path / "cors.json").write_text(json.dumps(stacks["cors"], indent=1))
    results = _run_checkov(tmp_path)
    assert set(results) == {"cors.json"}
    failures, _ = results["cors.json"]
    assert not failures, "\n".join(failures)
