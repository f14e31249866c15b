"""The records the service keeps, independent of how they are stored."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .auth import DEFAULT_TENANT

Status = Literal["pending", "ready", "rejected", "deleting"]


def rfc3339(moment: datetime, timespec: str = "milliseconds") -> str:
    """A UTC time as the API writes it: ``2026-11-27T12:00:00.000Z``."""
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


# The record's fields the API never shows (see ImageRecord).
INTERNAL_FIELDS = ("work_format", "work_smallest", "tenant")


@dataclass(frozen=True)
class ImageRecord:
    """An image's metadata, as `GET /images/{id}/info` shows it."""

    id: str
    status: Status
    format: str | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    sha256: str | None = None
    frames: int | None = None
    created_at: str = ""
    reason: str | None = None
    # The looks of a ready image, read at upload (imaging/looks.py): its perceptual hash,
    # placeholders and colours (palette: {"colour", "share"}, largest first); and what its owner
    # says of it (PATCH /images/{id}): tags (a set, kept sorted), metadata and the focal point
    # {x, y} (set at upload to where attention centres; null: none, gravity auto is smart).
    phash: str | None = None
    blurhash: str | None = None
    thumbhash: str | None = None
    average_colour: str | None = None
    palette: tuple[dict[str, Any], ...] = ()
    tags: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    focal_point: dict[str, float] | None = None
    # Internal (never shown): the format of the reduced working copies, if any were made, the
    # longest side of the smallest (None: only the 2048 px one, as images stored before the
    # 1024 px copy have), and the tenant that owns the image (records from before tenants
    # belong to the default one).
    work_format: str | None = None
    work_smallest: int | None = None
    tenant: str = DEFAULT_TENANT

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape (internal states never leak: 'deleting' is never served)."""
        body = asdict(self)
        for name in INTERNAL_FIELDS:
            del body[name]
        if body["reason"] is None:
            del body["reason"]
        body["tags"] = list(self.tags)
        body["palette"] = list(self.palette)
        return body

    @property
    def focal(self) -> tuple[float, float] | None:
        """The focal point as (x, y) fractions, for the imaging core."""
        point = self.focal_point
        return None if point is None else (float(point["x"]), float(point["y"]))
