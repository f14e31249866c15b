"""The S3 object store: originals and cached variants in one bucket, or the variant cache in a
bucket of its own (an S3 Express One Zone directory bucket, see the architecture note)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ..errors import ProgImageError
from .aws import client, error_code, translated

_MISSING = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    content_type: str
    etag: str
    body: Any  # a streaming body; read() it, or close() it unread
    metadata: dict[str, str] = field(default_factory=dict)  # x-amz-meta-*
    last_modified: datetime | None = None

    def read(self) -> bytes:
        try:
            return self.body.read()
        finally:
            self.body.close()


class ObjectStore:
    def __init__(self, bucket: str, s3: Any | None = None) -> None:
        self.bucket = bucket
        self.s3 = s3 or client("s3")

    def put(
        self,
        key: str,
        data: bytes,
        content_type: str,
        *,
        only_if_new: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        """Write an object and answer its ETag; with only_if_new, answer None (and write
        nothing) if it exists."""
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if only_if_new else {}
        if metadata:
            extra["Metadata"] = dict(metadata)
        try:
            with translated("storage"):
                response = self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **extra
                )
        except ClientError as error:
            if only_if_new and error_code(error) in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                return None
            raise
        return response["ETag"]

    def get(self, key: str) -> StoredObject | None:
        """Open an object for reading, or None if there is none."""
        try:
            with translated("storage"):
                response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _MISSING:
                return None
            raise
        return StoredObject(
            key=key,
            size=int(response["ContentLength"]),
            content_type=response.get("ContentType", "application/octet-stream"),
            etag=response["ETag"],
            body=response["Body"],
            metadata=response.get("Metadata") or {},
            last_modified=response.get("LastModified"),
        )

    def read(self, key: str) -> bytes | None:
        obj = self.get(key)
        return None if obj is None else obj.read()

    def delete(self, key: str) -> None:
        with translated("storage"):
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def keys(self, prefix: str) -> Iterator[list[str]]:
        """The keys under a prefix, a page (up to 1,000) at a time."""
        paginator = self.s3.get_paginator("list_objects_v2")
        with translated("storage"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                yield [item["Key"] for item in page.get("Contents", [])]

    def delete_keys(self, keys: list[str]) -> None:
        """Delete up to 1,000 objects in one request; any key S3 did not delete is an error
        (a multi-object delete answers 200 and lists the failures)."""
        if not keys:
            return
        with translated("storage"):
            response = self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
            )
        failed = response.get("Errors", [])
        if failed:
            first = failed[0]
            raise ProgImageError(
                f"storage did not delete {len(failed)} of {len(keys)} objects, e.g. "
                f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under a prefix, 1,000 per request; return how many."""
        deleted = 0
        for page in self.keys(prefix):
            self.delete_keys(page)
            deleted += len(page)
        return deleted

    def exists(self, key: str) -> bool:
        try:
            with translated("storage"):
                self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _MISSING:
                return False
            raise
        return True

    def presigned_post(
        self, key: str, content_type: str, max_bytes: int, ttl_seconds: int
    ) -> dict[str, Any]:
        """A browser-form upload of exactly this key: an image/ type, 1..max_bytes bytes."""
        return self.s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                ["starts-with", "$Content-Type", "image/"],
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=ttl_seconds,
        )

    def presigned_get(self, key: str, ttl_seconds: int, disposition: str | None = None) -> str:
        """A URL that reads the object until it expires; S3 answers ``disposition`` as its
        Content-Disposition, if given."""
        params = {"Bucket": self.bucket, "Key": key}
        if disposition is not None:
            params["ResponseContentDisposition"] = disposition
        return self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_seconds)


class RoutedStore:
    """The regional store and a cache store behind one interface: keys for which ``is_cache``
    holds are read and written in the cache bucket, every other key in the regional one.

    Deleting (and listing, to delete) a cache key reaches both buckets, so that what the
    regional bucket cached before the cache bucket was configured goes with its image too.
    """

    def __init__(
        self, regional: ObjectStore, cache: ObjectStore, is_cache: Callable[[str], bool]
    ) -> None:
        self.regional = regional
        self.cache = cache
        self.is_cache = is_cache

    def _for(self, key: str) -> ObjectStore:
        return self.cache if self.is_cache(key) else self.regional

    def _holding(self, key: str) -> tuple[ObjectStore, ...]:
        """The stores a key (or a prefix) may be found in."""
        return (self.cache, self.regional) if self.is_cache(key) else (self.regional,)

    def put(
        self,
        key: str,
        data: bytes,
        content_type: str,
        *,
        only_if_new: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        return self._for(key).put(
            key, data, content_type, only_if_new=only_if_new, metadata=metadata
        )

    def get(self, key: str) -> StoredObject | None:
        return self._for(key).get(key)

    def read(self, key: str) -> bytes | None:
        return self._for(key).read(key)

    def exists(self, key: str) -> bool:
        return self._for(key).exists(key)

    def delete(self, key: str) -> None:
        for store in self._holding(key):
            store.delete(key)

    def keys(self, prefix: str) -> Iterator[list[str]]:
        for store in self._holding(prefix):
            yield from store.keys(prefix)

    def delete_keys(self, keys: list[str]) -> None:
        for store in (self.cache, self.regional):
            store.delete_keys([key for key in keys if store in self._holding(key)])

    def delete_prefix(self, prefix: str) -> int:
        return sum(store.delete_prefix(prefix) for store in self._holding(prefix))

    def presigned_post(
        self, key: str, content_type: str, max_bytes: int, ttl_seconds: int
    ) -> dict[str, Any]:
        return self._for(key).presigned_post(key, content_type, max_bytes, ttl_seconds)

    def presigned_get(self, key: str, ttl_seconds: int, disposition: str | None = None) -> str:
        return self._for(key).presigned_get(key, ttl_seconds, disposition)


# What the services are given: one bucket, or the regional bucket and a cache bucket.
Store = ObjectStore | RoutedStore
