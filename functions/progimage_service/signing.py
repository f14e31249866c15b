"""Signed URLs: HMAC-SHA256 over the exact request path (and expiry), with a key per tenant.

    tenant key = base64url_nopad(HMAC-SHA256(master, "progimage-url-signing\\n" + tenant))
    sig = base64url_nopad(HMAC-SHA256(tenant key, path))                 without expiry
    sig = base64url_nopad(HMAC-SHA256(tenant key, path + "\\n" + exp))    with ?exp=UNIX_SECONDS

A URL names its tenant with ``?tenant=`` (absent: ``default``), so the key to check it with is
derived, not looked up: a cached variant is served without reading the catalog. Each tenant is
given its own key, which signs no other tenant's URLs; the variant's owner is compared with the
URL's tenant where the object is read (see services/delivery.py).

The path is compared exactly as requested: another argument, a double or trailing slash, or a
re-encoded signature all fail. Any configured master key may have signed it, so a new key can
be added before the old one is retired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

from .auth import DEFAULT_TENANT, is_tenant
from .errors import Forbidden
from .inputs import decimal, utf8


def _b64(digest: bytes) -> bytes:
    return base64.urlsafe_b64encode(digest).rstrip(b"=")


def tenant_key(master: bytes, tenant: str) -> bytes:
    """The key a tenant signs its URLs with (ASCII, so clients can keep it as text)."""
    return _b64(hmac.new(master, f"progimage-url-signing\n{tenant}".encode(), "sha256").digest())


def signature(key: bytes, path: str, expires: int | None = None) -> str:
    message = path if expires is None else f"{path}\n{expires}"
    return _b64(hmac.new(key, utf8(message), hashlib.sha256).digest()).decode()


def signed_path(master: bytes, tenant: str, path: str, ttl_seconds: int) -> str:
    """The path signed for a tenant, valid for ``ttl_seconds``, as the API hands out its URLs."""
    expires = int(time.time()) + ttl_seconds
    named = "" if tenant == DEFAULT_TENANT else f"tenant={tenant}&"
    return f"{path}?{named}exp={expires}&sig={signature(tenant_key(master, tenant), path, expires)}"


def verify(
    masters: Sequence[bytes],
    path: str,
    tenant: str | None,
    sig: str | None,
    exp: str | None,
    now: float | None = None,
) -> str:
    """The URL's tenant, or 403 unless that tenant's key signed this path (and expiry, still in
    the future)."""
    if not sig:
        raise Forbidden("this URL must be signed (sig)", param="sig")
    tenant = DEFAULT_TENANT if tenant is None else tenant
    if not is_tenant(tenant):
        raise Forbidden("tenant is not a tenant name", param="tenant")
    expires = None
    if exp is not None:
        expires = decimal(exp)
        if expires is None or expires < 0:
            raise Forbidden("exp must be a time in unix seconds", param="exp")
        if expires < (time.time() if now is None else now):
            raise Forbidden("this signed URL has expired", param="exp")
    # Compare against every key (no early exit), each in constant time.
    presented = utf8(sig)
    matches = [
        hmac.compare_digest(signature(tenant_key(m, tenant), path, expires).encode(), presented)
        for m in masters
    ]
    if not any(matches):
        raise Forbidden("the URL's signature is not valid", param="sig")
    return tenant
