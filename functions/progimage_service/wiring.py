"""Build the service's dependencies once per process, from the settings (the edge)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .adapters.dynamodb import Catalog, IdempotencyTable, JobTable
from .adapters.s3 import ObjectStore
from .adapters.sqs import Queue
from .config import Settings, settings


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    store: ObjectStore
    catalog: Catalog
    jobs: JobTable
    jobs_queue: Queue
    idempotency: IdempotencyTable


@cache
def dependencies() -> Dependencies:
    config = settings()
    return Dependencies(
        config,
        ObjectStore(config.bucket),
        Catalog(config.table),
        JobTable(config.table),
        Queue(config.jobs_queue_url),
        IdempotencyTable(config.table),
    )
