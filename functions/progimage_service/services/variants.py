"""Variants of stored images: produced once, then served from the S3 variant cache.

The variant's key is computed from the request alone, so a cache hit costs one S3 read and no
image work: Pillow is imported only on a miss.
"""

from __future__ import annotations

from ..errors import NotFound
from ..ids import check_id
from ..imaging.pipeline import Pipeline
from ..inputs import echo
from ..storage_layout import variant_key
from ..wiring import Dependencies
from .delivery import Delivery, deliver_object
from .transform import render_stored


def variant(
    deps: Dependencies, image_id: str, pipeline: Pipeline, if_none_match: str | None = None
) -> Delivery:
    """Serve a stored image through a pipeline, computing and caching it on first request."""
    key = variant_key(check_id(image_id), pipeline.variant_name())
    cached = deps.store.get(key)
    if cached is None:
        produce(deps, image_id, pipeline, key)
        cached = deps.store.get(key)
        if cached is None:  # deleted between our write and our read
            raise NotFound(f"no image with id {echo(image_id)}", param="id")
    return deliver_object(deps, cached, cached.etag, if_none_match)


def ensure(deps: Dependencies, image_id: str, pipeline: Pipeline) -> str:
    """Make sure the variant exists (rendering it if not); return its path in the API."""
    key = variant_key(check_id(image_id), pipeline.variant_name())
    if not deps.store.exists(key):
        produce(deps, image_id, pipeline, key)
    return api_path(image_id, pipeline)


def api_path(image_id: str, pipeline: Pipeline) -> str:
    """The URL path that serves this variant: ``/images/{id}/{canonical}.{ext}``."""
    canonical = pipeline.canonical()
    extension = f".{pipeline.format.extension}" if pipeline.format else ""
    return (
        f"/images/{image_id}/{canonical}{extension}"
        if canonical
        else f"/images/{image_id}{extension}"
    )


def produce(deps: Dependencies, image_id: str, pipeline: Pipeline, key: str) -> None:
    """Render the variant and write it unless a concurrent request already has."""
    rendered = render_stored(deps, image_id, pipeline)
    deps.store.put(key, rendered.data, rendered.format.content_type, only_if_new=True)
