"""API keys: only their SHA-256 hashes are stored, and presented keys are compared in constant
time against every stored hash."""

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
    """Does the key match one of the stored hashes? Every hash is compared (no early exit)."""
    if not presented:
        return False
    digest = key_hash(presented)
    results = [hmac.compare_digest(digest, stored.strip().lower()) for stored in hashes]
    return any(results)
