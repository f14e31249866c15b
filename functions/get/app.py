"""Read and delete: GET /images/{id}[.ext], GET /images/{id}/info, GET /images, DELETE."""

from __future__ import annotations

from progimage_service.api import (
    Request,
    Response,
    credentials,
    delivery_response,
    json_response,
    no_content,
    parse_int,
    router,
    signed,
)
from progimage_service.imaging.formats import for_extension
from progimage_service.imaging.pipeline import Pipeline
from progimage_service.services import images
from progimage_service.services.variants import variant
from progimage_service.wiring import dependencies


def get_image(request: Request, tenant: str | None) -> Response:
    """The original, or with an extension the image converted to that format. Open to anyone
    with the URL (and its signature, where signatures are required)."""
    image_id, dot, extension = request.path_param("id").partition(".")
    if_none_match = request.header("if-none-match")
    if not dot:
        return delivery_response(images.original(dependencies(), image_id, tenant, if_none_match))
    pipeline = Pipeline(format=for_extension(extension))
    return delivery_response(variant(dependencies(), image_id, pipeline, tenant, if_none_match))


def get_info(request: Request, tenant: str) -> Response:
    record = images.get_record(dependencies(), request.path_param("id"), tenant)
    return json_response(200, record.to_json())


def list_images(request: Request, tenant: str) -> Response:
    deps = dependencies()
    limit = parse_int(request, "limit", 50, 1, deps.settings.list_max_limit)
    records, cursor = images.list_images(deps, tenant, limit, request.query("cursor"))
    return json_response(200, {"images": [r.to_json() for r in records], "next_cursor": cursor})


def delete_image(request: Request, tenant: str) -> Response:
    images.delete_image(dependencies(), tenant, request.path_param("id"))
    return no_content()


ROUTES = {
    "GET /images": credentials(list_images),
    "GET /images/{id}": signed(get_image),
    "GET /images/{id}/info": credentials(get_info),
    "DELETE /images/{id}": credentials(delete_image),
}
handler = router(ROUTES, "get")
