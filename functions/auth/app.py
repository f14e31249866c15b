"""The HTTP API's Lambda authorizer (payload 2.0, simple responses).

Keys come as ``Authorization: Bearer <key>``. The accepted keys are ``TENANT:SHA256HEX`` entries,
comma-separated, in a Secrets Manager secret read through a short cache or, for the local server,
listed in the environment (see `config.ApiKeySettings`). A key that matches answers its tenant in
the context, which API Gateway passes to the route's function as
``requestContext.authorizer.lambda.tenant``. API Gateway answers 401 itself when the header is
missing and 403 when this returns ``isAuthorized: false``.

The import stays small: the AWS client (botocore) is loaded only when the secret is first read.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, Any

from progimage_service import observability
from progimage_service.auth import bearer_key, key_entries, tenant_of_key
from progimage_service.config import api_key_settings

if TYPE_CHECKING:
    from progimage_service.adapters.secrets import Secret

logger = logging.getLogger("progimage")


@cache
def _key_store(secret_id: str) -> Secret:
    from progimage_service.adapters.secrets import Secret

    return Secret(secret_id, ttl_seconds=60)


def stored_entries() -> list[tuple[str, str]]:
    """The accepted (tenant, digest) pairs: the listed ones if any are (local use), else the
    secret's."""
    keys = api_key_settings()
    if keys.listed is not None:
        return list(keys.listed)
    return key_entries(_key_store(keys.keys_secret).get())


def _header(headers: dict[str, Any], name: str) -> str | None:
    # API Gateway lower-cases header names in payload 2.0; accept any case all the same.
    for key, value in headers.items():
        if key.lower() == name and isinstance(value, str):
            return value
    return None


def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Authorize one request; a refusal is logged and counted with its reason (API Gateway
    caches the answer for the authorizer's TTL, so a repeated key is not seen again)."""
    route = str(event.get("routeKey", ""))
    with observability.invocation("authorizer", route=route) as current:
        headers = event.get("headers") or {}
        key = bearer_key(_header(headers, "authorization"))
        tenant = tenant_of_key(key, stored_entries())
        if tenant is None:
            # 401: no bearer key at all; 403: a key that is no tenant's.
            reason = "unauthorized" if key is None else "forbidden"
            current.add("Rejections", Reason=reason)
            logger.info("refused %s: %s", route, reason, extra=current.fields | {"error": reason})
            return {"isAuthorized": False}
        current.fields["tenant"] = tenant
        logger.debug("authorized %s", route, extra=current.fields)
        return {"isAuthorized": True, "context": {"tenant": tenant}}


handler = observability.traced(authorize)
