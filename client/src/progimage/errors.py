"""The exception tree: one class per error code the API answers, plus network failures.

Every exception the client raises on purpose is a :class:`ProgImageError`. An answer from the API
becomes an :class:`APIError` subclass chosen by the error ``code`` in its body first, then by
its HTTP status (so a code this client does not know yet still lands on the right class)::

    ProgImageError
    ├── APIError                    status, code, message, param, request_id, retry_after
    │   ├── BadRequest              400 bad_request
    │   │   ├── InvalidOperation    400 invalid_operation (a pipeline the server refused)
    │   │   └── UrlNotAllowed       400 url_not_allowed
    │   ├── Unauthorized            401 unauthorized (no credentials)
    │   ├── Forbidden               403 forbidden (a wrong key, a missing or bad URL signature)
    │   ├── NotFound                404 not_found (also another tenant's image or job)
    │   ├── MethodNotAllowed        405
    │   ├── Conflict                409 conflict
    │   │   ├── NotReady            409 not_ready (a presigned upload not ingested yet)
    │   │   └── IdempotencyConflict 409 idempotency_key_reused / idempotency_in_progress
    │   ├── TooLarge                413 too_large
    │   ├── UnsupportedMediaType    415 unsupported_media_type
    │   │   ├── UnsupportedFormat   415 unsupported_format
    │   │   └── InvalidImage        415 invalid_image
    │   │       └── UploadRejected  a presigned upload the server rejected at ingest
    │   ├── Unprocessable           422 unprocessable
    │   ├── RateLimited             429 rate_limited
    │   └── ServerError             5xx
    │       ├── InternalError       500 internal_error
    │       ├── UpstreamError       502 upstream_error (a remote source failed)
    │       └── ServiceUnavailable  503 service_unavailable
    ├── TransportError              transport_error: no answer (connection refused, reset...)
    │   └── Timeout                 timeout: no answer in time
    └── WaitTimeout                 wait_timeout: an upload or a job took longer than allowed

Mistakes in the calling code (a bad pipeline argument, a source of the wrong type) raise
``ValueError`` or ``TypeError`` before any request is sent. :func:`error_dict` gives any of
them as the API's JSON error shape, with a snake_case ``code``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "IdempotencyConflict",
    "InternalError",
    "InvalidImage",
    "InvalidOperation",
    "MethodNotAllowed",
    "NotFound",
    "NotReady",
    "ProgImageError",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "Timeout",
    "TooLarge",
    "TransportError",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedFormat",
    "UnsupportedMediaType",
    "UploadRejected",
    "UpstreamError",
    "UrlNotAllowed",
    "WaitTimeout",
    "error_dict",
    "error_from_response",
]


class ProgImageError(Exception):
    """Base of every error this package raises on purpose."""

    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIError(ProgImageError):
    """The API answered with an error.

    Attributes:
        status: the HTTP status (``404``).
        code: the API's machine-readable code (``"not_found"``).
        message: the API's human-readable message.
        param: the parameter at fault, when the API names one (``"ops[1]"``).
        request_id: the ``X-Request-Id`` of the failed request: quote it when reporting a problem.
        retry_after: seconds the server asked to wait (429 and 503), else ``None``.
    """

    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        text = f"{self.status} {self.code}: {self.message}"
        if self.param:
            text += f" (param: {self.param})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"message={self.message!r}, param={self.param!r}, request_id={self.request_id!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The error as the API's JSON shape, with the status and request id added."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        error["status"] = self.status
        if self.request_id:
            error["request_id"] = self.request_id
        return error


class BadRequest(APIError):
    status, code = 400, "bad_request"


class InvalidOperation(BadRequest):
    """The server refused a pipeline: an unknown operation or a bad argument (see ``param``)."""

    code = "invalid_operation"


class UrlNotAllowed(BadRequest):
    """A remote ``url`` source the server must not fetch (scheme, or a non-public address)."""

    code = "url_not_allowed"


class Unauthorized(APIError):
    status, code = 401, "unauthorized"


class Forbidden(APIError):
    status, code = 403, "forbidden"


class NotFound(APIError):
    status, code = 404, "not_found"


class MethodNotAllowed(APIError):
    status, code = 405, "method_not_allowed"


class Conflict(APIError):
    status, code = 409, "conflict"


class NotReady(Conflict):
    """The image is still being ingested (a presigned upload): try again shortly."""

    code = "not_ready"


class IdempotencyConflict(Conflict):
    """An ``Idempotency-Key`` reused for a different request, or whose request still runs."""

    code = "idempotency_key_reused"


class TooLarge(APIError):
    status, code = 413, "too_large"


class UnsupportedMediaType(APIError):
    status, code = 415, "unsupported_media_type"


class UnsupportedFormat(UnsupportedMediaType):
    code = "unsupported_format"


class InvalidImage(UnsupportedMediaType):
    """Bytes that are not a readable image in a supported format."""

    code = "invalid_image"


class UploadRejected(InvalidImage):
    """A presigned upload that the server rejected when it ingested it.

    ``message`` is the server's reason; ``image_id`` the id the upload was given.
    """

    code = "upload_rejected"

    def __init__(self, message: str, *, image_id: str, request_id: str | None = None) -> None:
        super().__init__(message, param="file", request_id=request_id)
        self.image_id = image_id


class Unprocessable(APIError):
    status, code = 422, "unprocessable"


class RateLimited(APIError):
    status, code = 429, "rate_limited"


class ServerError(APIError):
    status, code = 500, "internal_error"


class InternalError(ServerError):
    status, code = 500, "internal_error"


class UpstreamError(ServerError):
    status, code = 502, "upstream_error"


class ServiceUnavailable(ServerError):
    status, code = 503, "service_unavailable"


class TransportError(ProgImageError):
    """No answer from the server (after the configured retries): connection refused, reset..."""

    code = "transport_error"


class Timeout(TransportError):
    """The server did not answer in time (after the configured retries)."""

    code = "timeout"


class WaitTimeout(ProgImageError, TimeoutError):
    """Waiting for an upload to be ingested, or for a job to finish, took too long."""

    code = "wait_timeout"


_CODED: tuple[type[APIError], ...] = (
    BadRequest,
    InvalidOperation,
    UrlNotAllowed,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    NotReady,
    TooLarge,
    UnsupportedMediaType,
    UnsupportedFormat,
    InvalidImage,
    Unprocessable,
    RateLimited,
    InternalError,
    UpstreamError,
    ServiceUnavailable,
)
_BY_CODE: dict[str, type[APIError]] = {cls.code: cls for cls in _CODED}
_BY_CODE["idempotency_key_reused"] = IdempotencyConflict
_BY_CODE["idempotency_in_progress"] = IdempotencyConflict

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: TooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
    429: RateLimited,
    500: InternalError,
    502: UpstreamError,
    503: ServiceUnavailable,
}


def error_class(status: int, code: str | None) -> type[APIError]:
    """The class for an error: by code, else by status, else by status class (4xx/5xx)."""
    by_code = _BY_CODE.get(code or "")
    if by_code is not None and status in (by_code.status, 0):
        return by_code
    by_status = _BY_STATUS.get(status)
    if by_status is not None:
        # A known code under an unexpected status still picks the closest subclass.
        if by_code is not None and issubclass(by_code, by_status):
            return by_code
        return by_status
    if by_code is not None:
        return by_code
    return ServerError if status >= 500 else APIError


def error_from_body(
    status: int,
    body: Any,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """An exception for an error body ``{"error": {"code", "message", "param"?}}``.

    Bodies of other shapes (a gateway's ``{"message": "Not Found"}``, plain text) still give the
    class for the status, with their text as the message.
    """
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = str(error.get("message") or code or f"HTTP {status}")
        param = error.get("param") if isinstance(error.get("param"), str) else None
    else:
        code, param = None, None
        if isinstance(body, Mapping) and isinstance(body.get("message"), str):
            message = body["message"]
        elif isinstance(body, str) and body.strip():
            message = body.strip()[:500]
        else:
            message = f"HTTP {status}"
    cls = error_class(status, code)
    return cls(
        message,
        status=status or cls.status,
        code=code,
        param=param,
        request_id=request_id,
        retry_after=retry_after,
        body=body,
    )


def error_from_response(
    status: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    retry_after: float | None = None,
) -> APIError:
    """An exception for an HTTP error response (its body, ``X-Request-Id`` and status)."""
    text = content.decode("utf-8", "replace")
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = text
    request_id = headers.get("x-request-id") or headers.get("apigw-requestid")
    return error_from_body(status, body, request_id=request_id, retry_after=retry_after)


def error_dict(error: BaseException) -> dict[str, Any]:
    """Any error as the API's JSON error shape ``{"code", "message", ...}``: an API error as
    the server answered it (with its status), this package's others by their ``code``, a missing
    local file as ``not_found`` and other bad local input (a file, an argument) as
    ``bad_request``."""
    if isinstance(error, APIError):
        return error.to_dict()
    if isinstance(error, ProgImageError):
        return {"code": error.code, "message": error.message}
    message = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename:
        message = f"{error.strerror or message}: {error.filename}"
    code = "not_found" if isinstance(error, FileNotFoundError) else "bad_request"
    return {"code": code, "message": message}
