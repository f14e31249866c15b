"""Build the service's dependencies once per process, from the settings (the edge)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .adapters.dynamodb import Catalog
from .adapters.s3 import ObjectStore
from .config import Settings, settings


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    store: ObjectStore
    catalog: Catalog


@cache
def dependencies() -> Dependencies:
    config = settings()
    return Dependencies(config, ObjectStore(config.bucket), Catalog(config.table))
