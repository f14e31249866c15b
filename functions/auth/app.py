"""The HTTP API's Lambda authorizer (payload 2.0, simple responses) for write and job routes.

Keys come as ``Authorization: Bearer <key>``; their SHA-256 hex digests are listed,
comma-separated, in an SSM parameter (``PROGIMAGE_API_KEYS_PARAMETER``, read through a short
cache) or, for the local server, in ``PROGIMAGE_API_KEY_HASHES``. API Gateway answers 401 itself
when the header is missing and 403 when this returns ``isAuthorized: false``.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

from progimage_service.adapters.ssm import KeyHashes
from progimage_service.auth import bearer_key, is_authorized

logger = logging.getLogger("progimage")

HASHES_VARIABLE = "PROGIMAGE_API_KEY_HASHES"
PARAMETER_VARIABLE = "PROGIMAGE_API_KEYS_PARAMETER"


@cache
def _key_store(parameter: str) -> KeyHashes:
    return KeyHashes(parameter)


def stored_hashes() -> list[str]:
    """The accepted digests: the environment's list if set (local use), else the SSM parameter."""
    listed = os.environ.get(HASHES_VARIABLE, "")
    if listed.strip():
        return [h for h in listed.split(",") if h.strip()]
    return _key_store(os.environ[PARAMETER_VARIABLE]).get()


def _header(headers: dict[str, Any], name: str) -> str | None:
    # API Gateway lower-cases header names in payload 2.0; accept any case all the same.
    for key, value in headers.items():
        if key.lower() == name and isinstance(value, str):
            return value
    return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = event.get("headers") or {}
    authorized = is_authorized(bearer_key(_header(headers, "authorization")), stored_hashes())
    if not authorized:
        logger.info("refused %s", event.get("routeArn", ""))
    return {"isAuthorized": authorized}
