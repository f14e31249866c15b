"""The CloudFront distribution in front of the API: where it is, and invalidations.

Deployed, the functions learn the distribution from an SSM parameter the stack writes (JSON:
``distribution_id``, ``url``), read once a while; the template cannot put it in their
environment, as the distribution depends on the API, which depends on the functions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .aws import Cached, client, translated


@dataclass(frozen=True)
class CdnLocation:
    distribution_id: str = ""
    url: str = ""  # https://host, no trailing slash


class CdnParameter:
    """The SSM parameter naming the distribution, cached for ``ttl_seconds``."""

    def __init__(self, name: str, ttl_seconds: float = 300, ssm: Any | None = None) -> None:
        self.name = name
        self.ssm = ssm
        self._location = Cached(self._read, ttl_seconds)

    def get(self) -> CdnLocation:
        return self._location.get()

    def _read(self) -> CdnLocation:
        with translated("parameter store"):
            answer = (self.ssm or client("ssm")).get_parameter(Name=self.name)
        value = json.loads(answer["Parameter"]["Value"])
        return CdnLocation(
            str(value.get("distribution_id", "")), str(value.get("url", "")).rstrip("/")
        )


class Invalidator:
    """CreateInvalidation on one distribution."""

    def __init__(self, distribution_id: str, cloudfront: Any | None = None) -> None:
        self.distribution_id = distribution_id
        self.cloudfront = cloudfront

    def invalidate(self, paths: Sequence[str]) -> str:
        """Submit one invalidation of ``paths``; its id. CloudFront finishes it asynchronously."""
        with translated("CDN"):
            answer = (self.cloudfront or client("cloudfront")).create_invalidation(
                DistributionId=self.distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": len(paths), "Items": list(paths)},
                    "CallerReference": uuid.uuid4().hex,
                },
            )
        return str(answer["Invalidation"]["Id"])
