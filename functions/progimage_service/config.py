"""Typed settings, read from the environment at the edge: every variable is parsed here.

Each function reads only what it needs: the service functions their `Settings` (which name a
bucket and a table), the authorizer its `ApiKeySettings`. Both are read once per distinct
environment rather than once per process: in Lambda that is the same thing, and a process that
changes its environment (the local server, the tests) gets settings, and clients, that follow.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from .auth import is_tenant, key_entries, principal_tenants
from .imaging.limits import Limits
from .imaging.negotiate import CANDIDATES

Environment = tuple[tuple[str, str], ...]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def environment() -> Environment:
    """The variables the service reads: its own, and AWS's (credentials, region, endpoint)."""
    return tuple(
        sorted((k, v) for k, v in os.environ.items() if k.startswith(("PROGIMAGE_", "AWS_")))
    )


@dataclass(frozen=True)
class FetchPolicy:
    """What fetching a ``{"url": ...}`` source may do (adapters/fetch.py enforces it)."""

    max_bytes: int
    timeout_seconds: float = 10.0  # for the whole fetch, redirects included
    max_redirects: int = 3
    allow_http: bool = False
    # Ranges exempted from the address check: for tests against a local server only.
    allowed_networks: Sequence[IPNetwork] = field(default_factory=tuple)


@dataclass(frozen=True)
class Settings:
    """Names of the resources the functions use and the limits they enforce."""

    bucket: str
    table: str
    # A bucket of its own for the variant cache (storage_layout.is_cache_key), such as an S3
    # Express One Zone directory bucket; empty: the cache shares the bucket.
    cache_bucket: str = ""
    limits: Limits = field(default_factory=Limits)
    # API Gateway and Lambda carry about 6 MB per response, base64 inflates by 4/3: above this the
    # answer is a 307 to a presigned URL instead of inline bytes.
    inline_max_bytes: int = 4_000_000
    presign_ttl_seconds: int = 300
    list_max_limit: int = 100
    jobs_queue_url: str = ""
    # Where a delete queues the CDN paths to invalidate (services/edge.py).
    edge_queue_url: str = ""
    upload_ttl_seconds: int = 900  # presigned POSTs; S3 enforces the expiry
    job_max_attempts: int = 5  # the jobs queue's maxReceiveCount (one template parameter)
    # With keys, image and variant URLs must be signed (any of the keys: rotation). They come
    # from a Secrets Manager secret (signing_keys_secret, its ARN) when deployed; the variable
    # PROGIMAGE_SIGNING_KEYS is for local use and tests.
    signing_keys: tuple[bytes, ...] = ()
    signing_keys_secret: str = ""
    signed_url_ttl_seconds: int = 86_400  # signed paths in batch and job results
    # StrictPresets: with signing keys, a variant URL without a valid signature is still served
    # if every step of its pipeline is a preset (see api.py, Route.serve). Without keys, moot.
    presets_only: bool = False
    # The tenant of callers on routes that carry no credentials locally (the local server's
    # open mode); never set on a deployed stage, where a route without credentials has none.
    open_tenant: str | None = None
    # AuthMode=IAM: the caller's principal ARN (or an assumed role's role ARN) -> tenant.
    iam_tenants: tuple[tuple[str, str], ...] = ()
    fetch: FetchPolicy = field(default_factory=lambda: FetchPolicy(max_bytes=Limits().max_bytes))
    # What ``auto`` may choose, best first, of the formats a client's Accept names (AVIF encodes
    # about 6x slower than WebP: a deployment can leave it out).
    auto_formats: tuple[str, ...] = CANDIDATES
    # The CloudFront distribution in front of the API (template parameter Cdn): deployed, an SSM
    # parameter names it (cdn_parameter; the functions cannot name the distribution in their
    # environment, which it depends on); locally and in tests, PROGIMAGE_CDN_URL and
    # PROGIMAGE_CDN_DISTRIBUTION_ID say it directly. None of them: no CDN.
    cdn_url: str = ""
    cdn_distribution_id: str = ""
    cdn_parameter: str = ""
    # CdnOnly: the routes serving image bytes answer only requests whose X-Origin-Verify header
    # holds this value (CloudFront adds it), from a secret when deployed (its ARN) or, locally,
    # PROGIMAGE_ORIGIN_VERIFY. Neither: every caller is served.
    origin_verify: str = ""
    origin_verify_secret: str = ""


# The interpreter, Pillow and the AWS clients, beside what a request's work may hold.
WORK_RESERVE_MB = 128


def _work_memory(memory_mb: int, default: int) -> int:
    """The bytes one render may hold in a function with ``memory_mb`` (0: not in Lambda)."""
    return default if memory_mb <= 0 else max(0, memory_mb - WORK_RESERVE_MB) * 2**20


def settings() -> Settings:
    """The settings of the current environment."""
    return _settings(environment())


