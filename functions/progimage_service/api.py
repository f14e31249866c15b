"""The HTTP edge: API Gateway HTTP API (payload 2.0) events in, responses out, errors mapped.

Handlers declare a table of route keys to routes; `router` turns it into the Lambda entry point.
Each route says what its caller must show: `credentials(handler)` (an API key's or IAM
principal's tenant), `signed(handler)` (a signed URL, where signing keys are configured) or
`public(handler)` (nothing). The router checks that before the handler runs and hands the
handler the tenant it established; a bare function in a table is refused when the table is
built, so no route is open by omission. Strict presets (``presets_only``) are that same check:
a signed route that names how its handler reads its pipeline serves an unsigned request whose
pipeline is presets alone. This is also the one place where a `ProgImageError` becomes an HTTP
error body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC
from email.utils import format_datetime
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import observability
from .adapters.dynamodb import IdempotencyTable
from .auth import is_tenant, tenant_of_principal
from .errors import BadRequest, Conflict, Forbidden, ProgImageError, TooLarge, Unauthorized
from .inputs import decimal, echo, json_document, utf8
from .services.delivery import Asked, Delivery
from .signing import verify
from .wiring import dependencies

if TYPE_CHECKING:
    from .imaging.pipeline import Pipeline

logger = logging.getLogger("progimage")

# Served with every response: never let a browser guess a type.
_BASE_HEADERS = {"X-Content-Type-Options": "nosniff"}
IMMUTABLE = "public, max-age=31536000, immutable"
# What a URL naming presets answers changes when a preset is saved again: caches keep it for a
# minute (the origin never serves an edited preset's old variant; see Pipeline.variant_name).
SHORT_LIVED = "public, max-age=60"
MAX_MULTIPART_FILES = 100  # as many as one POST /batch takes
_PART_HEADERS = 8


@dataclass(frozen=True)
class Request:
    """The parts of an HTTP API event that handlers use."""

    event: Mapping[str, Any]

    @property
    def route_key(self) -> str:
        return str(self.event.get("routeKey", ""))

    @property
    def request_id(self) -> str:
        return str(self.event.get("requestContext", {}).get("requestId", ""))

    def path_param(self, name: str) -> str:
        return str((self.event.get("pathParameters") or {}).get(name, ""))

    def query(self, name: str) -> str | None:
        return (self.event.get("queryStringParameters") or {}).get(name)

    def header(self, name: str) -> str | None:
        """A header by name, whatever its case (API Gateway lower-cases names; not every
        emulator does)."""
        return self._headers.get(name.lower())

    @cached_property
    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in (self.event.get("headers") or {}).items()}

    @property
    def raw_path(self) -> str:
        return str(self.event.get("rawPath", ""))

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    @property
    def has_image_body(self) -> bool:
        """Is the body raw image bytes (``image/*``, ``application/octet-stream`` or untyped)?
        The bytes themselves are sniffed later: the type only says how to read the body."""
        kind = self.content_type
        return kind.startswith("image/") or kind in ("application/octet-stream", "")

    def body(self, max_bytes: int) -> bytes:
        """The raw body, refused with 413 before decoding if it cannot fit in max_bytes."""
        raw = self.event.get("body") or ""
        if not self.event.get("isBase64Encoded"):
            data = utf8(raw)
            if len(data) > max_bytes:
                raise TooLarge(f"body is over {max_bytes} bytes", param="body")
            return data
        if len(raw) * 3 // 4 > max_bytes + 2:
            raise TooLarge(f"body is over {max_bytes} bytes", param="body")
        try:
            return base64.b64decode(raw)
        except (binascii.Error, ValueError) as error:  # API Gateway's encoding never fails
            raise BadRequest("body is not valid base64", param="body") from error

    def json(self, max_bytes: int) -> Any:
        return json_document(self.body(max_bytes))


@dataclass
class Response:
    status: int
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)

    def to_event(self, request_id: str) -> dict[str, Any]:
        headers = _BASE_HEADERS | self.headers
        if request_id:
            headers["X-Request-Id"] = request_id
        if isinstance(self.body, bytes):
            return {
                "statusCode": self.status,
                "headers": headers,
                "body": base64.b64encode(self.body).decode(),
                "isBase64Encoded": True,
            }
        return {
            "statusCode": self.status,
            "headers": headers,
            "body": self.body,
            "isBase64Encoded": False,
        }


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        status,
        json.dumps(payload, separators=(",", ":")),
        {"Content-Type": "application/json"} | dict(headers or {}),
    )


def no_content() -> Response:
    return Response(204, "")


def asked(request: Request) -> Asked:
    """What a GET asks of its answer: its conditions and ``?download=NAME``."""
    return Asked(
        request.header("if-none-match"),
        request.header("if-modified-since"),
        request.query("download"),
    )


def delivery_response(
    delivery: Delivery, negotiated: bool = False, lasting: bool = True
) -> Response:
    """Inline bytes (200), a redirect to the stored object (307), or 304; ``negotiated``: the
    format was chosen by the Accept header, which caches must then key on; ``lasting``: the
    URL always answers these bytes (else caches keep them for a minute)."""
    headers = {"ETag": delivery.etag, "Cache-Control": IMMUTABLE if lasting else SHORT_LIVED}
    if delivery.cache is not None:
        headers["X-Variant-Cache"] = delivery.cache
    if delivery.last_modified is not None:
        when = delivery.last_modified.astimezone(UTC)
        headers["Last-Modified"] = format_datetime(when, usegmt=True)
    if negotiated:
        headers["Vary"] = "Accept"
    if delivery.disposition is not None:
        headers["Content-Disposition"] = delivery.disposition
    if delivery.not_modified:
        return Response(304, "", headers)
    if delivery.url is not None:
        return Response(307, "", headers | {"Location": delivery.url, "Cache-Control": "no-store"})
    return Response(200, delivery.body or b"", headers | {"Content-Type": delivery.content_type})


def error_response(error: ProgImageError) -> Response:
    retry = {"Retry-After": "1"} if error.status in (429, 503) else {}
    return json_response(error.status, {"error": error.body()}, retry)


def parse_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high], or a 400 naming it.

    Only plain decimal digits (see :func:`inputs.decimal`).
    """
    raw = request.query(name)
    if raw is None:
        return default
    value = decimal(raw)
    if value is None:
        raise BadRequest(f"{name} must be an integer, got {echo(raw)}", param=name)
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}", param=name)
    return value


Handler = Callable[[Request], Response]
"""A public route's handler."""
TenantHandler = Callable[[Request, str], Response]
"""A handler that acts for the caller's tenant, as the caller's credentials establish it."""
SignedHandler = Callable[[Request, str | None], Response]
"""A handler for a URL anyone may call if it is signed: the signing tenant, or None when no
signing keys are configured (the unguessable id alone protects the image)."""


class Needs(Enum):
    """What a caller must show before a route's handler runs."""

    CREDENTIALS = "credentials"
    SIGNATURE = "signature"
    NOTHING = "nothing"


PipelineReader = Callable[[Request], "Pipeline"]
"""How a handler reads the pipeline its request asks for (the one parse, shared with the
strict-presets check)."""


@dataclass(frozen=True)
class Route:
    """A handler and what its caller must show; made by `credentials`, `signed` or `public`."""

    needs: Needs
    handler: Callable[..., Response]
    # A signed route that renders a pipeline: how its handler reads it (see `signed`).
    pipeline: PipelineReader | None = None

    def serve(self, request: Request) -> Response:
        """Check what the route needs (401 or 403 if it is missing), then call the handler."""
        if self.needs is Needs.CREDENTIALS:
            tenant: str | None = _credentialed_tenant(request)
        elif self.needs is Needs.SIGNATURE:
            _through_cdn(request)
            tenant = _signed_tenant(request, self.pipeline)
        else:
            _through_cdn(request)
            return self.handler(request)
        observability.annotate(tenant=tenant)
        return self.handler(request, tenant)


def credentials(handler: TenantHandler) -> Route:
    """A route for callers with credentials; the handler is given their tenant."""
    return Route(Needs.CREDENTIALS, handler)


def signed(handler: SignedHandler, pipeline: PipelineReader | None = None) -> Route:
    """A route anyone may call with a signed URL (any URL while no signing keys are
    configured); the handler is given the signing tenant, or None without keys or signature.

    ``pipeline``: how the handler reads the request's pipeline. With strict presets, a request
    without a valid signature is then served if that pipeline is presets alone (resolved
    against the image owner's presets, as the handler is given no tenant)."""
    return Route(Needs.SIGNATURE, handler, pipeline)


def public(handler: Handler) -> Route:
    """A route anyone may call: the explicit way to leave one open."""
    return Route(Needs.NOTHING, handler)


def _credentialed_tenant(request: Request) -> str:
    """The caller's tenant, as the authorizer established it, and from nowhere else.

    An API key's tenant comes in the Lambda authorizer's context; an IAM caller's principal
    is mapped to its tenant by the deployer's ``PROGIMAGE_IAM_TENANTS``. With neither, the
    request carries no credentials: 401, unless the local server's open mode names a tenant.
    """
    authorizer = request.event.get("requestContext", {}).get("authorizer") or {}
    named = (authorizer.get("lambda") or {}).get("tenant")
    if isinstance(named, str) and is_tenant(named):
        return named
    settings = dependencies().settings
    principal = (authorizer.get("iam") or {}).get("userArn")
    if isinstance(principal, str):
        found = tenant_of_principal(principal, dict(settings.iam_tenants))
        if found is None:
            raise Forbidden("this IAM principal belongs to no tenant")
        return found
    if settings.open_tenant is not None:
        return settings.open_tenant
    raise Unauthorized("this route needs credentials (Authorization: Bearer <key>)")


def _through_cdn(request: Request) -> None:
    """With CdnOnly, a route open to anyone answers only what came through the CDN: 403 unless
    X-Origin-Verify holds the value CloudFront adds (compared in constant time)."""
    expected = dependencies().origin_verify()
    if expected and not hmac.compare_digest(
        utf8(request.header("x-origin-verify") or ""), utf8(expected)
    ):
        raise Forbidden("image URLs are served through the CDN only; use its URL")


def _signed_tenant(request: Request, pipeline: PipelineReader | None = None) -> str | None:
    """With signing keys configured, the tenant whose key signed this exact path (else 403);
    without, None: the unguessable id alone protects the image.

    Strict presets: a request without a valid signature to a route that reads a pipeline is
    served (with no tenant) when every step of that pipeline, as its handler reads it, names a
    preset; anything else, or a pipeline that does not parse, keeps the signature's 403."""
    deps = dependencies()
    keys = deps.signing_keys()
    if not keys:
        return None
    try:
        return verify(
            keys,
            request.raw_path,
            request.query("tenant"),
            request.query("sig"),
            request.query("exp"),
        )
    except Forbidden:
        if (
            pipeline is None
            or not deps.settings.presets_only
            or not _presets_only(request, pipeline)
        ):
            raise
        observability.annotate(unsigned="presets")
        return None


def _presets_only(request: Request, pipeline: PipelineReader) -> bool:
    """Is the request's pipeline, read as its handler reads it, presets alone?"""
    try:
        return pipeline(request).presets_only
    except ProgImageError:
        return False


def _forget(table: IdempotencyTable, key: str) -> None:
    """Release a claim so a retry can do the work; if even that fails, its lease lapses."""
    try:
        table.release(key)
    except ProgImageError as error:
        logger.warning("an idempotency key was not released: %s", error.message)


def idempotent(handler: TenantHandler) -> TenantHandler:
    """Honour an ``Idempotency-Key`` header: a retried request gets the first answer.

    The key is claimed before the work starts; a second request with the same key gets the
    stored answer, or 409 while the first is still running, or 409 if its body differs. A 5xx
    (or an unexpected failure) releases the key so that the retry does the work. If the answer
    of work that succeeded cannot be saved, the client still gets it; the claim's lease then
    lapses, after which the key can be used again.
    """

    def guarded(request: Request, tenant: str) -> Response:
        key = request.header("idempotency-key")
        if not key:
            return handler(request, tenant)
        if len(key) > 255:
            raise BadRequest("Idempotency-Key is at most 255 characters", param="idempotency-key")
        table = dependencies().idempotency
        scoped = hashlib.sha256(utf8(f"{tenant}\n{request.route_key}\n{key}")).hexdigest()
        fingerprint = hashlib.sha256(
            utf8(request.raw_path + "?" + str(request.event.get("rawQueryString", "")))
            + b"\n"
            + utf8(str(request.event.get("body") or ""))
        ).hexdigest()
        claim = table.claim(scoped, fingerprint)
        if claim is not None:
            if claim.fingerprint != fingerprint:
                raise Conflict(
                    "this Idempotency-Key was used for a different request",
                    param="idempotency-key",
                    code="idempotency_key_reused",
                )
            if claim.response is None:
                raise Conflict(
                    "a request with this Idempotency-Key is still in progress; retry shortly",
                    param="idempotency-key",
                    code="idempotency_in_progress",
                )
            return Response(**claim.response)
        try:
            response = handler(request, tenant)
        except ProgImageError as error:
            if error.status >= 500:  # retryable: the router logs and answers it
                _forget(table, scoped)
                raise
            response = error_response(error)
        except BaseException:
            _forget(table, scoped)
            raise
        if isinstance(response.body, bytes):  # image bytes are not kept: the retry renders
            _forget(table, scoped)
            return response
        try:
            table.complete(scoped, asdict(response))
        except ProgImageError as error:
            logger.warning("the answer for an idempotency key was not saved: %s", error.message)
        return response

    return guarded


LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
_ROUTE_KEY = re.compile(r"(GET|POST|PUT|PATCH|DELETE) /\S*")


def router(routes: Mapping[str, Route], function: str) -> LambdaHandler:
    """The Lambda entry point of ``function`` for a table of ``"METHOD /path/{param}"`` keys.

    Every entry must be a `Route` (see `credentials`, `signed`, `public`): a bare function, or
    anything else, is a TypeError when the table is built, at import, not a route left open.
    HEAD is answered by the GET route, so a table names no HEAD routes. Each request is logged
    in one line and counted (see `observability`).
    """
    for key, route in routes.items():
        if not _ROUTE_KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a route key such as 'GET /images/{{id}}'")
        if not isinstance(route, Route):
            raise TypeError(
                f"route {key!r} does not say what its caller must show: declare it as "
                "credentials(handler), signed(handler) or public(handler)"
            )
    table = dict(routes)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = Request(event)
        with observability.invocation(function, **_request_fields(request)) as current:
            method, _, path = request.route_key.partition(" ")
            head = method == "HEAD"
            route = table.get(f"GET {path}" if head else request.route_key)
            try:
                if route is None:
                    raise ProgImageError(f"no route for {echo(request.route_key)} in this function")
                response = route.serve(request)
            except ProgImageError as error:
                if error.status >= 500:
                    logger.error("%s: %s", error.code, error.message, exc_info=error)
                response = error_response(error)
            except Exception:
                logger.exception("unhandled error on %s", request.route_key)
                response = error_response(ProgImageError("internal error"))
            if head:  # HEAD answers GET's status and headers, without the body
                response = Response(response.status, "", response.headers)
            answer = response.to_event(request.request_id)
            _account(current, request, response)
        return answer

    return observability.traced(handler)


def _request_fields(request: Request) -> dict[str, Any]:
    """What a request's log line says of it before it is served."""
    image_id = request.path_param("id").partition(".")[0]
    return {
        "route": request.route_key,
        "correlation_id": request.request_id or None,
        "cloudfront_id": request.header("x-amz-cf-id"),
        "image_id": image_id or None,
    }


def _account(current: observability.Invocation, request: Request, response: Response) -> None:
    """Count the request and write its log line."""
    route, status = request.route_key, response.status
    body = request.event.get("body") or ""
    bytes_in = len(body) * 3 // 4 if request.event.get("isBase64Encoded") else len(body)
    bytes_out = len(response.body)
    code = _error_code(response)
    current.add("Requests", Route=route, StatusClass=f"{status // 100}xx")
    current.add("Latency", current.elapsed_ms(), Route=route)
    current.add("BytesIn", bytes_in, Route=route)
    current.add("BytesOut", bytes_out, Route=route)
    if code is not None and status < 500:
        current.add("Rejections", Reason=code)
    latency = round(current.elapsed_ms(), 1)
    current.fields.update(
        status=status, latency_ms=latency, bytes_in=bytes_in, bytes_out=bytes_out, error=code
    )
    logger.info(
        "%s %s %.1f ms",
        route,
        status,
        latency,
        extra={k: v for k, v in current.fields.items() if v is not None},
    )


def _error_code(response: Response) -> str | None:
    if response.status < 400 or not isinstance(response.body, str):
        return None
    try:
        return json.loads(response.body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def multipart_files(request: Request, max_bytes: int) -> list[bytes]:
    """The contents of every file part of a multipart/form-data body, in order."""
    from multipart import MultipartError, MultipartParser, ParserLimitReached, parse_options_header

    _, options = parse_options_header(request.header("content-type") or "")
    boundary = options.get("boundary")
    if not boundary:
        raise BadRequest("multipart body has no boundary", param="body")
    body = request.body(max_bytes)
    try:
        parser = MultipartParser(
            _BytesReader(body),
            boundary,
            content_length=len(body),
            memory_limit=max_bytes + 1,
            part_limit=MAX_MULTIPART_FILES,
            header_limit=_PART_HEADERS,
        )
        files = [part.raw for part in parser if part.filename is not None or part.name == "file"]
    except ParserLimitReached as error:
        raise TooLarge(
            f"multipart body over a limit ({error}): at most {MAX_MULTIPART_FILES} parts, "
            f"{_PART_HEADERS} headers each; send more files in several requests or use "
            "POST /uploads",
            param="body",
        ) from error
    except MultipartError as error:
        raise BadRequest(f"malformed multipart body: {echo(str(error))}", param="body") from error
    if not files:
        raise BadRequest("multipart body has no 'file' part", param="file")
    return files


class _BytesReader:
    """A file-like view of bytes for the multipart parser."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else self._pos + size
        chunk = self._view[self._pos : end].tobytes()
        self._pos += len(chunk)
        return chunk
