"""The HTTP API's Lambda authorizer (payload 2.0, simple responses) for write and job routes.

Keys come as ``Authorization: Bearer <key>``; their SHA-256 hashes are listed in an SSM
parameter (``PROGIMAGE_API_KEYS_PARAMETER``) or, for the local server, in
``PROGIMAGE_API_KEY_HASHES``.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

from progimage_service.adapters.ssm import KeyHashes
from progimage_service.auth import bearer_key, is_authorized

logger = logging.getLogger("progimage")


@cache
def _hashes() -> KeyHashes | list[str]:
    listed = os.environ.get("PROGIMAGE_API_KEY_HASHES", "")
    if listed:
        return [h for h in listed.split(",") if h.strip()]
    return KeyHashes(os.environ["PROGIMAGE_API_KEYS_PARAMETER"])


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = event.get("headers") or {}
    source = _hashes()
    hashes = source if isinstance(source, list) else source.get()
    authorized = is_authorized(bearer_key(headers.get("authorization")), hashes)
    if not authorized:
        logger.info("refused %s", event.get("routeArn", ""))
    return {"isAuthorized": authorized}
