"""One tree of error types; `api.error_response` maps it to HTTP in one place.

Every error the service means to return is a `ProgImageError` carrying its HTTP status, a stable
machine-readable code, a human message and optionally the parameter at fault. Anything else that
escapes a handler is a bug (a 500).
"""

from __future__ import annotations

from typing import Any

# Codes that refine their class's own, passed as ``code=``: each names one kind of refusal.
REFINED_CODES = frozenset(
    {
        "work_budget",
        "too_many_scans",
        "unsupported_format",
        "idempotency_in_progress",
        "idempotency_key_reused",
    }
)


class ProgImageError(Exception):
    """Base of every error the API answers on purpose."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            if code not in REFINED_CODES:
                raise ValueError(f"{code!r} is not one of errors.REFINED_CODES")
            self.code = code

    def body(self) -> dict[str, Any]:
        """The contract's error object: ``{"code", "message", "param"?}``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        return error


class BadRequest(ProgImageError):
    status, code = 400, "bad_request"


class InvalidOperation(BadRequest):
    code = "invalid_operation"


class UrlNotAllowed(BadRequest):
    """A remote source that must not be fetched (scheme, credentials, or a non-public address)."""

    code = "url_not_allowed"


class Unauthorized(ProgImageError):
    status, code = 401, "unauthorized"


class Forbidden(ProgImageError):
    status, code = 403, "forbidden"


class NotFound(ProgImageError):
    status, code = 404, "not_found"


class MethodNotAllowed(ProgImageError):
    status, code = 405, "method_not_allowed"


class Conflict(ProgImageError):
    status, code = 409, "conflict"


class NotReady(Conflict):
    code = "not_ready"


class TooLarge(ProgImageError):
    status, code = 413, "too_large"


class UnsupportedMedia(ProgImageError):
    status, code = 415, "unsupported_media_type"


class InvalidImage(UnsupportedMedia):
    """Bytes that claim or look like an image but cannot be read as one."""

    code = "invalid_image"


class Unprocessable(ProgImageError):
    status, code = 422, "unprocessable"


class RateLimited(ProgImageError):
    status, code = 429, "rate_limited"


class UpstreamError(ProgImageError):
    status, code = 502, "upstream_error"


class ServiceUnavailable(ProgImageError):
    """A dependency (S3, DynamoDB) is throttling or briefly unavailable: the client should retry."""

    status, code = 503, "service_unavailable"


def _all_codes() -> frozenset[str]:
    classes, codes = [ProgImageError], set(REFINED_CODES)
    while classes:
        kind = classes.pop()
        codes.add(kind.code)
        classes.extend(kind.__subclasses__())
    return frozenset(codes)


# Every code the API answers with: a closed list (metrics report refusals by it).
CODES = _all_codes()
