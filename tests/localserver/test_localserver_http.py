"""The local server over real HTTP: routing, event shape, responses, resources in moto."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from localserver import LocalServer

pytestmark = pytest.mark.e2e


def aws(server: LocalServer, service: str) -> Any:
    """A boto3 client for the server's moto endpoint."""
    return boto3.client(
        service,
        endpoint_url=server.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def echo(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["event"]


# -- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "route_key", "parameters"),
    [
        ("/images/abc", "GET /images/{id}", {"id": "abc"}),
        ("/images/abc/info", "GET /images/{id}/info", {"id": "abc"}),
        (
            "/images/abc/resize:800:600:fill/rotate:90/grayscale.webp",
            "GET /images/{id}/{pipeline+}",
            {"id": "abc", "pipeline": "resize:800:600:fill/rotate:90/grayscale.webp"},
        ),
        ("/images/abc/thumbnail:256.jpg", "GET /images/{id}/{pipeline+}", None),
        ("/images/abc/info/more", "GET /images/{id}/{pipeline+}", None),
        ("/", "GET /", None),
    ],
)
def test_the_most_specific_route_wins(
    server: LocalServer, path: str, route_key: str, parameters: dict[str, str] | None
) -> None:
    event = echo(requests.get(server.url + path, timeout=10))
    assert event["routeKey"] == route_key
    assert event["requestContext"]["routeKey"] == route_key
    if parameters is not None:
        assert event["pathParameters"] == parameters


def test_any_method_and_greedy_parameter(server: LocalServer) -> None:
    event = echo(requests.patch(f"{server.url}/any/a/b/c", timeout=10))
    assert event["routeKey"] == "ANY /any/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c"}
    assert event["requestContext"]["http"]["method"] == "PATCH"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nowhere"),
        ("GET", "/images"),  # no such route in the fixture
        ("GET", "/images/"),  # an empty {id} does not match
        ("DELETE", "/images/abc"),  # the path exists, the method does not: still 404
        ("GET", "/any"),  # a greedy parameter needs at least one segment
    ],
)
def test_unknown_routes_answer_404_like_api_gateway(
    server: LocalServer, method: str, path: str
) -> None:
    response = requests.request(method, server.url + path, timeout=10)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["apigw-requestid"]


# -- the event ----------------------------------------------------------------------------


