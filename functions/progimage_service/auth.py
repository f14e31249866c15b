"""API keys: only their SHA-256 hashes are stored, and presented keys are compared in constant time
against every stored hash."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def is_authorized(presented: str | None, hashes: Iterable[str]) -> bool:
    """Does the key match one of the stored hashes?

    Every stored hash is compared, with :func:`hmac.compare_digest` and no early exit, so the
    time taken says nothing about which hash (or how much of one) matched. Bytes are compared:
    a malformed stored value (stray spaces, upper case, non-ASCII) is normalised or simply never
    matches, instead of raising.
    """
    if not presented:
        return False
    digest = key_hash(presented).encode()
    matched = False
    for stored in hashes:
        matched |= hmac.compare_digest(digest, stored.strip().lower().encode())
    return matched
