"""SigV4 verification of ``AWS_IAM`` routes, as API Gateway checks signed requests.

Each API key the server is given stands for one access key of its tenant's IAM user: the access
key id is derived from the key (``AKIA`` and 16 characters, shown in the banner; see
:func:`localserver.auth.access_key_id`), the secret access key is the key itself. A request to
an ``AWS_IAM`` route must carry ``X-Amz-Date`` and ``Authorization: AWS4-HMAC-SHA256
Credential=<id>/<date>/<region>/execute-api/aws4_request, SignedHeaders=..., Signature=...``;
the server recomputes the signature with botocore from the request as it arrived (method, path,
query, the signed headers, the SHA-256 of the body) and refuses with API Gateway's
``403 {"message": ...}``:

- no SigV4 ``Authorization`` header: ``Forbidden``;
- an unknown access key id, or a session token (these keys are long-term ones): the security
  token is invalid;
- a scope of another region or service, no ``host`` among the signed headers, a date more than
  15 minutes from now, or a ``x-amz-content-sha256`` that is not the body's hash (API Gateway
  hashes the body it receives; it takes no ``UNSIGNED-PAYLOAD``);
- a signature that does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request\s*,"
    r"\s*SignedHeaders=([a-z0-9;-]+)\s*,\s*Signature=([0-9a-f]{64})\s*"
)
_UNRESERVED = "-_.~"

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
INVALID_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True)
class AccessKey:
    """A secret access key, and the tenant whose IAM user it belongs to."""

    secret: str
    tenant: str


class SignatureRefused(Exception):
    """A request the signature check refuses; the message is API Gateway's."""


def _canonical_query(raw_query: str) -> str:
    """The query as SigV4 canonicalises it: decoded, every name and value URI-encoded again
    (all but ``A-Za-z0-9-_.~``), sorted."""
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    encoded = sorted((quote(k, safe=_UNRESERVED), quote(v, safe=_UNRESERVED)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def verify(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, AccessKey],
    region: str,
    now: datetime | None = None,
) -> tuple[str, AccessKey]:
    """The access key id and key that signed this request (``headers`` lower-cased), or
    :class:`SignatureRefused`."""
    match = _AUTHORIZATION.fullmatch(headers.get("authorization", "").strip())
    if match is None:
        raise SignatureRefused("Forbidden")
    key_id, scope_date, scope_region, service, signed, signature = match.groups()
    key = keys.get(key_id)
    if key is None or "x-amz-security-token" in headers:
        raise SignatureRefused(INVALID_TOKEN)
    if service != SERVICE:
        raise SignatureRefused(f"Credential should be scoped to correct service: '{SERVICE}'.")
    if scope_region != region:
        raise SignatureRefused(f"Credential should be scoped to a valid region, not {region!r}.")
    names = signed.split(";")
    if "host" not in names or any(name not in headers for name in names):
        raise SignatureRefused(MISMATCH)
    amz_date = headers.get("x-amz-date", "")
    try:
        when = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRefused(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        ) from None
    current = now or datetime.now(UTC)
    if abs(current - when) > MAX_SKEW:
        raise SignatureRefused(
            f"Signature expired: {amz_date} is now earlier than "
            f"{(current - MAX_SKEW).strftime(_AMZ_DATE)} ({current.strftime(_AMZ_DATE)} - 15 min.)"
        )
    claimed_hash = headers.get("x-amz-content-sha256")
    if scope_date != amz_date[:8] or (
        claimed_hash is not None and claimed_hash != hashlib.sha256(body).hexdigest()
    ):
        raise SignatureRefused(MISMATCH)
    query = _canonical_query(raw_query)
    url = f"http://{headers['host']}{raw_path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, headers={n: headers[n] for n in names}, data=body)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(key_id, key.secret), SERVICE, region)
    if signer.signed_headers(signer.headers_to_sign(request)) != signed:
        raise SignatureRefused(MISMATCH)
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, signature):
        raise SignatureRefused(MISMATCH)
    return key_id, key
