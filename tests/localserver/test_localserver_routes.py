"""Route matching, without a server."""

from __future__ import annotations

import pytest

from localserver.routes import Route, RouteTable
from localserver.template import TemplateError


def table(*route_keys: str) -> RouteTable:
    routes = []
    for key in route_keys:
        method, _, path = key.partition(" ") if key != "$default" else ("ANY", "", key)
        routes.append(Route.parse(method, path, key))
    return RouteTable(routes)


API = table(
    "GET /images",
    "POST /images",
    "GET /images/{id}",
    "DELETE /images/{id}",
    "GET /images/{id}/info",
    "GET /images/{id}/{pipeline+}",
    "POST /transform",
)


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/images", "GET /images", {}),
        ("POST", "/images", "POST /images", {}),
        ("GET", "/images/01HX", "GET /images/{id}", {"id": "01HX"}),
        ("DELETE", "/images/01HX", "DELETE /images/{id}", {"id": "01HX"}),
        ("GET", "/images/01HX/info", "GET /images/{id}/info", {"id": "01HX"}),
        (
            "GET",
            "/images/01HX/resize:800:600/blur:2.webp",
            "GET /images/{id}/{pipeline+}",
            {"id": "01HX", "pipeline": "resize:800:600/blur:2.webp"},
        ),
        ("GET", "/images/a%2Fb", "GET /images/{id}", {"id": "a/b"}),
        ("GET", "/images/01HX/info/x", "GET /images/{id}/{pipeline+}", None),
    ],
)
def test_match(method: str, path: str, route_key: str, parameters: dict | None) -> None:
    match = API.match(method, path)
    assert match is not None
    assert match.route.route_key == route_key
    if parameters is not None:
        assert match.path_parameters == parameters


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/image"),
        ("GET", "/images/"),
        ("GET", "/images//info"),
        ("PUT", "/images/01HX"),
        ("GET", "/transform"),
        ("HEAD", "/images"),
    ],
)
def test_no_match(method: str, path: str) -> None:
    assert API.match(method, path) is None


def test_literals_beat_parameters_beat_greedy_segment_by_segment() -> None:
    routes = table("GET /{a+}", "GET /x/{b}/{c+}", "GET /x/{b}/z", "GET /x/y/{c}", "ANY /x/y/z")
    # Path specificity comes first: a full literal match with ANY beats GET with a variable.
    assert routes.match("GET", "/x/y/z").route.route_key == "ANY /x/y/z"
    assert routes.match("GET", "/x/y/w").route.route_key == "GET /x/y/{c}"
    assert routes.match("POST", "/x/y/w") is None
    assert routes.match("GET", "/x/q/z").route.route_key == "GET /x/{b}/z"
    assert routes.match("GET", "/x/q/r/s").route.route_key == "GET /x/{b}/{c+}"
    assert routes.match("GET", "/other").route.route_key == "GET /{a+}"


def test_named_method_beats_any_and_default_catches_the_rest() -> None:
    routes = table("ANY /a", "GET /a", "$default")
    assert routes.match("GET", "/a").route.route_key == "GET /a"
    assert routes.match("PUT", "/a").route.route_key == "ANY /a"
    fallback = routes.match("DELETE", "/anything/else")
    assert fallback.route.route_key == "$default"
    assert fallback.path_parameters == {}


@pytest.mark.parametrize(
    "path", ["/images/{pipeline+}/info", "/images/{id}.{ext}", "images", "/a/{x}/{x}"]
)
def test_invalid_paths_are_rejected(path: str) -> None:
    with pytest.raises(TemplateError):
        Route.parse("GET", path, "SomeFunction")


def test_clashing_routes_are_rejected() -> None:
    with pytest.raises(TemplateError, match="clashes"):
        table("GET /images/{id}", "GET /images/{image_id}")
