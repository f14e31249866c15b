"""API key hashes kept in an SSM parameter (a StringList), cached briefly per process."""

from __future__ import annotations

import time
from typing import Any

from .aws import client, translated


class KeyHashes:
    def __init__(self, parameter: str, ttl_seconds: float = 60, ssm: Any | None = None) -> None:
        self.parameter = parameter
        self.ttl = ttl_seconds
        self.ssm = ssm
        self._cached: tuple[float, list[str]] | None = None

    def get(self) -> list[str]:
        """The hashes; a new or revoked key takes effect within the cache time."""
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > self.ttl:
            with translated("key store"):
                value = (self.ssm or client("ssm")).get_parameter(Name=self.parameter)
            hashes = [h for h in value["Parameter"]["Value"].split(",") if h.strip()]
            self._cached = (now, hashes)
        return self._cached[1]
