"""Signed image URLs, usable without a client (in a web app rendering ``<img>`` tags).

With URL signing on, the server requires image and variant URLs to carry an HMAC-SHA256
signature of their path (and expiry), so that pages can embed them without credentials. Each
tenant signs with its own key, derived by the operator from the server's master key, and its
URLs name the tenant (``?tenant=``; absent for the tenant ``default``)::

    tenant key = base64url_nopad(HMAC-SHA256(master, "progimage-url-signing\\n" + tenant))
    sig = base64url_nopad(HMAC-SHA256(tenant key, path))                 without an expiry
    sig = base64url_nopad(HMAC-SHA256(tenant key, path + "\\n" + exp))    with ?exp=UNIX_SECONDS

>>> from progimage import sign_url
>>> url = sign_url("https://img.example.com", "0Ojp8iUHJrV2bQ4mJmGpV1rNY", "thumbnail:256.jpg",
...                key="alpha-key", tenant="alpha", expires_at=1796378136)
>>> url  # doctest: +ELLIPSIS
'https://img.example.com/images/0Ojp.../thumbnail:256.jpg?tenant=alpha&exp=1796378136&sig=...'

The path signed is the API path exactly as requested (``/images/{id}/thumbnail:256.jpg``); the
server compares it byte for byte, so use the URL as returned. A URL signed with one tenant's
key never opens another tenant's image (the server answers 404, as for an unknown id).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from urllib.parse import quote

from .pipeline import PipelineLike, split_pipeline

__all__ = [
    "DEFAULT_TENANT",
    "check_tenant",
    "image_path",
    "sign_path",
    "sign_url",
    "signature",
    "tenant_key",
]

DEFAULT_TENANT = "default"
"""The tenant of a URL that names none (and of a bare API key)."""
_TENANT = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


def check_tenant(tenant: str) -> str:
    """The tenant name, or ``ValueError``: 1 to 32 lower-case letters, digits and ``-``, not
    starting with ``-``."""
    if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
        raise ValueError(
            f"not a tenant name: {tenant!r} (1 to 32 lower-case letters, digits and -, "
            "not starting with -)"
        )
    return tenant


def _key_bytes(key: str | bytes) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes) or not key:
        raise ValueError("a signing key is a non-empty str or bytes")
    return key


def _mac(key: str | bytes, message: str) -> str:
    digest = hmac.new(_key_bytes(key), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def tenant_key(master: str | bytes, tenant: str) -> str:
    """The key ``tenant`` signs its URLs with, derived from one of the server's master keys.

    For operators who hold the master key: give each tenant its own key (never the master),
    which signs that tenant's URLs only.
    """
    return _mac(master, f"progimage-url-signing\n{check_tenant(tenant)}")


def signature(key: str | bytes, path: str, expires: int | None = None) -> str:
    """The ``sig`` of ``path`` (with the expiry ``expires``, unix seconds, if given)."""
    return _mac(key, path if expires is None else f"{path}\n{int(expires)}")


def sign_path(
    path: str, key: str | bytes, expires: int | None = None, *, tenant: str | None = None
) -> str:
    """``path?sig=...``, with ``exp=...`` before ``sig`` given an expiry (unix seconds), and
    ``tenant=...`` first for a tenant other than ``default`` (``None``), whose key ``key`` is."""
    query = []
    if tenant is not None and check_tenant(tenant) != DEFAULT_TENANT:
        query.append(f"tenant={tenant}")
    if expires is not None:
        query.append(f"exp={int(expires)}")
    query.append(f"sig={signature(key, path, expires)}")
    return f"{path}?{'&'.join(query)}"


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
    tenant: str | None = None,
    expires_in: float | None = None,
    expires_at: int | None = None,
    format: str | None = None,
) -> str:
    """A signed URL of an image or variant of ``tenant`` (``None``: ``default``), signed with
    that tenant's ``key``, valid for ``expires_in`` seconds (or until the unix time
    ``expires_at``; neither: no expiry)."""
    if expires_in is not None and expires_at is not None:
        raise ValueError("give expires_in or expires_at, not both")
    expires = expires_at
    if expires_in is not None:
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        expires = int(time.time() + expires_in)
    path = image_path(image_id, pipeline, format)
    return base_url.rstrip("/") + sign_path(path, key, expires, tenant=tenant)
