"""SigV4 signing for stages deployed in IAM mode: ``auth=SigV4Auth()`` (the ``iam`` extra).

A stage deployed with ``AuthMode=IAM`` takes requests signed with AWS Signature Version 4 for
the service ``execute-api`` instead of API keys. :class:`SigV4Auth` signs every request the
client sends to the API (never the presigned storage URLs, which carry their own signature)
with credentials from the standard AWS chain (environment, shared config and credentials files,
SSO, container and instance roles), fetched afresh for each request so that temporary
credentials are refreshed as they expire.

The payload is signed: the canonical request ends with the SHA-256 of the body, which API
Gateway recomputes from the body it receives (it does not take ``UNSIGNED-PAYLOAD``). The
client reads every body before sending it, so nothing is streamed unsigned.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator
from typing import Any
from urllib.parse import quote

import httpx

try:
    import botocore.session
    from botocore.auth import SigV4Auth as _Signer
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.exceptions import BotoCoreError
except ImportError as error:  # pragma: no cover - depends on what is installed
    raise ImportError("SigV4 signing needs botocore: pip install 'progimage[iam]'") from error

__all__ = ["SERVICE", "SigV4Auth", "canonical_query"]

SERVICE = "execute-api"
# https://{api-id}.execute-api.{region}.amazonaws.com (or .amazonaws.com.cn)
_EXECUTE_API_HOST = re.compile(r"[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?")
_SIGNED = ("authorization", "x-amz-date", "x-amz-security-token")
_UNRESERVED = "-_.~"


def canonical_query(params: list[tuple[str, str]]) -> str:
    """A decoded query as SigV4's canonical query string: every name and value URI-encoded
    (all but ``A-Za-z0-9-_.~``), sorted by name, then value."""
    pairs = sorted((quote(k, safe=_UNRESERVED), quote(v, safe=_UNRESERVED)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in pairs)


def region_of(host: str) -> str | None:
    """The region in an API Gateway default endpoint's host name, if it is one."""
    match = _EXECUTE_API_HOST.fullmatch(host.lower())
    return match.group(1) if match else None


class SigV4Auth(httpx.Auth):
    """Signs requests with AWS Signature Version 4 for ``execute-api``; for the sync and the
    async client alike: ``ProgImage(url, auth=SigV4Auth())``.

    ``region`` defaults to the one in the URL's host (``{api}.execute-api.{region}.amazonaws
    .com``), else the AWS configuration's (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the
    profile's ``region``): a custom domain needs one of those. ``credentials`` (botocore
    ``Credentials``) default to the standard chain, of ``profile`` if given. The signed
    headers are ``host``, ``x-amz-date``, ``content-type`` when there is a body, and
    ``x-amz-security-token`` for temporary credentials.
    """

    requires_request_body = True

    def __init__(
        self,
        region: str | None = None,
        *,
        credentials: Credentials | None = None,
        profile: str | None = None,
    ) -> None:
        session = botocore.session.Session(profile=profile)
        try:
            found = credentials if credentials is not None else session.get_credentials()
        except BotoCoreError as error:  # a missing profile, an unreachable credential source...
            raise ValueError(f"no AWS credentials: {error}") from error
        if found is None:
            raise ValueError(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                "AWS_PROFILE, or configure them as for the AWS CLI"
            )
        self.credentials: Credentials = found
        self.region = region or None
        # AWS_REGION (as on Lambda) first, then AWS_DEFAULT_REGION or the profile's region.
        self._configured_region: str | None = os.environ.get("AWS_REGION") or (
            session.get_config_variable("region")
        )

    def __repr__(self) -> str:
        return f"SigV4Auth(region={self.region!r})"

    def region_for(self, url: httpx.URL) -> str:
        region = self.region or region_of(url.host) or self._configured_region
        if not region:
            raise ValueError(
                f"no AWS region to sign requests to {url.host} with: pass region=... or set "
                "AWS_REGION"
            )
        return region

    def sign(self, request: httpx.Request) -> None:
        """Add ``Authorization``, ``X-Amz-Date`` and (temporary credentials)
        ``X-Amz-Security-Token`` to ``request``, replacing an earlier signature."""
        url = request.url
        query = canonical_query(url.params.multi_items())
        target = str(url.copy_with(query=None, fragment=None))
        headers = {"host": request.headers["host"]}
        body = request.content
        if body and "content-type" in request.headers:
            headers["content-type"] = request.headers["content-type"]
        aws = AWSRequest(
            method=request.method,
            url=f"{target}?{query}" if query else target,
            headers=headers,
            data=body,
        )
        frozen = self.credentials.get_frozen_credentials()
        _Signer(frozen, SERVICE, self.region_for(url)).add_auth(aws)
        for name in _SIGNED:
            request.headers.pop(name, None)
            if name in aws.headers:
                request.headers[name] = aws.headers[name]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, Any, None]:
        self.sign(request)
        yield request
