"""API keys and their tenants, IAM principals, and URL signatures (pure functions)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from progimage_service.auth import (
    bearer_key,
    is_tenant,
    key_entries,
    key_hash,
    principal_tenants,
    tenant_of_key,
    tenant_of_principal,
)
from progimage_service.errors import Forbidden
from progimage_service.signing import signature, signed_path, tenant_key, verify

tenants = st.from_regex(r"[a-z0-9][a-z0-9-]{0,31}", fullmatch=True)
paths = st.text(min_size=1, max_size=80).map(lambda text: "/images/" + text)


def test_bearer_key_parsing() -> None:
    assert bearer_key("Bearer abc") == "abc"
    assert bearer_key("bearer  abc ") == "abc"
    for header in (None, "", "Bearer", "Bearer ", "Basic abc", "abc"):
        assert bearer_key(header) is None


def test_keys_are_checked_against_digests_and_name_their_tenant() -> None:
    entries = key_entries(
        f"alpha:{key_hash('first')},beta:{key_hash('second').upper()},{key_hash('third')}"
    )
    assert tenant_of_key("first", entries) == "alpha"
    assert tenant_of_key("second", entries) == "beta"
    assert tenant_of_key("third", entries) == "default"  # a bare digest
    assert tenant_of_key("fourth", entries) is None
    assert tenant_of_key(None, entries) is None
    assert tenant_of_key("first", []) is None
    assert key_hash("first") == hashlib.sha256(b"first").hexdigest()


def test_malformed_entries_are_left_out() -> None:
    good = key_hash("k")
    text = f"none, ,zz{good[2:]},é:{good},Upper:{good},-x:{good},ok:{good},{good}x"
    assert key_entries(text) == [("ok", good)]


@given(st.lists(st.tuples(tenants, st.text(min_size=1, max_size=20)), min_size=1, max_size=6))
def test_every_key_finds_its_own_tenant_and_no_other(pairs: list[tuple[str, str]]) -> None:
    keys = {key: tenant for tenant, key in pairs if key.strip() == key}  # a key names one tenant
    entries = key_entries(",".join(f"{tenant}:{key_hash(key)}" for key, tenant in keys.items()))
    for key, tenant in keys.items():
        assert tenant_of_key(key, entries) == tenant
        assert tenant_of_key(key + "x", entries) in (None, keys.get(key + "x"))


def test_iam_principals_map_to_tenants_and_assumed_roles_to_their_role() -> None:
    mapping = principal_tenants(
        "arn:aws:iam::123456789012:role/app-a=alpha,arn:aws:iam::123456789012:user/ci=beta"
    )
    assumed = "arn:aws:sts::123456789012:assumed-role/app-a/session-1"
    assert tenant_of_principal(assumed, mapping) == "alpha"
    assert tenant_of_principal("arn:aws:iam::123456789012:user/ci", mapping) == "beta"
    assert tenant_of_principal("arn:aws:iam::123456789012:user/other", mapping) is None
    assert tenant_of_principal("arn:aws:sts::999999999999:assumed-role/app-a/s", mapping) is None
    with pytest.raises(ValueError, match="ARN=TENANT"):
        principal_tenants("arn:aws:iam::1:role/x=Not A Tenant")


def test_signature_is_hmac_sha256_of_the_path_and_expiry() -> None:
    key, path = b"k", "/images/abc/thumbnail:256.jpg"
    digest = hmac.new(key, path.encode(), hashlib.sha256).digest()
    assert signature(key, path) == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert signature(key, path, 10) != signature(key, path)
    assert "=" not in signature(key, path) and "+" not in signature(key, path)


def test_tenant_keys_are_derived_from_the_master_key() -> None:
    digest = hmac.new(b"master", b"progimage-url-signing\nalpha", hashlib.sha256).digest()
    assert tenant_key(b"master", "alpha") == base64.urlsafe_b64encode(digest).rstrip(b"=")
    assert tenant_key(b"master", "alpha") != tenant_key(b"master", "beta")
    assert tenant_key(b"master", "alpha") != tenant_key(b"other", "alpha")


def test_verify() -> None:
    masters = (b"new", b"old")
    path = "/images/x.webp"
    old = tenant_key(b"old", "default")
    new = tenant_key(b"new", "alpha")
    assert verify(masters, path, None, signature(old, path), None) == "default"
    assert verify(masters, path, "alpha", signature(new, path, 2_000), "2000", now=1_999) == "alpha"
    refused = [
        (path, "alpha", signature(new, path, 2_000), "2000", 2_001),  # expired
        (path, "alpha", signature(new, path, 2_000), "-5", 0),
        (path, "alpha", signature(new, path, 2_000), "²", 0),
        (path, "alpha", signature(new, path, 2_000), "9" * 5000, 0),
        (path, None, None, None, 0),
        (path + "/", "alpha", signature(new, path), None, 0),
        (path, "beta", signature(new, path), None, 0),  # alpha's signature, beta's URL
        (path, "Alpha", signature(new, path), None, 0),
        (path, "alpha", "sïg", None, 0),
        (path, "alpha", signature(b"new", path), None, 0),  # the master key itself
    ]
    for args in refused:
        with pytest.raises(Forbidden):
            verify(masters, *args[:4], now=args[4])


@given(tenants, tenants, paths, st.binary(min_size=1, max_size=64))
def test_a_tenant_signs_no_other_tenants_urls(
    signer: str, other: str, path: str, master: bytes
) -> None:
    sig = signature(tenant_key(master, signer), path)
    assert verify([master], path, signer, sig, None) == signer
    if other != signer:
        with pytest.raises(Forbidden):
            verify([master], path, other, sig, None)


@given(tenants, st.integers(min_value=1, max_value=10**6))
def test_signed_paths_verify_for_their_tenant_until_they_expire(tenant: str, ttl: int) -> None:
    path, _, query = signed_path(b"master", tenant, "/images/abc.webp", ttl).partition("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    assert ("tenant" in params) == (tenant != "default")
    assert is_tenant(params.get("tenant", "default"))
    expires = int(params["exp"])
    named = params.get("tenant")
    assert verify([b"master"], path, named, params["sig"], params["exp"], now=expires) == tenant
    with pytest.raises(Forbidden):
        verify([b"master"], path, named, params["sig"], params["exp"], now=expires + 1)
