"""Payload format 2.0: HTTP request → Lambda event, Lambda result → HTTP response.

This mirrors what an API Gateway HTTP API sends to a Lambda proxy integration and how it
reads the answer, so handlers see locally what they will see on AWS.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from .intrinsics import ACCOUNT_ID, REGION

API_ID = "local"
STAGE = "$default"

# Bodies of these content types reach the function as text; all others base64-encoded.
TEXT_MEDIA_TYPES = frozenset(
    {
        "application/json",
        "application/x-www-form-urlencoded",
        "application/xml",
        "application/javascript",
    }
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def is_text_content_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return (
        media_type.startswith("text/")
        or media_type in TEXT_MEDIA_TYPES
        or media_type.endswith(("+json", "+xml"))
    )


def new_request_id() -> str:
    """An id shaped like API Gateway's (``"JcS0ciGyIAMEVNw="``)."""
    return base64.b64encode(secrets.token_bytes(11)).decode()


def _trace_id(now: float) -> str:
    return f"Root=1-{int(now):08x}-{secrets.token_hex(12)}"


def _clf_time(moment: datetime) -> str:
    """``12/Mar/2020:19:03:58 +0000``, independent of the locale."""
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


def raw_path_and_query(environ: dict[str, Any]) -> tuple[str, str]:
    """The request target exactly as the client sent it, split into path and query."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target:
        # The WSGI server hands it over as latin-1 text; undo that to get the bytes back.
        target = target.encode("latin-1").decode("utf-8", "replace")
        if not target.startswith("/"):  # absolute-form, e.g. through a proxy
            parts = urlsplit(target)
            return parts.path or "/", parts.query
        path, _, query = target.partition("?")
        return path or "/", query
    path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
    return quote(path, safe="/:@!$&'()*+,;=-._~") or "/", environ.get("QUERY_STRING", "")


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """Header names lower-cased; the WSGI server has already comma-joined duplicates."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key
        else:
            continue
        headers[name.lower().replace("_", "-")] = value.encode("latin-1").decode("utf-8", "replace")
    return headers


def build_event(
    environ: dict[str, Any],
    *,
    body: bytes,
    route_key: str,
    path_parameters: dict[str, str],
    request_id: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway would send for this request."""
    now = time.time() if now is None else now
    raw_path, raw_query = raw_path_and_query(environ)
    headers = request_headers(environ)
    source_ip = environ.get("REMOTE_ADDR", "127.0.0.1")
    cookie_header = headers.pop("cookie", "")
    forwarded_for = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded_for}, {source_ip}" if forwarded_for else source_ip
    headers.setdefault("x-forwarded-proto", environ.get("wsgi.url_scheme", "http"))
    headers.setdefault("x-forwarded-port", str(environ.get("SERVER_PORT", "")))
    headers.setdefault("x-amzn-trace-id", _trace_id(now))
    host = headers.get("host", environ.get("SERVER_NAME", "localhost")).split(":")[0]

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    cookies = [c.strip() for c in cookie_header.split(";") if c.strip()]
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": environ["REQUEST_METHOD"],
            "path": raw_path,
            "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": STAGE,
        "time": _clf_time(datetime.fromtimestamp(now, UTC)),
        "timeEpoch": int(now * 1000),
    }
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        if is_text_content_type(headers.get("content-type")):
            try:
                event["body"] = body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                pass
        if "body" not in event:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


@dataclass
class LambdaContext:
    """The ``context`` argument of a Lambda handler (the attributes handlers use)."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    region: str = REGION
    account_id: str = ACCOUNT_ID
    identity: Any = None
    client_context: Any = None
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]local"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started
        return max(0, int((self.timeout_s - elapsed) * 1000))


class InvalidResponse(Exception):
    """The function's result is not something API Gateway can turn into a response."""


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def message_response(status: int, message: str) -> HttpResponse:
    """API Gateway's own error answers, e.g. ``404 {"message":"Not Found"}``."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, [("Content-Type", "application/json")], body)


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidResponse(f"header {name!r} must be a string, got {type(value).__name__}")


def _json_default(value: Any) -> Any:
    # The Lambda Python runtime serializes Decimal (as DynamoDB returns numbers) too.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def serialize_result(result: Any) -> str:
    """The function's result as the Lambda runtime sends it: JSON (raises InvalidResponse)."""
    try:
        return json.dumps(result, default=_json_default)
    except (TypeError, ValueError) as error:
        raise InvalidResponse(f"the result cannot be serialized to JSON: {error}") from None


def to_http_response(result: Any) -> HttpResponse:
    """Map a function's return value to the HTTP response, as payload format 2.0 does.

    A dict with ``statusCode`` is a full response; anything else is the JSON body of a 200
    ("inferred" format; a string is the body itself). Raises :class:`InvalidResponse` for
    results API Gateway would turn into a 500.
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else serialize_result(result)
        return HttpResponse(200, [("Content-Type", "application/json")], body.encode())

    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise InvalidResponse(f"statusCode must be an HTTP status, got {status!r}")

    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((name, _header_value(name, value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if not isinstance(values, list):
            raise InvalidResponse(f"multiValueHeaders[{name!r}] must be a list")
        headers.extend((name, _header_value(name, value)) for value in values)
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise InvalidResponse("cookies must be a list of strings")
    headers.extend(("Set-Cookie", _header_value("cookies", cookie)) for cookie in cookies)

    body = result.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise InvalidResponse(f"body must be a string, got {type(body).__name__}")
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidResponse(
                f"isBase64Encoded is true but the body is not base64: {error}"
            ) from None
    else:
        data = body.encode("utf-8")
    return HttpResponse(status, headers, data)
