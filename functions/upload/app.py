"""Ingest: POST /images (raw bytes, JSON base64 or URL, multipart with several files)."""

from __future__ import annotations

from progimage_service.adapters.presets import StoredPreset
from progimage_service.api import (
    Request,
    Response,
    credentials,
    idempotent,
    json_response,
    multipart_files,
    router,
)
from progimage_service.errors import BadRequest, ProgImageError, UnsupportedMedia
from progimage_service.imaging.limits import shared_budget
from progimage_service.models import ImageRecord
from progimage_service.services import eager
from progimage_service.services.catalogue import duplicate
from progimage_service.services.images import store_image
from progimage_service.services.transform import source_bytes
from progimage_service.services.uploads import create_uploads
from progimage_service.wiring import Dependencies, dependencies


def post_images(request: Request, tenant: str) -> Response:
    """Store an image (201); ``?dedupe=true``: answer the tenant's ready image with the same
    bytes instead (200), if there is one. The presets marked eager, and those ``?eager=a,b``
    names, are then rendered through the jobs queue (``X-Eager-Job`` names the job)."""
    deps = dependencies()
    max_bytes = deps.settings.limits.max_bytes
    content_type = request.content_type
    dedupe = _dedupe(request)
    ahead = eager.chosen(deps, tenant, request.query("eager"))
    if content_type == "multipart/form-data":
        return _many(tenant, multipart_files(request, max_bytes), dedupe, ahead)
    if content_type == "application/json":
        data = _json_image(deps, tenant, request.json(max_bytes))
    elif request.has_image_body:
        data = request.body(max_bytes)
    else:
        raise UnsupportedMedia(
            f"unsupported Content-Type {content_type!r}: send image bytes (image/* or "
            "application/octet-stream), multipart/form-data or JSON",
            param="content-type",
        )
    record, status = _stored(deps, tenant, data, dedupe)
    return _created(record, status, eager.render_ahead(deps, tenant, [record.id], ahead))


def _dedupe(request: Request) -> bool:
    raw = request.query("dedupe")
    if raw not in (None, "true", "false"):
        raise BadRequest("dedupe must be true or false", param="dedupe")
    return raw == "true"


def _stored(deps: Dependencies, tenant: str, data: bytes, dedupe: bool) -> tuple[ImageRecord, int]:
    """The image stored (201), or with ``dedupe`` the tenant's copy of these bytes (200)."""
    found = duplicate(deps, tenant, data) if dedupe else None
    return (found, 200) if found is not None else (store_image(deps, tenant, data), 201)


def _created(record: ImageRecord, status: int, job: str | None) -> Response:
    return json_response(status, record.to_json(), _headers(f"/images/{record.id}", job))


def _headers(location: str | None, job: str | None) -> dict[str, str]:
    return ({"Location": location} if location else {}) | ({EAGER_JOB: job} if job else {})


EAGER_JOB = "X-Eager-Job"  # the job rendering an upload's eager variants


def _many(tenant: str, files: list[bytes], dedupe: bool, ahead: list[StoredPreset]) -> Response:
    """One file answers like a single upload; several answer 207 with one result per part."""
    deps = dependencies()
    if len(files) == 1:
        record, status = _stored(deps, tenant, files[0], dedupe)
        return _created(record, status, eager.render_ahead(deps, tenant, [record.id], ahead))
    results = []
    with shared_budget(deps.settings.limits.max_seconds):  # the parts share the request's
        for index, data in enumerate(files):
            try:
                record, status = _stored(deps, tenant, data, dedupe)
                results.append({"index": index, "status": status, "image": record.to_json()})
            except ProgImageError as error:
                if error.status >= 500:
                    raise
                results.append({"index": index, "status": error.status, "error": error.body()})
    stored = [result["image"]["id"] for result in results if "image" in result]
    job = eager.render_ahead(deps, tenant, stored, ahead)
    return json_response(207, {"results": results}, _headers(None, job))


def _json_image(deps: Dependencies, tenant: str, payload: object) -> bytes:
    """``{"data": "<base64>"}``, or ``{"url": "https://..."}`` fetched with the SSRF guard."""
    if not isinstance(payload, dict) or set(payload) not in ({"data"}, {"url"}):
        raise BadRequest(
            'JSON body must be {"data": "<base64>"} or {"url": "https://..."}', param="body"
        )
    return source_bytes(deps, tenant, payload)


def post_uploads(request: Request, tenant: str) -> Response:
    """Presigned POSTs for direct uploads to S3: ``{"count": 1..100, "content_type"}``."""
    deps = dependencies()
    body = request.json(64 * 1024)
    if not isinstance(body, dict):
        raise BadRequest('JSON body must be {"count", "content_type"}', param="body")
    uploads = create_uploads(deps, tenant, body.get("count", 1), body.get("content_type"))
    return json_response(201, {"uploads": uploads})


ROUTES = {
    "POST /images": credentials(idempotent(post_images)),
    "POST /uploads": credentials(idempotent(post_uploads)),
}
handler = router(ROUTES, "upload")