def test_event_has_the_payload_format_2_shape(server: LocalServer) -> None:
    sent_ms = time.time_ns() // 1_000_000  # the server runs in this process, on this clock
    response = requests.get(
        f"{server.url}/images/abc%20def?b=2&a=1&a=3&empty=&sp=x+y",
        headers={"X-Custom-Header": "One", "Cookie": "c1=v1; c2=v2", "User-Agent": "tests/1.0"},
        timeout=10,
    )
    answered_ms = time.time_ns() // 1_000_000
    event = echo(response)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /images/{id}"
    assert event["rawPath"] == "/images/abc%20def"
    assert event["rawQueryString"] == "b=2&a=1&a=3&empty=&sp=x+y"
    assert event["queryStringParameters"] == {"b": "2", "a": "1,3", "empty": "", "sp": "x y"}
    assert event["pathParameters"] == {"id": "abc def"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["isBase64Encoded"] is False
    assert "body" not in event

    headers = event["headers"]
    assert all(name == name.lower() for name in headers)
    assert headers["x-custom-header"] == "One"
    assert headers["user-agent"] == "tests/1.0"
    assert "cookie" not in headers
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == str(urlsplit(server.url).port)

    context = event["requestContext"]
    assert context["accountId"] == "123456789012"
    assert context["apiId"]
    assert context["domainName"] == "127.0.0.1"
    assert context["stage"] == "$default"
    assert context["requestId"] == response.headers["apigw-requestid"]
    assert context["http"] == {
        "method": "GET",
        "path": "/images/abc%20def",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/1.0",
    }
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["time"])
    # Milliseconds since the epoch, of the instant "time" gives to the second, between the
    # request and its answer.
    epoch_ms = context["timeEpoch"]
    assert isinstance(epoch_ms, int)
    assert sent_ms <= epoch_ms <= answered_ms
    in_seconds = datetime.strptime(context["time"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
    assert in_seconds == epoch_ms // 1000


def test_event_without_query_cookies_or_parameters_omits_those_keys(server: LocalServer) -> None:
    event = echo(requests.post(f"{server.url}/echo", timeout=10))
    assert event["rawQueryString"] == ""
    for key in ("queryStringParameters", "cookies", "pathParameters", "body"):
        assert key not in event


def test_duplicate_headers_are_comma_joined(server: LocalServer) -> None:
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.putrequest("GET", "/images/x")
        connection.putheader("X-Dup", "first")
        connection.putheader("X-Dup", "second")
        connection.endheaders()
        answer = connection.getresponse()
        event = json.loads(answer.read())["event"]
    finally:
        connection.close()
    assert event["headers"]["x-dup"] == "first,second"


def test_the_context_object(server: LocalServer) -> None:
    context = requests.get(f"{server.url}/images/x", timeout=10).json()["context"]
    assert context["function_name"] == "progimage-local-EchoFunction"
    assert context["memory_limit_in_mb"] == 256
    assert context["invoked_function_arn"].endswith(":function:progimage-local-EchoFunction")
    assert re.fullmatch(r"[0-9a-f-]{36}", context["aws_request_id"])
    assert 0 < context["remaining_ms"] <= 10_000


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain; charset=utf-8", "application/x-www-form-urlencoded"],
)
def test_text_bodies_arrive_as_text(server: LocalServer, content_type: str) -> None:
    body = '{"name": "café"}' if "json" in content_type else "a=1&b=caf%C3%A9"
    event = echo(
        requests.post(
            f"{server.url}/echo",
            data=body.encode(),
            headers={"Content-Type": content_type},
            timeout=10,
        )
    )
    assert event["isBase64Encoded"] is False
    assert event["body"] == body


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream", None])
def test_binary_bodies_arrive_base64_encoded(server: LocalServer, content_type: str | None) -> None:
    data = bytes(range(256)) * 3
    headers = {"Content-Type": content_type} if content_type else {}
    event = echo(requests.post(f"{server.url}/echo", data=data, headers=headers, timeout=10))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data


def test_multipart_bodies_arrive_base64_encoded(server: LocalServer) -> None:
    files = {"file": ("a.png", b"\x89PNG\r\n\x1a\n\x00\xff", "image/png")}
    event = echo(requests.post(f"{server.url}/echo", files=files, timeout=10))
    assert event["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert event["isBase64Encoded"] is True
    assert b"\x89PNG\r\n\x1a\n\x00\xff" in base64.b64decode(event["body"])


# -- responses ----------------------------------------------------------------------------


def test_binary_round_trip(server: LocalServer) -> None:
    data = bytes(range(256)) * 100 + b"\xff\xfe not utf-8"
    response = requests.post(
        f"{server.url}/binary",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Was-Base64"] == "True"
    assert response.content == data


def test_inferred_response_from_a_dict_and_a_string(server: LocalServer) -> None:
    response = requests.get(f"{server.url}/env", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["FIXTURE_GREETING"] == "hello"

    response = requests.get(f"{server.url}/misc/string", timeout=10)
    assert response.status_code == 200
    assert response.text == "just a string"


def test_cookies_and_multi_value_headers(server: LocalServer) -> None:
    response = requests.get(f"{server.url}/misc/cookies", timeout=10)
    assert response.status_code == 204
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert response.raw.headers.getlist("X-Multi") == ["one", "two"]


def test_status_codes_pass_through(server: LocalServer) -> None:
    response = requests.get(f"{server.url}/misc/other", timeout=10)
    assert (response.status_code, response.text) == (418, "teapot")


def test_a_handler_exception_is_a_logged_500(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="localserver"):
        response = requests.get(f"{server.url}/misc/boom", timeout=10)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info is not None
    assert "MiscFunction" in errors[0].getMessage()
    assert "boom in a handler" in caplog.text
    assert any("GET /misc/boom -> 500" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("case", ["bad-body", "bad-status", "huge"])
def test_an_invalid_result_is_a_logged_500(
    server: LocalServer, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="localserver"):
        response = requests.get(f"{server.url}/misc/{case}", timeout=30)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "invalid response" in caplog.text


def test_an_event_over_lambdas_limit_is_refused(server: LocalServer) -> None:
    response = requests.post(
        f"{server.url}/echo",
        data=b"\0" * (5 * 1024 * 1024),  # 6.7 MB once base64-encoded
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}


# -- resources and environment ------------------------------------------------------------


def test_environment_resolves_refs_to_the_local_resources(server: LocalServer) -> None:
    env = requests.get(f"{server.url}/env", timeout=10).json()
    assert env["FIXTURE_BUCKET"] == "progimage-local-bucket"
    assert env["FIXTURE_TABLE"] == "progimage-local-table"
    assert env["FIXTURE_TABLE_ARN"] == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/progimage-local-table"
    )
    assert env["FIXTURE_SUB"] == "progimage-local-bucket/hello/us-east-1/${Literal}"
    assert env["FIXTURE_QUEUE_URL"].endswith("/progimage-local-queue")
    assert env["FIXTURE_FLAVOUR"] == "is-plain"
    assert env["FIXTURE_PIXELS"] == "64"
    assert env["FIXTURE_NUMBER"] == "42"
    assert env["AWS_ENDPOINT_URL"] == server.aws_endpoint
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"


def test_resources_exist_in_moto(server: LocalServer) -> None:
    buckets = {b["Name"] for b in aws(server, "s3").list_buckets()["Buckets"]}
    assert {"progimage-local-bucket", "fixture-named-bucket"} <= buckets

    dynamodb = aws(server, "dynamodb")
    table = dynamodb.describe_table(TableName="progimage-local-table")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-created"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["list_pk", "list_sk"]
    ttl = dynamodb.describe_time_to_live(TableName="progimage-local-table")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"

    sqs = aws(server, "sqs")
    url = server.resources["Queue"].ref
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "60"
    assert server.resources["DeadLetters"].attributes["Arn"] in attributes["RedrivePolicy"]


def test_presigned_urls_work_from_any_http_client(server: LocalServer) -> None:
    data = b"\x00\x01 stored by a handler"
    response = requests.put(
        f"{server.url}/objects/a-key",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    url = response.json()["url"]
    assert url.startswith(server.aws_endpoint)
    assert requests.get(url, timeout=10).content == data

    post = aws(server, "s3").generate_presigned_post("progimage-local-bucket", "uploads/x")
    answer = requests.post(
        post["url"], data=post["fields"], files={"file": ("x", b"form upload")}, timeout=10
    )
    assert answer.status_code in (200, 204), answer.text
    body = aws(server, "s3").get_object(Bucket="progimage-local-bucket", Key="uploads/x")["Body"]
    assert body.read() == b"form upload"


def test_reset_empties_moto_and_recreates_resources(server: LocalServer) -> None:
    s3 = aws(server, "s3")
    s3.put_object(Bucket="progimage-local-bucket", Key="left-over", Body=b"x")
    server.reset()
    assert s3.list_objects_v2(Bucket="progimage-local-bucket").get("KeyCount") == 0
    aws(server, "dynamodb").describe_table(TableName="progimage-local-table")
    assert requests.get(f"{server.url}/env", timeout=10).status_code == 200


def test_invoke_calls_a_handler_directly(server: LocalServer) -> None:
    result = server.invoke("EnvFunction", {})
    assert result["FIXTURE_GREETING"] == "hello"
