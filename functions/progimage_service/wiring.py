"""Build the service's dependencies once per process, from the settings (the edge)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .adapters.dynamodb import Catalog, IdempotencyTable, JobTable
from .adapters.s3 import ObjectStore
from .adapters.sqs import Queue
from .config import Environment, Settings, environment, settings


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    store: ObjectStore
    catalog: Catalog
    jobs: JobTable
    jobs_queue: Queue
    idempotency: IdempotencyTable


def dependencies() -> Dependencies:
    """The adapters for the current environment, built once for each."""
    return _dependencies(environment())


@cache
def _dependencies(variables: Environment) -> Dependencies:
    config = settings()
    return Dependencies(
        config,
        ObjectStore(config.bucket),
        Catalog(config.table),
        JobTable(config.table),
        Queue(config.jobs_queue_url),
        IdempotencyTable(config.table),
    )
