"""Secrets Manager values (API key digests, URL signing keys), cached briefly per process.

Secrets are read through here rather than from environment variables, which anyone allowed
``lambda:GetFunctionConfiguration`` can read. A changed or rotated value takes effect within
the cache time.
"""

from __future__ import annotations

from typing import Any

from .aws import Cached, client, translated


class Secret:
    def __init__(
        self, secret_id: str, ttl_seconds: float = 300, secrets: Any | None = None
    ) -> None:
        self.secret_id = secret_id
        self.secrets = secrets
        self._value = Cached(self._read, ttl_seconds)

    def get(self) -> str:
        """The secret's current string value."""
        return self._value.get()

    def _read(self) -> str:
        with translated("secret store"):
            value = (self.secrets or client("secretsmanager")).get_secret_value(
                SecretId=self.secret_id
            )
        return value["SecretString"]
