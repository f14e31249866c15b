"""Typed records of what the API answers: images, pages, batch results, jobs, uploads, presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from .errors import APIError, error_dict, error_from_body

__all__ = [
    "BatchResult",
    "ImagePage",
    "ImageRecord",
    "Job",
    "JobStatus",
    "Preset",
    "PresignedUpload",
    "UploadResult",
]

ImageStatus = Literal["pending", "ready", "rejected"]
JobStatus = Literal["queued", "running", "done"]


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time (``2024-05-01T12:00:00.000Z``) as an aware datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ImageRecord:
    """A stored image's metadata, as ``GET /images/{id}/info`` answers it.

    ``width`` and ``height`` are after EXIF orientation; ``bytes`` is the original's size;
    ``reason`` says why an upload was ``rejected``. ``phash`` is the perceptual hash (16 hex
    digits); ``tags``, ``metadata`` and ``focal_point`` (x, y as shares of the width and
    height) are what the owner set (``patch``); ``distance`` is set in ``similar`` results
    only; ``eager_job`` on the record ``upload`` returns only (not through a presigned upload),
    when the server queued a job rendering the image's eager presets. ``raw`` is the JSON as
    received.
    """

    id: str
    status: ImageStatus
    format: str | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    sha256: str | None = None
    frames: int | None = None
    created_at: datetime | None = None
    reason: str | None = None
    phash: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    focal_point: tuple[float, float] | None = None
    distance: int | None = None
    eager_job: str | None = field(default=None, compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageRecord:
        return cls(
            id=str(data["id"]),
            status=data.get("status", "ready"),
            format=_str(data.get("format")),
            content_type=_str(data.get("content_type")),
            width=_int(data.get("width")),
            height=_int(data.get("height")),
            bytes=_int(data.get("bytes")),
            sha256=_str(data.get("sha256")),
            frames=_int(data.get("frames")),
            created_at=parse_time(data.get("created_at")),
            reason=_str(data.get("reason")),
            phash=_str(data.get("phash")),
            tags=tuple(str(t) for t in data.get("tags") or ()),
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
            focal_point=_point(data.get("focal_point")),
            distance=_int(data.get("distance")),
            raw=dict(data),
        )

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def to_dict(self) -> dict[str, Any]:
        """The record as the API's JSON."""
        return dict(self.raw)


def _point(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, Mapping):
        return None
    return float(value["x"]), float(value["y"])


@dataclass(frozen=True)
class ImagePage:
    """One page of ``GET /images``: newest first, and the cursor of the next page (or None)."""

    images: list[ImageRecord]
    next_cursor: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImagePage:
        return cls(
            [ImageRecord.from_json(item) for item in data.get("images") or []],
            _str(data.get("next_cursor")) or None,
        )


@dataclass(frozen=True)
class BatchResult:
    """The result of one batch or job item, in the order the items were given.

    Exactly one of ``url`` (a variant or a short-lived result link, made absolute),
    ``image`` (the stored result, with ``store=True``) and ``error`` is set.
    """

    index: int
    status: int
    url: str | None = None
    image: ImageRecord | None = None
    error: APIError | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base_url: str = "") -> BatchResult:
        status = _int(data.get("status")) or 0
        url = _str(data.get("url"))
        if url is not None and url.startswith("/"):
            url = base_url.rstrip("/") + url
        image = data.get("image")
        error = None
        if "error" in data or status >= 400:
            error = error_from_body(status, {"error": data.get("error")})
        return cls(
            index=_int(data.get("index")) or 0,
            status=status,
            url=url,
            image=ImageRecord.from_json(image) if isinstance(image, Mapping) else None,
            error=error,
            raw=dict(data),
        )

    @property
    def ok(self) -> bool:
        return self.error is None

    def raise_for_error(self) -> BatchResult:
        """Raise the item's error (a :class:`~progimage.errors.APIError`), or return self."""
        if self.error is not None:
            raise self.error
        return self

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.raw)
        if self.url is not None:
            data["url"] = self.url
        return data


@dataclass(frozen=True)
class Job:
    """An asynchronous job's state; ``results`` holds one page of results (see
    ``job_results`` on the client for all of them)."""

    job_id: str
    status: JobStatus
    total: int
    succeeded: int = 0
    failed: int = 0
    created_at: datetime | None = None
    results: list[BatchResult] = field(default_factory=list)
    next_cursor: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base_url: str = "") -> Job:
        return cls(
            job_id=str(data["job_id"]),
            status=data.get("status", "queued"),
            total=_int(data.get("total")) or 0,
            succeeded=_int(data.get("succeeded")) or 0,
            failed=_int(data.get("failed")) or 0,
            created_at=parse_time(data.get("created_at")),
            results=[BatchResult.from_json(r, base_url) for r in data.get("results") or []],
            next_cursor=_str(data.get("next_cursor")) or None,
            raw=dict(data),
        )

    @property
    def done(self) -> bool:
        return self.status == "done"

    @property
    def completed(self) -> int:
        """Items finished so far, successfully or not."""
        return self.succeeded + self.failed

    @property
    def progress(self) -> float:
        """The finished fraction, 0.0 to 1.0."""
        return self.completed / self.total if self.total else 1.0

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.raw)
        data["results"] = [r.to_dict() for r in self.results]
        return data


@dataclass(frozen=True)
class Preset:
    """A saved preset, as ``/presets`` answers it; a pipeline names it as
    ``Pipeline().preset(name)`` (``preset:NAME``).

    ``ops`` is the pipeline in canonical form; ``format`` a canonical extension, ``"auto"``, or
    None (the source's format); ``eager`` presets are rendered at upload; ``version`` grows by
    one on every save.
    """

    name: str
    ops: str
    format: str | None = None
    eager: bool = False
    version: int = 0
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Preset:
        return cls(
            name=str(data["name"]),
            ops=str(data["ops"]),
            format=_str(data.get("format")),
            eager=data.get("eager") is True,
            version=_int(data.get("version")) or 0,
            updated_at=parse_time(data.get("updated_at")),
            raw=dict(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """The preset as the API's JSON."""
        return dict(self.raw)


@dataclass(frozen=True)
class PresignedUpload:
    """One presigned direct-to-storage upload, from ``POST /uploads``."""

    id: str
    url: str
    fields: Mapping[str, str]
    expires_at: datetime | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PresignedUpload:
        return cls(
            id=str(data["id"]),
            url=str(data["url"]),
            fields={str(k): str(v) for k, v in (data.get("fields") or {}).items()},
            expires_at=parse_time(data.get("expires_at")),
        )


@dataclass(frozen=True)
class UploadResult:
    """The outcome of one file of :meth:`~progimage.ProgImage.upload_many`."""

    index: int
    source: str
    image: ImageRecord | None = None
    error: Exception | None = None
    """An API error, or a local one (``FileNotFoundError``, ``TypeError``...)."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def eager_job(self) -> str | None:
        """The job rendering this image's eager presets, if one was queued."""
        return None if self.image is None else self.image.eager_job

    def raise_for_error(self) -> ImageRecord:
        if self.error is not None:
            raise self.error
        assert self.image is not None
        return self.image

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "source": self.source}
        if self.image is not None:
            data["image"] = self.image.to_dict()
        if self.eager_job is not None:
            data["eager_job"] = self.eager_job
        if self.error is not None:
            data["error"] = error_dict(self.error)
        return data
