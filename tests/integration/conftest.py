"""Handlers against moto: the bucket and table are created from template.yaml, as deployed."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localserver.environment import function_environment
from localserver.intrinsics import Resolver
from localserver.moto_fidelity import atomic_dynamodb_writes
from localserver.resources import ProvisionContext, provision_all
from localserver.template import Template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
EXAMPLE_ID = "0Ojp8iUHJrV2bQ4mJmGpV1rNY"


@dataclass
class Aws:
    """The moto account the handlers run against."""

    bucket: str
    table: str

    @property
    def s3(self) -> Any:
        return boto3.client("s3")

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs")

    @property
    def dynamodb(self) -> Any:
        return boto3.client("dynamodb")

    def object_keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def records(self) -> list[dict[str, Any]]:
        """The image records (not jobs)."""
        items = self.dynamodb.scan(TableName=self.table)["Items"]
        return [item for item in items if item["pk"]["S"].startswith("IMG#")]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    atomic_dynamodb_writes()  # as DynamoDB's are: the tests run workers on threads
    with mock_aws():
        template = Template.load(ROOT / "template.yaml")
        resolver = Resolver(template, resources={}, stack_name="test")
        provision_all(template, ProvisionContext(resolver=resolver, endpoint_url=None))
        environment = function_environment(template.functions.values(), resolver)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        yield Aws(environment["PROGIMAGE_BUCKET"], environment["PROGIMAGE_TABLE"])


@pytest.fixture
def configure(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Change the functions' environment for one test."""

    def apply(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return apply


def event(name: str, **changes: Any) -> dict[str, Any]:
    """A sample event from events/, with the example id replaced and fields changed."""
    loaded = json.loads((EVENTS / f"{name}.json").read_text())
    image_id = changes.pop("id", None)
    if image_id is not None:
        loaded = json.loads(json.dumps(loaded).replace(EXAMPLE_ID, image_id))
    result = copy.deepcopy(loaded)
    for key, value in changes.items():
        if key == "headers":
            result["headers"] = result.get("headers", {}) | value
        else:
            result[key] = value
    return result


def http_event(method: str, route: str, path: str, **fields: Any) -> dict[str, Any]:
    """An HTTP API event for any request, built on the shape of the sample events."""
    base = event("list-images")
    base.pop("queryStringParameters", None)
    base |= {"routeKey": f"{method} {route}", "rawPath": path, "rawQueryString": ""}
    base["requestContext"] = base["requestContext"] | {
        "routeKey": f"{method} {route}",
        "http": base["requestContext"]["http"] | {"method": method, "path": path},
    }
    for key, value in fields.items():
        base[key] = base.get(key, {}) | value if key == "headers" else value
    return base


def with_body(event_: dict[str, Any], data: bytes, content_type: str) -> dict[str, Any]:
    return event_ | {
        "body": base64.b64encode(data).decode(),
        "isBase64Encoded": True,
        "headers": event_["headers"] | {"content-type": content_type},
    }


@dataclass
class Answer:
    """A handler's result, decoded."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("Content-Type") == "application/json", self.headers
        return json.loads(self.body)


def call(handler: Any, event_: dict[str, Any]) -> Answer:
    result = handler(event_, None)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return Answer(result["statusCode"], result.get("headers", {}), raw)


def as_tenant(event_: dict[str, Any], tenant: str | None) -> dict[str, Any]:
    """The event as the authorizer hands it on for ``tenant`` (None: no credentials at all)."""
    result = copy.deepcopy(event_)
    context = result.setdefault("requestContext", {})
    if tenant is None:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {"lambda": {"tenant": tenant}}
    return result
