"""Presigned direct-to-S3 uploads, and their ingest when S3 reports the object."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from ..errors import BadRequest, ProgImageError
from ..ids import is_valid_id, new_id
from ..imaging.formats import FORMATS
from ..models import ImageRecord, now_rfc3339, rfc3339
from ..storage_layout import image_id_of_upload, upload_key
from ..wiring import Dependencies
from .images import object_keys, remove, write_objects

logger = logging.getLogger("progimage")

MAX_UPLOADS = 100
CONTENT_TYPES = sorted(f.content_type for f in FORMATS.values())

Outcome = Literal["ready", "rejected", "skipped"]


def create_uploads(
    deps: Dependencies, tenant: str, count: Any, content_type: Any
) -> list[dict[str, Any]]:
    """The tenant's pending records and one presigned POST each, pinned to its key, type and
    size."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_UPLOADS:
        raise BadRequest(f"count must be an integer from 1 to {MAX_UPLOADS}", param="count")
    if content_type not in CONTENT_TYPES:
        raise BadRequest(
            f"content_type must be one of {', '.join(CONTENT_TYPES)}", param="content_type"
        )
    ttl = deps.settings.upload_ttl_seconds
    expires = int(time.time()) + ttl
    created_at = now_rfc3339()
    records = [
        ImageRecord(id=new_id(), status="pending", created_at=created_at, tenant=tenant)
        for _ in range(count)
    ]
    # A record never completed (nothing was uploaded) expires a day after its upload would have.
    deps.catalog.create_pending(records, expires_at=expires + 86_400)
    expires_at = rfc3339(datetime.fromtimestamp(expires, UTC), timespec="seconds")
    uploads = []
    for record in records:
        post = deps.store.presigned_post(
            upload_key(record.id), content_type, deps.settings.limits.max_bytes, ttl
        )
        uploads.append(
            {
                "id": record.id,
                "url": post["url"],
                "fields": post["fields"],
                "expires_at": expires_at,
            }
        )
    return uploads


def ingest(deps: Dependencies, key: str) -> Outcome:
    """Validate an uploaded object exactly like POST /images, then record it ready or rejected.

    Safe to repeat (S3 events arrive at least once): only a pending record is ever changed, and
    the upload object is removed last, so a retry after any failure finds the work still to do.
    """
    from ..imaging.decode import inspect

    image_id = image_id_of_upload(key)
    if image_id is None or not is_valid_id(image_id):
        logger.warning("ignoring an object that is no upload: %r", key)
        return "skipped"
    record = deps.catalog.get(image_id)
    if record is None or record.status != "pending":
        deps.store.delete(key)  # already done, or deleted meanwhile: only the leftover goes
        return "skipped"
    upload = deps.store.get(key)
    if upload is None:
        return "skipped"  # another delivery of the same event finished first
    limits = deps.settings.limits
    try:
        if upload.size > limits.max_bytes:
            upload.body.close()
            limits.check_bytes(upload.size)
        data = upload.read()
        info = inspect(data, limits)
    except ProgImageError as error:
        if error.status >= 500:
            raise
        deps.catalog.complete(replace(record, status="rejected", reason=error.message))
        deps.store.delete(key)
        return "rejected"
    ready = replace(
        write_objects(deps, record.tenant, image_id, data, info), created_at=record.created_at
    )
    # Not pending any more: a concurrent delivery finished it, or the image was deleted
    # meanwhile, in which case the objects just written must not outlive their record.
    if not deps.catalog.complete(ready) and deps.catalog.get(image_id) is None:
        remove(deps, object_keys(ready))
    deps.store.delete(key)
    return "ready"
