"""Read, describe and delete: GET /images/{id}[.ext], GET /images/{id}/info, GET /images (by tag,
or near-duplicates of an image), PATCH /images/{id}, DELETE."""

from __future__ import annotations

from progimage_service.api import (
    Request,
    Response,
    asked,
    credentials,
    delivery_response,
    json_response,
    no_content,
    parse_int,
    router,
    signed,
)
from progimage_service.errors import BadRequest
from progimage_service.imaging.pipeline import formatted
from progimage_service.services import catalogue, images
from progimage_service.services.variants import variant
from progimage_service.similarity import MAX_DISTANCE
from progimage_service.wiring import dependencies


def get_image(request: Request, tenant: str | None) -> Response:
    """The original, or with an extension the image converted to that format. Open to anyone
    with the URL (and its signature, where signatures are required)."""
    deps = dependencies()
    image_id, dot, extension = request.path_param("id").partition(".")
    if not dot:
        return delivery_response(images.original(deps, image_id, tenant, asked(request)))
    accept, preference = request.header("accept"), deps.settings.auto_formats
    pipeline = formatted((), extension, accept, preference)
    delivery = variant(deps, image_id, pipeline, tenant, asked(request))
    return delivery_response(delivery, pipeline.negotiated)


def get_info(request: Request, tenant: str) -> Response:
    record = images.get_record(dependencies(), request.path_param("id"), tenant)
    return json_response(200, record.to_json())


def list_images(request: Request, tenant: str) -> Response:
    """The tenant's images newest first; ``?tag=T``: those with the tag; ``?similar_to=ID``:
    those within ``distance`` bits of that image's perceptual hash, nearest first."""
    deps = dependencies()
    limit = parse_int(request, "limit", 50, 1, deps.settings.list_max_limit)
    cursor, tag, similar_to = (request.query(n) for n in ("cursor", "tag", "similar_to"))
    if similar_to is None:
        if request.query("distance") is not None:
            raise BadRequest("distance is given with similar_to", param="distance")
        if tag is None:
            records, cursor = images.list_images(deps, tenant, limit, cursor)
        else:
            records, cursor = catalogue.tagged(deps, tenant, tag, limit, cursor)
        return json_response(200, {"images": [r.to_json() for r in records], "next_cursor": cursor})
    if tag is not None:
        raise BadRequest("similar_to and tag are separate listings: drop one", param="tag")
    within = parse_int(request, "distance", 4, 0, MAX_DISTANCE)
    found, cursor = catalogue.similar(deps, tenant, similar_to, within, limit, cursor)
    listed = [r.to_json() | {"distance": d} for r, d in found]
    return json_response(200, {"images": listed, "next_cursor": cursor})


def patch_image(request: Request, tenant: str) -> Response:
    """Set an image's tags (replacing them), metadata or focal point; answer its record."""
    body = request.json(16 * 1024)
    record = catalogue.patch_image(dependencies(), tenant, request.path_param("id"), body)
    return json_response(200, record.to_json())


def delete_image(request: Request, tenant: str) -> Response:
    images.delete_image(dependencies(), tenant, request.path_param("id"))
    return no_content()


ROUTES = {
    "GET /images": credentials(list_images),
    "GET /images/{id}": signed(get_image),
    "GET /images/{id}/info": credentials(get_info),
    "PATCH /images/{id}": credentials(patch_image),
    "DELETE /images/{id}": credentials(delete_image),
}
handler = router(ROUTES, "get")
