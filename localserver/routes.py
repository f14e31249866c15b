"""Route matching as API Gateway HTTP APIs do it.

A route is a method (or ``ANY``) and a path template whose segments are literals, ``{name}``
(exactly one non-empty segment) or a final greedy ``{name+}`` (one or more segments). When
several routes match a request, the most specific wins: comparing segment by segment, a
literal beats ``{name}``, which beats ``{name+}``; then a named method beats ``ANY``. The
``$default`` route catches whatever nothing else matches. No match at all is a 404, also when
only the method differs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from urllib.parse import unquote

from .template import TemplateError

DEFAULT_ROUTE = "$default"
_PARAMETER = re.compile(r"^\{([A-Za-z0-9_.\-]+)(\+?)\}$")


class SegmentKind(IntEnum):
    """Kinds of path segments, in order of precedence (lower wins)."""

    LITERAL = 0
    PARAMETER = 1
    GREEDY = 2


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    value: str  # the literal text, or the parameter name


@dataclass(frozen=True)
class Route:
    """One route of the API and the function (logical id) it invokes."""

    method: str
    path: str
    function: str
    segments: tuple[Segment, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, method: str, path: str, function: str) -> Route:
        method = method.upper()
        if path == DEFAULT_ROUTE:
            return cls(method="ANY", path=path, function=function)
        if not path.startswith("/"):
            raise TemplateError(f"{function}: route path must start with '/', got {path!r}")
        segments: list[Segment] = []
        parts = path[1:].split("/") if path != "/" else []
        for position, part in enumerate(parts):
            match = _PARAMETER.match(part)
            if match and match.group(2):
                if position != len(parts) - 1:
                    raise TemplateError(f"{function}: greedy {part} must be last in {path}")
                segments.append(Segment(SegmentKind.GREEDY, match.group(1)))
            elif match:
                segments.append(Segment(SegmentKind.PARAMETER, match.group(1)))
            elif "{" in part or "}" in part:
                raise TemplateError(
                    f"{function}: {path}: a path variable must be a whole segment, got {part!r}"
                )
            else:
                segments.append(Segment(SegmentKind.LITERAL, part))
        names = [s.value for s in segments if s.kind != SegmentKind.LITERAL]
        if len(names) != len(set(names)):
            raise TemplateError(f"{function}: {path} repeats a path variable")
        return cls(method=method, path=path, function=function, segments=tuple(segments))

    @property
    def route_key(self) -> str:
        """``"GET /images/{id}"`` as in the event's routeKey, or ``"$default"``."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        """Path parameters if this route matches (decoded path segments), else None."""
        if self.method not in ("ANY", method):
            return None
        if self.path == DEFAULT_ROUTE:
            return {}
        parameters: dict[str, str] = {}
        for position, segment in enumerate(self.segments):
            if segment.kind == SegmentKind.GREEDY:
                rest = parts[position:]
                if not rest or not "/".join(rest):
                    return None
                parameters[segment.value] = "/".join(rest)
                return parameters
            if position >= len(parts):
                return None
            if segment.kind == SegmentKind.LITERAL:
                if parts[position] != segment.value:
                    return None
            elif not parts[position]:
                return None
            else:
                parameters[segment.value] = parts[position]
        return parameters if len(parts) == len(self.segments) else None

    def precedence(self) -> tuple[int, tuple[int, ...], int]:
        """Sort key: lower is more specific."""
        return (
            self.path == DEFAULT_ROUTE,
            tuple(segment.kind for segment in self.segments),
            self.method == "ANY",
        )


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


class RouteTable:
    """All routes of the API; rejects duplicates."""

    def __init__(self, routes: list[Route]) -> None:
        seen: dict[tuple[str, tuple[tuple[int, str], ...]], Route] = {}
        for route in routes:
            # Parameter names do not matter for equality: /a/{x} and /a/{y} clash.
            shape = tuple(
                (s.kind, s.value if s.kind == SegmentKind.LITERAL else "") for s in route.segments
            )
            key = (route.route_key if route.path == DEFAULT_ROUTE else route.method, shape)
            if key in seen:
                raise TemplateError(
                    f"route {route.route_key} ({route.function}) clashes with "
                    f"{seen[key].route_key} ({seen[key].function})"
                )
            seen[key] = route
        self.routes = sorted(routes, key=Route.precedence)

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        """The most specific route for a request, given its raw (percent-encoded) path."""
        parts = [unquote(part) for part in raw_path.split("/")[1:]] if raw_path != "/" else []
        for route in self.routes:
            parameters = route.match(method.upper(), parts)
            if parameters is not None:
                return RouteMatch(route, parameters)
        return None
