"""Variants of stored images: produced once, then served from the S3 variant cache.

The variant's key is computed from the request alone, so a cache hit costs one S3 read and no
image work: Pillow is imported only on a miss, and the catalog is not read. A variant carries
its owner's tenant as object metadata, so a signed URL's tenant is checked on that same read.

A variant never outlives an image it was made from. Before it is written, a marker is written
under every image it names (``refs/{id}/...``), which deleting that image lists; after it is
written, the records of the source and of every image it names are read again, and if any is
gone the variant is removed. A delete either happened before that check (which sees it) or
after the write (and finds the variant under its prefix or its markers).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from .. import observability
from ..auth import DEFAULT_TENANT
from ..errors import NotFound
from ..ids import check_id, unknown
from ..imaging.negotiate import AUTO
from ..imaging.pipeline import Pipeline
from ..models import ImageRecord
from ..storage_layout import reference_key, variant_key, work_key
from ..wiring import Dependencies
from . import presets
from .delivery import NOTHING_ASKED, Asked, Delivery, deliver_bytes, deliver_object
from .images import ready_record
from .transform import Opening, close_unread, render_record

if TYPE_CHECKING:
    from ..imaging.render import Rendered

OWNER = "tenant"  # the variant object's metadata naming its owner
# Opens working copies while a miss reads the record (threads kept across invocations).
_OPENER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="opener")
# The owners of the images unsigned URLs named presets of lately, newest last: an image never
# changes owner (and an id is never another image's), so a warm function's hit reads the
# presets alone.
_OWNERS: OrderedDict[str, str] = OrderedDict()
MAX_OWNERS = 10_000  # about 1 MB


def variant(
    deps: Dependencies,
    image_id: str,
    pipeline: Pipeline,
    tenant: str | None,
    asked: Asked = NOTHING_ASKED,
    accept: str | None = None,
    preference: Sequence[str] = (),
) -> Delivery:
    """Serve a stored image through a pipeline, computing and caching it on first request.

    With a tenant (a signed URL's), only that tenant's image is served; another's answers as
    an unknown id does. A hit is one read, one more of the presets the pipeline names (the
    image owner's: without a tenant, known from an earlier request or its record, read first),
    and one of the record where a step centres on the image's focal point (gravity auto). A
    miss reads the record and the working copy at once, renders, writes the variant and
    answers the bytes it wrote (with the write's ETag); it reads the variant back only when a
    concurrent request wrote it first. ``accept`` and ``preference`` choose a preset's
    ``auto`` format.
    """
    check_id(image_id)
    record = None
    if pipeline.presets:
        owner = tenant
        if owner is None:  # no signature names the owner: the record does
            owner, record = _owner(deps, image_id)
        pipeline = presets.expand(deps, pipeline, owner, accept, preference)
    if pipeline.uses_focal and record is None:  # the key names the image's focal point
        record = ready_record(deps, image_id, tenant)
    key = variant_key(image_id, pipeline.variant_name(record.focal if record else None))
    cached = deps.store.get(key)
    _account(hit=cached is not None)
    if cached is None:
        record, opening = _record_and_copy(deps, image_id, pipeline, tenant, record)
        rendered, etag = produce(deps, record, pipeline, key, opening)
        if etag is not None:
            content_type = rendered.format.content_type
            made = deliver_bytes(deps, key, rendered.data, content_type, etag, asked)
            return replace(made, cache="miss")
        cached = deps.store.get(key)  # the concurrent request's, which it checks itself
    if cached is None or (
        tenant is not None and cached.metadata.get(OWNER, DEFAULT_TENANT) != tenant
    ):
        if cached is not None:
            cached.body.close()
        raise unknown(image_id)
    return replace(deliver_object(deps, cached, cached.etag, asked), cache="hit")


def _owner(deps: Dependencies, image_id: str) -> tuple[str, ImageRecord | None]:
    """The image's owner, from memory or from its record (then answered too)."""
    owner = _OWNERS.get(image_id)
    if owner is not None:
        _OWNERS.move_to_end(image_id)
        return owner, None
    record = ready_record(deps, image_id, None)
    _OWNERS[image_id] = record.tenant
    if len(_OWNERS) > MAX_OWNERS:
        _OWNERS.popitem(last=False)
    return record.tenant, record


def _record_and_copy(
    deps: Dependencies,
    image_id: str,
    pipeline: Pipeline,
    tenant: str | None,
    record: ImageRecord | None,
) -> tuple[ImageRecord, Opening]:
    """The image's record (if it can be served to ``tenant``; read unless given), with the
    working copy the pipeline most likely reads being opened meanwhile: its key does not depend
    on the record."""
    from ..imaging.plan import likely_copy

    kind = likely_copy(pipeline)
    opening = Opening(kind, _OPENER.submit(deps.store.get, work_key(image_id, kind.name)))
    try:
        return record or ready_record(deps, image_id, tenant), opening
    except BaseException:
        opening.stored.add_done_callback(close_unread)
        raise


def ensure(
    deps: Dependencies,
    tenant: str,
    image_id: str,
    pipeline: Pipeline,
    accept: str | None = None,
    preference: Sequence[str] = (),
) -> str:
    """Make sure the tenant's variant exists (rendering it if not); return its API path (the
    pipeline as asked: with its presets by name)."""
    record = ready_record(deps, image_id, tenant)
    expanded = presets.expand(deps, pipeline, tenant, accept, preference)
    key = variant_key(record.id, expanded.variant_name(record.focal))
    hit = deps.store.exists(key)
    _account(hit)
    if not hit:
        produce(deps, record, expanded, key)
    return api_path(image_id, pipeline)


def _account(hit: bool) -> None:
    observability.add("CacheHits" if hit else "CacheMisses")
    observability.annotate(cache="hit" if hit else "miss")


def api_path(image_id: str, pipeline: Pipeline) -> str:
    """The URL path that serves this variant: ``/images/{id}/{canonical}.{ext}`` (``.auto``
    where the format was negotiated: whoever fetches it gets the format they accept)."""
    canonical = pipeline.canonical()
    if pipeline.negotiated:
        extension = f".{AUTO}"
    else:
        extension = f".{pipeline.format.extension}" if pipeline.format else ""
    return (
        f"/images/{image_id}/{canonical}{extension}"
        if canonical
        else f"/images/{image_id}{extension}"
    )


def produce(
    deps: Dependencies,
    record: ImageRecord,
    pipeline: Pipeline,
    key: str,
    opening: Opening | None = None,
) -> tuple[Rendered, str | None]:
    """Render the variant and write it unless a concurrent request already has; remove it
    (and its markers) again if the image, or one it names, was deleted meanwhile. Answer the
    rendering and the ETag written (None: a concurrent request wrote the variant first)."""
    rendered = render_record(deps, record, pipeline, opening)
    named = sorted(set(pipeline.image_ids()))
    markers = [reference_key(image_id, key) for image_id in named]
    for marker in markers:
        deps.store.put(marker, b"", "application/octet-stream")
    etag = deps.store.put(
        key,
        rendered.data,
        rendered.format.content_type,
        only_if_new=True,
        metadata={OWNER: record.tenant},
    )
    if etag is None:
        return rendered, None  # a concurrent request wrote it, and checks it itself
    try:
        deleted = any(deps.catalog.get(i) is None for i in [record.id, *named])
    except BaseException:
        deps.store.delete(key)  # a cache entry: when in doubt, it goes
        raise
    if deleted:
        deps.store.delete_keys([key, *markers])
        raise NotFound(f"image {record.id} or an image it names was deleted", param="id")
    return rendered, etag
