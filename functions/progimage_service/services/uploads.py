"""Presigned direct-to-S3 uploads, and their ingest when S3 reports the object."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from .. import observability
from ..attempts import Attempt, died
from ..errors import BadRequest, ProgImageError
from ..ids import is_valid_id, new_id
from ..imaging.formats import FORMATS
from ..models import ImageRecord, now_rfc3339, rfc3339
from ..storage_layout import image_id_of_upload, upload_key
from ..wiring import Dependencies
from . import eager
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


def ingest(deps: Dependencies, key: str, attempt: Attempt | None = None) -> Outcome:
    """Validate an uploaded object exactly like POST /images, then record it ready or rejected.

    Safe to repeat (S3 events arrive at least once): only a pending record is ever changed, and
    the upload object is removed last, so a retry after any failure finds the work still to do.
    A retryable failure (5xx) is raised for the queue to deliver the event again, except on the
    last delivery: one more would put the event in the dead-letter queue and leave the image
    pending, so the upload is rejected with the reason. An ingest whose invocation ran out (of
    time or memory) is rejected by the next delivery rather than tried again (see ``attempts``).
    """
    attempt = attempt or Attempt()
    image_id = image_id_of_upload(key)
    if image_id is None or not is_valid_id(image_id):
        logger.warning("ignoring an object that is no upload: %r", key)
        return "skipped"
    record = deps.catalog.get(image_id)
    if record is None or record.status != "pending":
        deps.store.delete(key)  # already done, or deleted meanwhile: only the leftover goes
        return "skipped"
    if attempt.ends_at is not None:  # (a direct call, with no end known, notes nothing)
        earlier = deps.catalog.begin_ingest(image_id, attempt.started, attempt.ends_at)
        seconds = died(earlier, attempt)
        if seconds is not None:
            return _reject(
                deps,
                record,
                key,
                f"the upload could not be checked and stored in the {seconds:.0f} s its ingest "
                "was given (it ran out of time or memory)",
            )
    try:
        return _ingest(deps, record, key)
    except Exception as error:
        if attempt.number < deps.settings.job_max_attempts:
            if attempt.ends_at is not None:
                deps.catalog.end_ingest(image_id)  # not a run that died: the next starts afresh
            raise
        logger.exception("ingest of %s failed on its last delivery", image_id)
        cause = error.message if isinstance(error, ProgImageError) else "an unexpected error"
        return _reject(
            deps, record, key, f"the upload could not be stored ({cause}); upload it again"
        )


def _ingest(deps: Dependencies, record: ImageRecord, key: str) -> Outcome:
    from ..imaging.working_copy import admit

    upload = deps.store.get(key)
    if upload is None:
        return "skipped"  # another delivery of the same event finished first
    limits = deps.settings.limits
    try:
        if upload.size > limits.max_bytes:
            upload.body.close()
            limits.check_bytes(upload.size)
        data = upload.read()
        admitted = admit(data, limits)
    except ProgImageError as error:
        if error.status >= 500:
            raise
        return _reject(deps, record, key, error.message)
    ready = replace(
        write_objects(deps, record.tenant, record.id, data, admitted),
        created_at=record.created_at,
    )
    # Not pending any more: a concurrent delivery finished it, or the image was deleted
    # meanwhile, in which case the objects and index items just written must not outlive
    # their record.
    if deps.catalog.complete(ready):
        eager.render_ahead(deps, ready.tenant, [ready.id])
    elif deps.catalog.get(record.id) is None:
        remove(deps, object_keys(ready))
        deps.catalog.remove_index(ready)
    deps.store.delete(key)
    observability.add("IngestOutcomes", Outcome="ready")
    observability.annotate(image_id=record.id, tenant=record.tenant)
    return "ready"


def _reject(deps: Dependencies, record: ImageRecord, key: str, reason: str) -> Outcome:
    deps.catalog.complete(replace(record, status="rejected", reason=reason))
    observability.add("IngestOutcomes", Outcome="rejected")
    observability.annotate(image_id=record.id, tenant=record.tenant, rejected=reason)
    deps.store.delete(key)
    return "rejected"


def give_up(deps: Dependencies, key: str, attempt: Attempt) -> bool:
    """An upload its worker had no time to ingest: True if it is settled without checking it.

    On its event's last delivery the upload is rejected (upload it again), since one more
    would put the event in the dead-letter queue and leave the image pending; before that it is
    left to be delivered again.
    """
    if attempt.number < deps.settings.job_max_attempts:
        return False
    image_id = image_id_of_upload(key)
    record = None if image_id is None or not is_valid_id(image_id) else deps.catalog.get(image_id)
    if record is not None and record.status == "pending":
        _reject(
            deps,
            record,
            key,
            "the upload was not checked: its worker ran out of time on every delivery; upload "
            "it again",
        )
    return True
