"""How stored bytes reach the client: inline, as a redirect, or 'not modified'."""

from __future__ import annotations

from dataclasses import dataclass

from ..adapters.s3 import StoredObject
from ..wiring import Dependencies


@dataclass(frozen=True)
class Delivery:
    """Bytes to serve, or where to fetch them (too large to pass through Lambda), or neither.

    Exactly one of ``body`` and ``url`` is set, or neither when the client's copy is current.
    """

    content_type: str
    etag: str
    body: bytes | None = None
    url: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.body is None and self.url is None


def matches(etag: str, if_none_match: str | None) -> bool:
    """Does an If-None-Match header name this ETag (weak or strong, or '*')?"""
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def deliver_object(
    deps: Dependencies, obj: StoredObject, etag: str, if_none_match: str | None
) -> Delivery:
    """Serve an opened object inline, by redirect when large, or as not modified."""
    delivery = _without_body(deps, obj.key, obj.content_type, etag, obj.size, if_none_match)
    if delivery is None:
        return Delivery(obj.content_type, etag, body=obj.read())
    obj.body.close()
    return delivery


def deliver_bytes(
    deps: Dependencies,
    key: str,
    data: bytes,
    content_type: str,
    etag: str,
    if_none_match: str | None,
) -> Delivery:
    """Serve bytes just stored at ``key`` (with this ETag) as if read back from it."""
    delivery = _without_body(deps, key, content_type, etag, len(data), if_none_match)
    return delivery or Delivery(content_type, etag, body=data)


def _without_body(
    deps: Dependencies, key: str, content_type: str, etag: str, size: int, if_none_match: str | None
) -> Delivery | None:
    """'Not modified', or a redirect to the object when it is too large to pass through Lambda;
    None where the body is to be sent."""
    if matches(etag, if_none_match):
        return Delivery(content_type, etag)
    if size > deps.settings.inline_max_bytes:
        url = deps.store.presigned_get(key, deps.settings.presign_ttl_seconds)
        return Delivery(content_type, etag, url=url)
    return None
