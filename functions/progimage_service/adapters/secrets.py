"""Secrets Manager values (API key digests, URL signing keys), cached briefly per process.

Secrets are read through here rather than from environment variables, which anyone allowed
``lambda:GetFunctionConfiguration`` can read. A changed or rotated value takes effect within
the cache time.
"""

from __future__ import annotations

import time
from typing import Any

from .aws import client, translated


class Secret:
    def __init__(
        self, secret_id: str, ttl_seconds: float = 300, secrets: Any | None = None
    ) -> None:
        self.secret_id = secret_id
        self.ttl = ttl_seconds
        self.secrets = secrets
        self._cached: tuple[float, str] | None = None

    def get(self) -> str:
        """The secret's current string value."""
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > self.ttl:
            with translated("secret store"):
                value = (self.secrets or client("secretsmanager")).get_secret_value(
                    SecretId=self.secret_id
                )
            self._cached = (now, value["SecretString"])
        return self._cached[1]
