"""Signed URLs: HMAC-SHA256 over the exact request path (and expiry), several keys for rotation.

    sig = base64url_nopad(HMAC-SHA256(key, path))                  without expiry
    sig = base64url_nopad(HMAC-SHA256(key, path + "\\n" + exp))    with ?exp=UNIX_SECONDS

The path is compared exactly as requested: another argument, a double or trailing slash, or a
re-encoded signature all fail. Any configured key may have signed it, so a new key can be added
before the old one is retired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

from .errors import Forbidden
from .inputs import decimal, utf8


def signature(key: bytes, path: str, expires: int | None = None) -> str:
    message = path if expires is None else f"{path}\n{expires}"
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signed_path(key: bytes, path: str) -> str:
    """The path with its signature, as the API hands out its own URLs (the newest key)."""
    return f"{path}?sig={signature(key, path)}"


def verify(
    keys: Sequence[bytes],
    path: str,
    sig: str | None,
    exp: str | None,
    now: float | None = None,
) -> None:
    """Raise 403 unless one of the keys signed this path (and expiry, still in the future)."""
    if not sig:
        raise Forbidden("this URL must be signed (sig)", param="sig")
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
        hmac.compare_digest(signature(key, path, expires).encode(), presented) for key in keys
    ]
    if not any(matches):
        raise Forbidden("the URL's signature is not valid", param="sig")
