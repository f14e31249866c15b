"""What images say of themselves and their owners say of them: tags, metadata and a focal point
(PATCH /images/{id}), listing by tag, near-duplicates by perceptual hash, and exact duplicates
by content hash. Every look-up goes through index items of the caller's tenant (see
adapters/dynamodb.py), never a scan of its images."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from ..errors import BadRequest, Conflict
from ..ids import is_valid_id, unknown
from ..inputs import echo
from ..models import ImageRecord
from ..similarity import MAX_DISTANCE
from ..wiring import Dependencies
from .images import ready_record

MAX_TAGS = 20
MAX_TAG_LENGTH = 64
MAX_METADATA_KEYS = 20
MAX_METADATA_BYTES = 2048
# Tags are case-folded: letters, digits and - _ . : (they are part of index keys).
_TAG = re.compile(rf"[a-z0-9][a-z0-9_.:-]{{0,{MAX_TAG_LENGTH - 1}}}")
_FIELDS = ("tags", "metadata", "focal_point")


def tag(value: Any, param: str = "tags") -> str:
    """A tag, case-folded, or a 400 naming ``param``."""
    folded = value.lower() if isinstance(value, str) else None
    if folded is None or not _TAG.fullmatch(folded):
        raise BadRequest(
            f"a tag is 1 to {MAX_TAG_LENGTH} letters, digits, '-', '_', '.' or ':' (starting "
            f"with a letter or digit), got {echo(str(value))}",
            param=param,
        )
    return folded


def changes(body: Any) -> dict[str, Any]:
    """The fields a PATCH body sets, checked and normalised: tags (a set, sorted), metadata and
    focal_point (None removes it)."""
    if not isinstance(body, dict):
        raise BadRequest(
            'JSON body must be an object: {"tags", "metadata", "focal_point"}', param="body"
        )
    if extra := sorted(set(body) - set(_FIELDS)):
        raise BadRequest(f"unknown field(s) {', '.join(map(echo, extra))}", param="body")
    checked: dict[str, Any] = {}
    if "tags" in body:
        checked["tags"] = _tags(body["tags"])
    if "metadata" in body:
        checked["metadata"] = _metadata(body["metadata"])
    if "focal_point" in body:
        checked["focal_point"] = _focal_point(body["focal_point"])
    return checked


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise BadRequest(f"tags must be a list of at most {MAX_TAGS} tags", param="tags")
    return tuple(sorted({tag(v) for v in value}))


def _metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_METADATA_KEYS:
        raise BadRequest(
            f"metadata must be an object of at most {MAX_METADATA_KEYS} keys", param="metadata"
        )
    for key, text in value.items():
        if not key or not isinstance(text, str):
            raise BadRequest(
                f"metadata maps non-empty keys to strings; {echo(key)} does not", param="metadata"
            )
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise BadRequest(
            f"metadata is at most {MAX_METADATA_BYTES} bytes as JSON, got {size}", param="metadata"
        )
    return dict(value)


def _focal_point(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"x", "y"}:
        x, y = value["x"], value["y"]
        if all(_unit(v) for v in (x, y)):
            return {"x": float(x), "y": float(y)}
    raise BadRequest(
        'focal_point must be null or {"x": 0..1, "y": 0..1} (a share of the width and height '
        "from the top left)",
        param="focal_point",
    )


def _unit(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 1
    )


def patch_image(deps: Dependencies, tenant: str, image_id: str, body: Any) -> ImageRecord:
    """Set the fields the body names on the tenant's ready image; answer its record. Tags
    replace the image's set."""
    wanted = changes(body)
    record = ready_record(deps, image_id, tenant)
    if not wanted:
        return record
    updated = deps.catalog.annotate(record.id, tenant, wanted)
    if updated is None:  # deleted meanwhile
        raise unknown(image_id)
    return updated


def tagged(
    deps: Dependencies, tenant: str, name: str, limit: int, cursor: str | None
) -> tuple[list[ImageRecord], str | None]:
    """A page of the tenant's images with the tag, newest first."""
    if cursor is not None and not is_valid_id(cursor):
        raise BadRequest("cursor is not one this API returned", param="cursor")
    return deps.catalog.list_tagged(tenant, tag(name, "tag"), limit, cursor)


def similar(
    deps: Dependencies, tenant: str, image_id: str, within: int, limit: int, cursor: str | None
) -> tuple[list[tuple[ImageRecord, int]], str | None]:
    """A page of the tenant's other images within ``within`` bits of the image's perceptual
    hash, with their distance, nearest first; and the cursor of the next page."""
    after = None
    if cursor is not None:
        near, _, after_id = cursor.partition(".")
        if not (near.isdigit() and int(near) <= MAX_DISTANCE and is_valid_id(after_id)):
            raise BadRequest("cursor is not one this API returned", param="cursor")
        after = (int(near), after_id)
    record = ready_record(deps, image_id, tenant)
    if record.phash is None:
        raise Conflict(
            f"image {image_id} has no perceptual hash (it was stored before hashes were kept)",
            param="similar_to",
        )
    page, following = deps.catalog.similar(tenant, record.id, record.phash, within, limit, after)
    return page, (None if following is None else f"{following[0]}.{following[1]}")


def duplicate(deps: Dependencies, tenant: str, data: bytes) -> ImageRecord | None:
    """The tenant's newest ready image stored from exactly these bytes, if there is one."""
    return deps.catalog.duplicate(tenant, hashlib.sha256(data).hexdigest())
