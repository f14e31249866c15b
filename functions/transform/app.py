"""Transformations: GET /images/{id}/{pipeline} (cached variants), POST /transform, /batch
and /jobs, and the presets pipelines name (``/presets/{name}``)."""

from __future__ import annotations

from progimage_service.api import (
    Request,
    Response,
    asked,
    credentials,
    delivery_response,
    idempotent,
    json_response,
    no_content,
    parse_int,
    router,
    signed,
)
from progimage_service.errors import BadRequest, TooLarge, UnsupportedMedia
from progimage_service.imaging.pipeline import Pipeline, parse_path
from progimage_service.services import jobs, presets
from progimage_service.services.batch import run_batch
from progimage_service.services.transform import (
    Result,
    pipeline_of,
    source_bytes,
    store_flag,
    transform,
)
from progimage_service.services.variants import variant
from progimage_service.wiring import Dependencies, dependencies


def requested(request: Request) -> Pipeline:
    """The pipeline a variant URL asks for: the handler's reading, and the router's when it
    checks for presets alone (strict presets), so both see the same steps."""
    accept, preference = request.header("accept"), dependencies().settings.auto_formats
    return parse_path(request.path_param("pipeline"), accept, preference)


def get_variant(request: Request, tenant: str | None) -> Response:
    deps = dependencies()
    accept, preference = request.header("accept"), deps.settings.auto_formats
    pipeline = requested(request)
    image_id = request.path_param("id")
    delivery = variant(deps, image_id, pipeline, tenant, asked(request), accept, preference)
    lasting = not pipeline.presets and not pipeline.uses_focal  # (both are the owner's to edit)
    return delivery_response(delivery, pipeline.negotiated, lasting)


def post_transform(request: Request, tenant: str) -> Response:
    """JSON ``{"source", "ops", "format", "store"}``, or raw image bytes with ``?ops=&format=``."""
    deps = dependencies()
    max_bytes = deps.settings.limits.max_bytes
    accept, preference = request.header("accept"), deps.settings.auto_formats
    if request.content_type == "application/json":
        body = request.json(max_bytes)
        if not isinstance(body, dict) or "source" not in body:
            raise BadRequest('JSON body must have a "source"', param="source")
        pipeline = pipeline_of(body.get("ops"), body.get("format"), accept, preference)
        store = store_flag(body.get("store", False))
        # last: the request is checked before fetching
        data = source_bytes(deps, tenant, body["source"])
    elif request.has_image_body:
        pipeline = pipeline_of(request.query("ops"), request.query("format"), accept, preference)
        flag = request.query("store")  # absent: false; anything but the four spellings: 400
        store = False if flag is None else store_flag(_QUERY_FLAGS.get(flag))
        data = request.body(max_bytes)
    else:
        raise UnsupportedMedia(
            f"unsupported Content-Type {request.content_type!r}: send JSON or image bytes",
            param="content-type",
        )
    pipeline = presets.expand(deps, pipeline, tenant, accept, preference)
    result = transform(deps, tenant, data, pipeline, store=store)
    return _answer(result, deps.settings.inline_max_bytes, pipeline.negotiated)


_QUERY_FLAGS = {"true": True, "1": True, "false": False, "0": False}


def _answer(result: Result, inline_max_bytes: int, negotiated: bool) -> Response:
    if result.record is not None:
        record = result.record
        return json_response(201, record.to_json(), {"Location": f"/images/{record.id}"})
    assert result.rendered is not None
    if len(result.rendered.data) > inline_max_bytes:
        raise TooLarge(
            f"the result is {len(result.rendered.data)} bytes, more than can be answered inline "
            f'({inline_max_bytes}); send "store": true and fetch it from its image URL',
            param="store",
        )
    headers = {"Content-Type": result.rendered.format.content_type, "Cache-Control": "no-store"}
    return Response(200, result.rendered.data, headers | ({"Vary": "Accept"} if negotiated else {}))


def post_batch(request: Request, tenant: str) -> Response:
    """``{"items": [...]}``: up to 100 items, one result each, in order."""
    deps = dependencies()
    results = run_batch(deps, tenant, _items(request, deps), request.header("accept"))
    return json_response(200, {"results": results})


def post_jobs(request: Request, tenant: str) -> Response:
    """``{"items": [...]}``: up to 10,000 items, queued for the workers."""
    deps = dependencies()
    job = jobs.submit(deps, tenant, _items(request, deps))
    return json_response(202, job, {"Location": f"/jobs/{job['job_id']}"})


def get_job(request: Request, tenant: str) -> Response:
    limit = parse_int(request, "limit", 100, 1, 1000)
    job = jobs.status(
        dependencies(), tenant, request.path_param("job_id"), limit, request.query("cursor")
    )
    return json_response(200, job)


def put_preset(request: Request, tenant: str) -> Response:
    """``{"ops", "format"?, "eager"?}``: create or replace the tenant's preset."""
    deps = dependencies()
    body = request.json(_PRESET_BYTES)
    saved = presets.save(deps, tenant, request.path_param("name"), body)
    return json_response(200, saved.to_json())


def get_preset(request: Request, tenant: str) -> Response:
    return json_response(
        200, presets.show(dependencies(), tenant, request.path_param("name")).to_json()
    )


def delete_preset(request: Request, tenant: str) -> Response:
    presets.remove(dependencies(), tenant, request.path_param("name"))
    return no_content()


def list_presets(request: Request, tenant: str) -> Response:
    listed = presets.listed(dependencies(), tenant)
    return json_response(200, {"presets": [p.to_json() for p in listed]})


_PRESET_BYTES = 16 * 1024  # a preset's JSON: 20 operations in the longest spelling fit


def _items(request: Request, deps: Dependencies) -> object:
    body = request.json(deps.settings.limits.max_bytes)
    if not isinstance(body, dict) or "items" not in body:
        raise BadRequest('JSON body must be {"items": [...]}', param="items")
    return body["items"]


ROUTES = {
    "GET /images/{id}/{pipeline+}": signed(get_variant, requested),
    "POST /transform": credentials(idempotent(post_transform)),
    "POST /batch": credentials(idempotent(post_batch)),
    "POST /jobs": credentials(idempotent(post_jobs)),
    "GET /jobs/{job_id}": credentials(get_job),
    "GET /presets": credentials(list_presets),
    "GET /presets/{name}": credentials(get_preset),
    "PUT /presets/{name}": credentials(put_preset),
    "DELETE /presets/{name}": credentials(delete_preset),
}
handler = router(ROUTES, "transform")
