"""Store, describe, list, serve and delete images."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import BadRequest, NotFound, NotReady
from ..ids import check_id, is_valid_id, new_id, unknown
from ..imaging.copies import COPIES, Copy, copies_made
from ..models import ImageRecord, now_rfc3339
from ..storage_layout import (
    image_id_of_variant,
    original_key,
    references_prefix,
    variant_of_reference,
    variants_prefix,
    work_key,
    work_keys,
)
from ..wiring import Dependencies
from .delivery import NOTHING_ASKED, Asked, Delivery, deliver_object
from .edge import forget_at_edge

if TYPE_CHECKING:  # the imaging core loads only where pixels are read: reads need none of it
    from ..imaging.working_copy import Admitted, WorkingCopy


def describe(
    image_id: str, tenant: str, data: bytes, admitted: Admitted, created_at: str
) -> ImageRecord:
    """The ready record of validated bytes."""
    info, copies, looks = admitted
    x, y = looks.focal_point
    return ImageRecord(
        id=image_id,
        tenant=tenant,
        status="ready",
        format=info.format.name,
        content_type=info.format.content_type,
        width=info.width,
        height=info.height,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        frames=info.frames,
        created_at=created_at,
        phash=looks.phash,
        blurhash=looks.summary.blurhash,
        thumbhash=looks.summary.thumbhash,
        average_colour=looks.summary.average_colour,
        palette=tuple(looks.summary.to_json()["palette"]),
        focal_point={"x": x, "y": y},
        work_format=copies[0].format.name if copies else None,
        work_smallest=copies[0].kind.side if copies else None,
    )


def write_objects(
    deps: Dependencies,
    tenant: str,
    image_id: str,
    data: bytes,
    admitted: Admitted,
) -> ImageRecord:
    """Write the original and, for a large still image, its reduced working copies (all as
    ``working_copy.admit`` made them); return the record describing them. If any write fails,
    what was written is removed again."""
    info, copies, _ = admitted
    objects = [(original_key(image_id), data, info.format.content_type)]
    objects += copy_objects(image_id, copies)
    written: list[str] = []
    try:
        for key, body, content_type in objects:
            deps.store.put(key, body, content_type)
            written.append(key)
    except BaseException:
        remove(deps, written)
        raise
    return describe(image_id, tenant, data, admitted, now_rfc3339())


def copy_objects(image_id: str, copies: tuple[WorkingCopy, ...]) -> list[tuple[str, bytes, str]]:
    """The objects an image's working copies are stored as: key, bytes, Content-Type."""
    return [(work_key(image_id, c.kind.name), c.data, c.format.content_type) for c in copies]


def remove(deps: Dependencies, keys: list[str]) -> None:
    for key in keys:
        deps.store.delete(key)


def store_image(deps: Dependencies, tenant: str, data: bytes) -> ImageRecord:
    """Validate an upload and store it as the tenant's: the objects first, then the record that
    makes them visible. If writing the record fails, the objects are removed again, so no
    reader ever sees a record without its objects and nothing is left behind."""
    from ..imaging.working_copy import admit

    record = write_objects(deps, tenant, new_id(), data, admit(data, deps.settings.limits))
    try:
        deps.catalog.create(record)
    except BaseException:
        remove(deps, object_keys(record))
        raise
    return record


def object_keys(record: ImageRecord) -> list[str]:
    """The objects a record stands for (its cached variants aside)."""
    return [original_key(record.id), *(work_keys(record.id) if record.work_format else [])]


def working_copies(record: ImageRecord) -> tuple[Copy, ...]:
    """The kinds of working copy stored for an image, smallest first."""
    if not record.work_format or record.width is None or record.height is None:
        return ()
    smallest = record.work_smallest or COPIES[-1].side
    made = copies_made((record.width, record.height), record.frames or 1)
    return tuple(c for c in made if c.side >= smallest)


def ready_record(deps: Dependencies, image_id: str, tenant: str | None) -> ImageRecord:
    """The record of an image that can be served, or the reason it cannot (404 or 409)."""
    record = get_record(deps, image_id, tenant)
    if record.status == "pending":
        raise NotReady(f"image {image_id} is still being processed; retry shortly", param="id")
    if record.status == "rejected":
        raise NotFound(f"image {image_id} was rejected: {record.reason}", param="id")
    return record


def get_record(deps: Dependencies, image_id: str, tenant: str | None) -> ImageRecord:
    """An image's record; with a tenant, only that tenant's (another's answers as unknown)."""
    record = deps.catalog.get(check_id(image_id))
    if record is None or (tenant is not None and record.tenant != tenant):
        raise unknown(image_id)
    return record


def original(
    deps: Dependencies, image_id: str, tenant: str | None, asked: Asked = NOTHING_ASKED
) -> Delivery:
    """The uploaded bytes, unchanged, with the content's own hash as ETag and its upload's
    time as Last-Modified; with a tenant (a signed URL's), only if that tenant owns the image."""
    record = ready_record(deps, image_id, tenant)
    etag = f'"{record.sha256}"'
    content_type = record.content_type or "application/octet-stream"
    uploaded = datetime.fromisoformat(record.created_at) if record.created_at else None
    if asked.has_current(etag, uploaded):
        return Delivery(content_type, etag, last_modified=uploaded)
    obj = deps.store.get(original_key(image_id))
    if obj is None:
        raise unknown(image_id)
    return deliver_object(deps, replace(obj, last_modified=uploaded), etag, asked)


def list_images(
    deps: Dependencies, tenant: str, limit: int, cursor: str | None
) -> tuple[list[ImageRecord], str | None]:
    """A page of the tenant's images, newest first; the cursor is the last id of the previous
    page."""
    if cursor is not None and not is_valid_id(cursor):
        raise BadRequest("cursor is not one this API returned", param="cursor")
    return deps.catalog.list(tenant, limit, cursor)


def delete_image(deps: Dependencies, tenant: str, image_id: str) -> None:
    """Hide the record, then remove every variant made from the image (its own, and those of
    other images that used it as a mask or watermark), its objects, then the record itself.

    A failure part way leaves the record in 'deleting' (invisible to readers); repeating the
    DELETE finishes the job. A render that read the record before it was hidden checks it again
    after writing its variant and removes what it wrote (see variants.produce).
    """
    record = deps.catalog.mark_deleting(check_id(image_id), tenant)
    if record is None:
        raise unknown(image_id)
    users = remove_variants(deps, image_id)
    deps.store.delete_keys([*work_keys(image_id), original_key(image_id)])  # one request
    deps.catalog.delete(record)  # with its index items
    forget_at_edge(deps, image_id, users)


def remove_variants(deps: Dependencies, image_id: str) -> set[str]:
    """Delete every cached variant the image went into: its own, then those that name it
    (each recorded under its references before it was written). Answers the ids of the other
    images whose variants went."""
    deps.store.delete_prefix(variants_prefix(image_id))
    users: set[str] = set()
    for markers in deps.store.keys(references_prefix(image_id)):
        variants = [variant_of_reference(marker) for marker in markers]
        deps.store.delete_keys(variants)
        deps.store.delete_keys(markers)
        users.update(image_id_of_variant(key) for key in variants)
    return users
