"""API key checks and URL signatures (pure functions)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from progimage_service.auth import bearer_key, is_authorized, key_hash
from progimage_service.errors import Forbidden
from progimage_service.signing import signature, verify


def test_bearer_key_parsing() -> None:
    assert bearer_key("Bearer abc") == "abc"
    assert bearer_key("bearer  abc ") == "abc"
    for header in (None, "", "Bearer", "Bearer ", "Basic abc", "abc"):
        assert bearer_key(header) is None


def test_keys_are_checked_against_hashes_only() -> None:
    hashes = [key_hash("first"), key_hash("second").upper()]
    assert is_authorized("first", hashes)
    assert is_authorized("second", hashes)
    assert not is_authorized("third", hashes)
    assert not is_authorized(None, hashes)
    assert not is_authorized("first", [])
    assert key_hash("first") == hashlib.sha256(b"first").hexdigest()


def test_signature_is_hmac_sha256_of_the_path_and_expiry() -> None:
    key, path = b"k", "/images/abc/thumbnail:256.jpg"
    digest = hmac.new(key, path.encode(), hashlib.sha256).digest()
    assert signature(key, path) == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert signature(key, path, 10) != signature(key, path)
    assert "=" not in signature(key, path) and "+" not in signature(key, path)


def test_verify() -> None:
    keys = (b"new", b"old")
    path = "/images/x.webp"
    verify(keys, path, signature(b"old", path), None)
    verify(keys, path, signature(b"new", path, 2_000), "2000", now=1_999)
    with pytest.raises(Forbidden):
        verify(keys, path, signature(b"new", path, 2_000), "2000", now=2_001)
    with pytest.raises(Forbidden):
        verify(keys, path, signature(b"new", path, 2_000), "-5", now=0)
    with pytest.raises(Forbidden):
        verify(keys, path, None, None)
    with pytest.raises(Forbidden):
        verify(keys, path + "/", signature(b"new", path), None)
