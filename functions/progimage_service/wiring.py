"""Build the service's dependencies once per process, from the settings (the edge)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

from .adapters.cdn import CdnLocation, CdnParameter, Invalidator
from .adapters.dynamodb import Catalog, IdempotencyTable, JobTable
from .adapters.presets import PresetTable
from .adapters.s3 import ObjectStore, RoutedStore, Store
from .adapters.secrets import Secret
from .adapters.sqs import Queue
from .config import Environment, Settings, environment, settings, signing_keys
from .storage_layout import is_cache_key


@dataclass(frozen=True)
class Dependencies:
    """The adapters, each made on first use: creating an AWS client costs tens of milliseconds
    of a cold start, and most requests need one or two of them (a cached variant: S3 and the
    catalog, never the queue)."""

    settings: Settings

    @cached_property
    def store(self) -> Store:
        regional = ObjectStore(self.settings.bucket)
        if not self.settings.cache_bucket:
            return regional
        return RoutedStore(regional, ObjectStore(self.settings.cache_bucket), is_cache_key)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.settings.table)

    @cached_property
    def presets(self) -> PresetTable:
        return PresetTable(self.settings.table)

    @cached_property
    def jobs(self) -> JobTable:
        return JobTable(self.settings.table)

    @cached_property
    def jobs_queue(self) -> Queue:
        return Queue(self.settings.jobs_queue_url)

    @cached_property
    def edge_queue(self) -> Queue:
        return Queue(self.settings.edge_queue_url)

    @cached_property
    def idempotency(self) -> IdempotencyTable:
        return IdempotencyTable(self.settings.table)

    @cached_property
    def _signing_secret(self) -> Secret:
        return Secret(self.settings.signing_keys_secret)

    def signing_keys(self) -> tuple[bytes, ...]:
        """The URL signing master keys (newest first); none: URLs need no signature."""
        if self.settings.signing_keys_secret:
            return signing_keys(self._signing_secret.get())
        return self.settings.signing_keys

    @cached_property
    def _cdn_parameter(self) -> CdnParameter:
        return CdnParameter(self.settings.cdn_parameter)

    def cdn(self) -> CdnLocation:
        """The distribution in front of the API (empty fields: none)."""
        if self.settings.cdn_parameter:
            return self._cdn_parameter.get()
        return CdnLocation(self.settings.cdn_distribution_id, self.settings.cdn_url)

    def invalidator(self, distribution_id: str) -> Invalidator:
        return Invalidator(distribution_id)

    @cached_property
    def _origin_verify_secret(self) -> Secret:
        return Secret(self.settings.origin_verify_secret)

    def origin_verify(self) -> str:
        """The value CloudFront sends as X-Origin-Verify, if the image routes require it."""
        if self.settings.origin_verify_secret:
            return self._origin_verify_secret.get()
        return self.settings.origin_verify


def dependencies() -> Dependencies:
    """The adapters for the current environment, built once for each."""
    return _dependencies(environment())


@cache
def _dependencies(variables: Environment) -> Dependencies:
    return Dependencies(settings())
