"""Signed variant URLs, usable without a client (in a web app rendering ``<img>`` tags).

With a signing key configured on the server, image and variant URLs must carry an HMAC-SHA256
signature of their path (and expiry), so that pages can embed them without credentials::

    sig = base64url_nopad(HMAC-SHA256(key, path))                 without an expiry
    sig = base64url_nopad(HMAC-SHA256(key, path + "\\n" + exp))   with ?exp=UNIX_SECONDS

>>> from progimage import sign_url
>>> sign_url("https://img.example.com", "0Ojp8iUHJrV2bQ4mJmGpV1rNY", "thumbnail:256.jpg",
...          key="secret")  # doctest: +ELLIPSIS
'https://img.example.com/images/0Ojp8iUHJrV2bQ4mJmGpV1rNY/thumbnail:256.jpg?sig=...'

The path signed is the API path exactly as requested (``/images/{id}/thumbnail:256.jpg``); the
server compares it byte for byte, so use the URL as returned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote

from .pipeline import PipelineLike, split_pipeline

__all__ = ["image_path", "sign_path", "sign_url", "signature"]


def _key_bytes(key: str | bytes) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes) or not key:
        raise ValueError("a signing key is a non-empty str or bytes")
    return key


def signature(key: str | bytes, path: str, expires: int | None = None) -> str:
    """The ``sig`` of ``path`` (with the expiry ``expires``, unix seconds, if given)."""
    message = path if expires is None else f"{path}\n{int(expires)}"
    digest = hmac.new(_key_bytes(key), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_path(path: str, key: str | bytes, expires: int | None = None) -> str:
    """``path?sig=...``, or ``path?exp=...&sig=...`` with an expiry (unix seconds)."""
    sig = signature(key, path, expires)
    if expires is None:
        return f"{path}?sig={sig}"
    return f"{path}?exp={int(expires)}&sig={sig}"


def image_path(
    image_id: str,
    pipeline: PipelineLike | None = None,
    format: str | None = None,
) -> str:
    """The API path of an image, a converted image or a variant.

    ``pipeline`` is a :class:`Pipeline`, a pipeline string (``"thumbnail:256.jpg"``) or just a
    format (``"webp"``); ``format`` sets or replaces the output format.

    >>> image_path("abc", "thumbnail:256.jpg")
    '/images/abc/thumbnail:256.jpg'
    >>> image_path("abc", "webp")
    '/images/abc.webp'
    """
    if not isinstance(image_id, str) or not image_id or any(c in image_id for c in "/.?#%"):
        raise ValueError(f"not an image id: {image_id!r}")
    ops, ext = split_pipeline(pipeline, format)
    suffix = f".{ext}" if ext else ""
    if not ops:
        return f"/images/{quote(image_id, safe='')}{suffix}"
    return f"/images/{quote(image_id, safe='')}/{quote(ops, safe='/:,')}{suffix}"


def sign_url(
    base_url: str,
    image_id: str,
    pipeline: PipelineLike | None = None,
    *,
    key: str | bytes,
    expires_in: float | None = None,
    expires_at: int | None = None,
    format: str | None = None,
) -> str:
    """A signed URL of an image or variant, valid for ``expires_in`` seconds (or until the unix
    time ``expires_at``; neither: no expiry)."""
    if expires_in is not None and expires_at is not None:
        raise ValueError("give expires_in or expires_at, not both")
    expires = expires_at
    if expires_in is not None:
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        expires = int(time.time() + expires_in)
    path = image_path(image_id, pipeline, format)
    return base_url.rstrip("/") + sign_path(path, key, expires)
