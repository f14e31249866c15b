"""Batch items: any source, any pipeline, stored or not; one result per item, errors included.

The same item runner serves POST /batch (in the request) and jobs (in the queue workers).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..errors import BadRequest, ProgImageError
from ..ids import new_id
from ..imaging.limits import shared_budget
from ..signing import signed_path
from ..storage_layout import result_key
from ..wiring import Dependencies
from . import presets, variants
from .transform import pipeline_of, render_bytes, source_bytes, store_flag, transform

logger = logging.getLogger("progimage")

MAX_BATCH_ITEMS = 100
RESULT_URL_TTL = 3600  # presigned links to ephemeral results (kept by lifecycle: see template)


def run_item(
    deps: Dependencies, tenant: str, item: Any, index: int, run_id: str, accept: str | None = None
) -> dict[str, Any]:
    """Process one item; a client error becomes that item's result instead of an exception.

    ``accept`` is the Accept header ``"format": "auto"`` chooses by (a job has none: its items
    get the fallback, JPEG or PNG).

    A stored source without ``store`` answers its variant's API path (the variant is made and
    cached now); bytes or a URL without ``store`` answer a presigned link to the result, kept for
    a day under ``results/{run_id}/``; ``store`` answers the new image's record.
    """
    try:
        if not isinstance(item, Mapping) or "source" not in item:
            raise BadRequest('an item is {"source", "ops"?, "format"?, "store"?}', param="source")
        fmt = item.get("format")
        preference = deps.settings.auto_formats
        asked = pipeline_of(item.get("ops"), fmt, accept, preference)
        store = store_flag(item.get("store", False))
        source = item["source"]
        if not store and isinstance(source, Mapping) and set(source) == {"id"}:
            path = variants.ensure(deps, tenant, str(source["id"]), asked, accept, preference)
            return {"index": index, "status": 200, "url": path}
        pipeline = presets.expand(deps, asked, tenant, accept, preference)
        data = source_bytes(deps, tenant, source)
        if store:
            record = transform(deps, tenant, data, pipeline, store=True).record
            assert record is not None
            return {"index": index, "status": 201, "image": record.to_json()}
        rendered = render_bytes(deps, tenant, data, pipeline)
        key = result_key(run_id, index, rendered.format.extension)
        deps.store.put(key, rendered.data, rendered.format.content_type)
        return {"index": index, "status": 200, "result_key": key}
    except ProgImageError as error:
        if error.status >= 500:
            logger.warning("item %d failed: %s", index, error.message)
        return {"index": index, "status": error.status, "error": error.body()}


def presented(deps: Dependencies, tenant: str, result: dict[str, Any]) -> dict[str, Any]:
    """A result as the API shows it, with links that work when they are shown: an ephemeral
    result's link is presigned then (so a job read hours later still has working links), and a
    variant's path is signed for the tenant, with an expiry, when the API requires signatures."""
    if "result_key" in result:
        shown = {k: v for k, v in result.items() if k != "result_key"}
        return shown | {"url": deps.store.presigned_get(result["result_key"], RESULT_URL_TTL)}
    if "url" not in result:
        return result
    path = result["url"]
    keys = deps.signing_keys()
    if keys:
        path = signed_path(keys[0], tenant, path, deps.settings.signed_url_ttl_seconds)
    # with a CDN, on it: the same path (the signature covers the path alone)
    return result | {"url": deps.cdn().url + path}


def run_batch(
    deps: Dependencies, tenant: str, items: Any, accept: str | None = None
) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH_ITEMS:
        raise BadRequest(f"items must be a list of 1 to {MAX_BATCH_ITEMS} items", param="items")
    batch_id = new_id()
    with shared_budget(deps.settings.limits.max_seconds):
        return [
            presented(deps, tenant, run_item(deps, tenant, item, index, batch_id, accept))
            for index, item in enumerate(items)
        ]