@cache
def _settings(variables: Environment) -> Settings:
    env = dict(variables)

    def _int(name: str, default: int) -> int:
        raw = env.get(name)
        return default if raw in (None, "") else int(raw)

    default = Limits()
    max_bytes = _int("PROGIMAGE_MAX_BYTES", default.max_bytes)
    return Settings(
        bucket=env["PROGIMAGE_BUCKET"],
        table=env["PROGIMAGE_TABLE"],
        cache_bucket=env.get("PROGIMAGE_CACHE_BUCKET", ""),
        limits=Limits(
            max_bytes=max_bytes,
            max_pixels=_int("PROGIMAGE_MAX_PIXELS", default.max_pixels),
            max_side=_int("PROGIMAGE_MAX_SIDE", default.max_side),
            max_frames=_int("PROGIMAGE_MAX_FRAMES", default.max_frames),
            max_animation_pixels=_int(
                "PROGIMAGE_MAX_ANIMATION_PIXELS", default.max_animation_pixels
            ),
            max_seconds=float(env.get("PROGIMAGE_WORK_SECONDS") or default.max_seconds),
            max_memory=_int(
                "PROGIMAGE_WORK_MEMORY",
                _work_memory(_int("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0), default.max_memory),
            ),
            max_scans=_int("PROGIMAGE_MAX_SCANS", default.max_scans),
        ),
        inline_max_bytes=_int("PROGIMAGE_INLINE_MAX_BYTES", 4_000_000),
        presign_ttl_seconds=_int("PROGIMAGE_PRESIGN_TTL", 300),
        jobs_queue_url=env.get("PROGIMAGE_JOBS_QUEUE_URL", ""),
        edge_queue_url=env.get("PROGIMAGE_EDGE_QUEUE_URL", ""),
        upload_ttl_seconds=min(_int("PROGIMAGE_UPLOAD_TTL", 900), 900),
        job_max_attempts=_int("PROGIMAGE_JOB_MAX_ATTEMPTS", 5),
        signing_keys=signing_keys(env.get("PROGIMAGE_SIGNING_KEYS", "")),
        signing_keys_secret=env.get("PROGIMAGE_SIGNING_KEYS_SECRET", ""),
        signed_url_ttl_seconds=_int("PROGIMAGE_SIGNED_URL_TTL", 86_400),
        presets_only=_flag("PROGIMAGE_PRESETS_ONLY", env.get("PROGIMAGE_PRESETS_ONLY", "")),
        open_tenant=_open_tenant(env.get("PROGIMAGE_OPEN_TENANT", "")),
        cdn_url=_base_url("PROGIMAGE_CDN_URL", env.get("PROGIMAGE_CDN_URL", "")),
        cdn_distribution_id=env.get("PROGIMAGE_CDN_DISTRIBUTION_ID", ""),
        cdn_parameter=env.get("PROGIMAGE_CDN_PARAMETER", ""),
        origin_verify=env.get("PROGIMAGE_ORIGIN_VERIFY", ""),
        origin_verify_secret=env.get("PROGIMAGE_ORIGIN_VERIFY_SECRET", ""),
        iam_tenants=tuple(principal_tenants(env.get("PROGIMAGE_IAM_TENANTS", "")).items()),
        auto_formats=auto_formats(env.get("PROGIMAGE_AUTO_FORMATS", ",".join(CANDIDATES))),
        fetch=FetchPolicy(
            max_bytes=max_bytes,
            timeout_seconds=_int("PROGIMAGE_FETCH_TIMEOUT", 10),
            allow_http=env.get("PROGIMAGE_FETCH_ALLOW_HTTP") == "1",
            # Only for tests against a server on this machine: never set it on a deployed stage.
            allowed_networks=tuple(
                ipaddress.ip_network(n.strip())
                for n in env.get("PROGIMAGE_FETCH_ALLOW_NETWORKS", "").split(",")
                if n.strip()
            ),
        ),
    )


def auto_formats(text: str) -> tuple[str, ...]:
    """``avif,webp``: what ``auto`` may choose, best first; each one of ``CANDIDATES``."""
    names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in CANDIDATES]
    if unknown:
        raise ValueError(f"PROGIMAGE_AUTO_FORMATS: {unknown[0]!r} is not one of {CANDIDATES}")
    return names


def signing_keys(text: str) -> tuple[bytes, ...]:
    """Comma-separated signing keys, the newest first."""
    return tuple(key.strip().encode() for key in text.split(",") if key.strip())


def _flag(name: str, text: str) -> bool:
    """``true`` or ``false`` (empty: false); anything else is a mistake, not a silent false."""
    value = text.strip().lower()
    if value not in ("true", "false", ""):
        raise ValueError(f"{name}: {text!r} is not true or false")
    return value == "true"


def _base_url(name: str, url: str) -> str:
    """An origin to put before API paths (``https://host``, no path: signatures cover the path
    as the API sees it), without a trailing slash; empty stays empty."""
    url = url.strip().rstrip("/")
    if url and not re.fullmatch(r"https?://[^/?#\s]+", url):
        raise ValueError(f"{name}: {url!r} is not a scheme and host such as https://cdn.example")
    return url


def _open_tenant(name: str) -> str | None:
    if not name:
        return None
    if not is_tenant(name):
        raise ValueError(f"PROGIMAGE_OPEN_TENANT: {name!r} is not a tenant name")
    return name


@dataclass(frozen=True)
class ApiKeySettings:
    """Where the authorizer finds the accepted API keys, as ``TENANT:SHA256HEX`` entries.

    Deployed, in a Secrets Manager secret (``keys_secret``, its ARN), read through a short
    cache. The local server and the tests list them in ``PROGIMAGE_API_KEY_HASHES`` instead,
    which then wins: ``listed`` holds its entries (None: the variable is not set).
    """

    keys_secret: str = ""
    listed: tuple[tuple[str, str], ...] | None = None


def api_key_settings() -> ApiKeySettings:
    """The authorizer's settings for the current environment (no bucket or table needed)."""
    return _api_key_settings(environment())


@cache
def _api_key_settings(variables: Environment) -> ApiKeySettings:
    env = dict(variables)
    listed = env.get("PROGIMAGE_API_KEY_HASHES", "")
    secret = env.get("PROGIMAGE_API_KEYS_SECRET", "")
    if not listed.strip() and not secret:
        raise ValueError(
            "PROGIMAGE_API_KEYS_SECRET is not set (nor, for local use, PROGIMAGE_API_KEY_HASHES)"
        )
    return ApiKeySettings(
        keys_secret=secret, listed=tuple(key_entries(listed)) if listed.strip() else None
    )
