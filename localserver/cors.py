"""CORS as an HTTP API answers it, from the API's ``CorsConfiguration`` in the template.

API Gateway answers a browser's preflight ``OPTIONS`` itself (no route, no authorizer) and adds
the ``Access-Control-*`` headers to every answer for an allowed ``Origin``; an origin that is
not allowed gets none of them. The configuration is read from the template, resolved with the
server's parameters (so ``--parameter CorsAllowedOrigins=...`` turns it on for ProgImage's),
and the local server serves every HttpApi on one port: their configurations must agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .intrinsics import NO_VALUE, Resolver, to_string
from .template import Template, TemplateError

WILDCARD = "*"


@dataclass(frozen=True)
class CorsRules:
    """An HttpApi's ``CorsConfiguration``, resolved."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None

    @classmethod
    def parse(cls, config: Any, where: str) -> CorsRules | None:
        """SAM's forms: absent (or ``AWS::NoValue``, false): no CORS; true: every origin;
        a mapping of ``AllowOrigins``, ``AllowMethods``, ``AllowHeaders``, ``ExposeHeaders``,
        ``MaxAge``."""
        if config is None or config is NO_VALUE or config is False:
            return None
        if config is True:
            return cls(allow_origins=(WILDCARD,))
        if not isinstance(config, dict):
            raise TemplateError(f"{where}: CorsConfiguration must be true or a mapping")
        if config.get("AllowCredentials") in (True, "true"):
            raise TemplateError(f"{where}: CorsConfiguration.AllowCredentials is not emulated")

        def strings(key: str) -> tuple[str, ...]:
            value = config.get(key) or []
            if not isinstance(value, list):
                raise TemplateError(f"{where}: CorsConfiguration.{key} must be a list")
            return tuple(to_string(item) for item in value if to_string(item))

        max_age = config.get("MaxAge")
        rules = cls(
            allow_origins=strings("AllowOrigins"),
            allow_methods=strings("AllowMethods"),
            allow_headers=strings("AllowHeaders"),
            expose_headers=strings("ExposeHeaders"),
            max_age=None if max_age is None else int(to_string(max_age)),
        )
        return rules if rules.allow_origins else None

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and (WILDCARD in self.allow_origins or origin in self.allow_origins)

    def _allow_origin(self, origin: str) -> list[tuple[str, str]]:
        if WILDCARD in self.allow_origins:
            return [("Access-Control-Allow-Origin", WILDCARD)]
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]

    def preflight_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """The headers of the answer (204) to a preflight ``OPTIONS`` from ``origin``."""
        if origin is None or not self.allows(origin):
            return []
        headers = self._allow_origin(origin)
        if self.allow_methods:
            headers.append(("Access-Control-Allow-Methods", ",".join(self.allow_methods)))
        if self.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(self.allow_headers)))
        if self.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(self.max_age)))
        return headers

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """The headers added to any other answer to a request from ``origin``."""
        if origin is None or not self.allows(origin):
            return []
        headers = self._allow_origin(origin)
        if self.expose_headers:
            headers.append(("Access-Control-Expose-Headers", ",".join(self.expose_headers)))
        return headers

    def describe(self) -> str:
        return ", ".join(self.allow_origins)


def api_cors(template: Template, resolver: Resolver, apis: Iterable[str]) -> CorsRules | None:
    """The CORS rules of the HttpApis ``apis`` (logical ids), which must agree."""
    found: dict[str, CorsRules | None] = {
        api: CorsRules.parse(
            resolver.resolve(template.http_api_properties(api).get("CorsConfiguration")), api
        )
        for api in sorted(set(apis))
    }
    if len(set(found.values())) > 1:
        raise TemplateError(
            f"the local server serves {', '.join(found)} on one port: their CorsConfiguration "
            "must agree"
        )
    return next(iter(found.values()), None)
