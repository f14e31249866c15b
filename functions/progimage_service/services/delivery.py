"""How stored bytes reach the client: inline, as a redirect, or 'not modified'."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from ..adapters.s3 import StoredObject
from ..wiring import Dependencies

MAX_DOWNLOAD_NAME = 200  # characters of a ?download= name that are kept
_UNSAFE_IN_NAME = {'"', "'", "\\", "/"}
_TRIMMED = re.compile(r"^[\s\ufeff]+|[\s\ufeff]+$")  # what JavaScript's trim() removes


@dataclass(frozen=True)
class Asked:
    """What a GET asks of its answer besides the bytes: the client's cached copy, by ETag
    (``If-None-Match``) or date (``If-Modified-Since``), and a name to save it under
    (``?download=NAME``)."""

    if_none_match: str | None = None
    if_modified_since: str | None = None
    download: str | None = None

    def has_current(self, etag: str, last_modified: datetime | None) -> bool:
        """Is the client's copy current? ``If-None-Match``, when sent, decides alone
        (RFC 9110 13.1.3)."""
        if self.if_none_match:
            return matches(etag, self.if_none_match)
        if not self.if_modified_since or last_modified is None:
            return False
        try:
            since = parsedate_to_datetime(self.if_modified_since)
        except (TypeError, ValueError):
            return False  # an unreadable date is ignored, as RFC 9110 says
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since

    @property
    def disposition(self) -> str | None:
        """The Content-Disposition that ``download`` asks for (None: none, or no name left)."""
        return attachment(self.download) if self.download is not None else None


NOTHING_ASKED = Asked()


def attachment(name: str) -> str | None:
    """``attachment`` with ``name`` as the file name: control characters, quotes, slashes and
    backslashes removed, at most MAX_DOWNLOAD_NAME characters, trimmed; an ASCII ``filename``
    (other characters as ``_``) for old clients and the exact name as RFC 8187 ``filename*``.
    The CDN's viewer-response function writes the same header (a test runs both)."""
    kept = "".join(c for c in name if c not in _UNSAFE_IN_NAME and unicodedata.category(c) != "Cc")
    kept = _TRIMMED.sub("", kept[:MAX_DOWNLOAD_NAME])
    if not kept:
        return None
    ascii_name = "".join(c if " " <= c <= "~" else "_" for c in kept)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(kept, safe='')}"


@dataclass(frozen=True)
class Delivery:
    """Bytes to serve, or where to fetch them (too large to pass through Lambda), or neither.

    Exactly one of ``body`` and ``url`` is set, or neither when the client's copy is current.
    """

    content_type: str
    etag: str
    body: bytes | None = None
    url: str | None = None
    last_modified: datetime | None = None
    disposition: str | None = None  # Content-Disposition (a redirect's URL carries its own)
    cache: str | None = None  # a variant's: "hit" (read from the cache) or "miss" (made now)

    @property
    def not_modified(self) -> bool:
        return self.body is None and self.url is None


def matches(etag: str, if_none_match: str | None) -> bool:
    """Does an If-None-Match header name this ETag (weak or strong, or '*')?"""
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def deliver_object(deps: Dependencies, obj: StoredObject, etag: str, asked: Asked) -> Delivery:
    """Serve an opened object inline, by redirect when large, or as not modified."""
    modified = obj.last_modified
    delivery = _without_body(deps, obj.key, obj.content_type, etag, obj.size, modified, asked)
    if delivery is None:
        disposition = asked.disposition
        return Delivery(obj.content_type, etag, obj.read(), None, modified, disposition)
    obj.body.close()
    return delivery


def deliver_bytes(
    deps: Dependencies, key: str, data: bytes, content_type: str, etag: str, asked: Asked
) -> Delivery:
    """Serve bytes just stored at ``key`` (with this ETag) as if read back from it."""
    now = datetime.now(UTC)
    delivery = _without_body(deps, key, content_type, etag, len(data), now, asked)
    return delivery or Delivery(content_type, etag, data, None, now, asked.disposition)


def _without_body(
    deps: Dependencies,
    key: str,
    content_type: str,
    etag: str,
    size: int,
    last_modified: datetime | None,
    asked: Asked,
) -> Delivery | None:
    """'Not modified', or a redirect to the object when it is too large to pass through Lambda;
    None where the body is to be sent."""
    if asked.has_current(etag, last_modified):
        return Delivery(content_type, etag, last_modified=last_modified)
    if size > deps.settings.inline_max_bytes:
        ttl = deps.settings.presign_ttl_seconds
        url = deps.store.presigned_get(key, ttl, asked.disposition)
        return Delivery(content_type, etag, url=url, last_modified=last_modified)
    return None
