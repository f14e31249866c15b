"""Who is calling: API keys and their tenants, and IAM principals mapped to tenants.

Every API key belongs to exactly one tenant. Only the keys' SHA-256 digests are stored, as
``TENANT:DIGEST`` entries (a bare digest belongs to the tenant ``default``); a presented key is
compared in constant time with every stored digest. The authorizer hands the tenant to the
functions in its context; the functions take it from there and from nowhere else.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping

DEFAULT_TENANT = "default"
_TENANT = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
# arn:aws:sts::123456789012:assumed-role/Role/session -> arn:aws:iam::123456789012:role/Role
_ASSUMED_ROLE = re.compile(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+")


def is_tenant(name: str) -> bool:
    """Tenant names are short lower-case slugs: they appear in keys, partitions and URLs."""
    return bool(_TENANT.fullmatch(name))


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_entries(text: str) -> list[tuple[str, str]]:
    """``TENANT:DIGEST`` entries (comma-separated) as (tenant, digest) pairs.

    Malformed entries are left out rather than raised: a typo in one entry must not lock out
    every other tenant (nor let anyone in).
    """
    entries = []
    for raw in text.split(","):
        tenant, _, digest = raw.strip().rpartition(":")
        tenant, digest = tenant or DEFAULT_TENANT, digest.strip().lower()
        if is_tenant(tenant) and _DIGEST.fullmatch(digest):
            entries.append((tenant, digest))
    return entries


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def tenant_of_key(presented: str | None, entries: Iterable[tuple[str, str]]) -> str | None:
    """The tenant whose key this is, or None.

    Every stored digest is compared, with :func:`hmac.compare_digest` and no early exit, so the
    time taken says nothing about which digest (or how much of one) matched.
    """
    if not presented:
        return None
    digest = key_hash(presented).encode()
    found = None
    for tenant, stored in entries:
        if hmac.compare_digest(digest, stored.encode()):
            found = tenant
    return found


def principal_tenants(text: str) -> dict[str, str]:
    """The IAM mapping ``ARN=TENANT,...`` (role or user ARNs) as a dict; bad entries refused."""
    mapping = {}
    for raw in filter(str.strip, text.split(",")):
        arn, _, tenant = raw.strip().rpartition("=")
        if not arn.startswith("arn:") or not is_tenant(tenant):
            raise ValueError(f"PROGIMAGE_IAM_TENANTS: {raw.strip()!r} is not ARN=TENANT")
        mapping[arn] = tenant
    return mapping


def tenant_of_principal(user_arn: str, mapping: Mapping[str, str]) -> str | None:
    """The tenant of an IAM caller: its ARN as given, or for an assumed role, the role's ARN."""
    if user_arn in mapping:
        return mapping[user_arn]
    assumed = _ASSUMED_ROLE.fullmatch(user_arn)
    if assumed:
        partition, account, role = assumed.groups()
        return mapping.get(f"arn:{partition}:iam::{account}:role/{role}")
    return None
