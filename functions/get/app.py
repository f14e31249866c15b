"""Read and delete: GET /images/{id}[.ext], GET /images/{id}/info, GET /images, DELETE."""

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
from progimage_service.imaging.pipeline import formatted
from progimage_service.services import images
from progimage_service.services.variants import variant
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
