"""Route authorization as an API Gateway HTTP API does it, read from the template like routes are.

Each route's authorization comes from SAM's properties: the HttpApi event's ``Auth.Authorizer``,
else its API's ``Auth.DefaultAuthorizer`` (``Globals.HttpApi`` merged in); ``NONE``, or neither,
is an open route. Intrinsics (``!If`` on a parameter, as ``AWS::LanguageExtensions`` would resolve
them) are resolved with the server's parameters.

Every API key belongs to one tenant (:func:`parse_api_keys`: ``TENANT:KEY``, or a bare ``KEY`` of
tenant ``default``). The server enforces the routes' authorization only when it is given keys
(:class:`RouteGuard`):

- A Lambda authorizer (``Authorizers.<name>.FunctionArn: !GetAtt <Function>.Arn``, payload
  format 2.0) is the template's own function, called with the HTTP API authorizer event. A
  missing identity source is ``401 {"message":"Unauthorized"}`` without calling it; a refusal is
  ``403 {"message":"Forbidden"}``; an exception or an answer API Gateway could not use is a
  ``500``. Simple responses (``isAuthorized``) and IAM policy responses are understood; the
  ``context`` reaches the route's event as ``requestContext.authorizer.lambda``. The keys reach
  the function as ``TENANT:SHA256HEX`` entries in ``PROGIMAGE_API_KEY_HASHES`` (so it needs no
  secret store). Answers are not cached (``ReauthorizeEvery`` is ignored): each request calls
  the authorizer.
- ``AWS_IAM`` routes take SigV4-signed requests (:mod:`localserver.sigv4`): each key is the
  secret access key of one access key (id :func:`access_key_id`) of the IAM user named after
  its tenant; an unsigned, unknown, stale or tampered request is a 403, as API Gateway answers.
  The caller is then that user (``requestContext.authorizer.iam``), and
  ``PROGIMAGE_IAM_TENANTS`` maps each tenant's user ARN to the tenant.
- JWT authorizers are not emulated: those routes are open (the server says so).

Without keys every route is open, and ``PROGIMAGE_OPEN_TENANT`` tells the functions that their
callers act as tenant ``default`` (:func:`tenant_environment`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qsl

from .events import (
    API_ID,
    STAGE,
    HttpResponse,
    build_event,
    message_response,
    raw_path_and_query,
    request_headers,
)
from .functions import LocalFunction
from .intrinsics import ACCOUNT_ID, REGION, Resolver
from .routes import RouteMatch
from .sigv4 import AccessKey, SignatureRefused, verify
from .template import Template, TemplateError

log = logging.getLogger(__name__)

KEY_HASHES_VARIABLE = "PROGIMAGE_API_KEY_HASHES"
"""Where the template's authorizer finds the accepted keys: comma-separated ``TENANT:SHA256HEX``."""
IAM_TENANTS_VARIABLE = "PROGIMAGE_IAM_TENANTS"
"""Which IAM principal is which tenant: comma-separated ``ARN=TENANT``."""
OPEN_TENANT_VARIABLE = "PROGIMAGE_OPEN_TENANT"
"""The tenant that callers without credentials act as, when the server runs without keys."""

DEFAULT_TENANT = "default"
_TENANT = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")

OPEN = "NONE"
IAM = "AWS_IAM"
CUSTOM = "CUSTOM"
JWT = "JWT"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyError(ValueError):
    """API keys the server cannot use. The message never quotes a key."""


def parse_api_keys(specs: Iterable[str]) -> dict[str, str]:
    """``TENANT:KEY`` specs (a bare ``KEY`` belongs to tenant ``default``) as ``{key: tenant}``.

    A tenant is 1 to 32 lower-case letters, digits and ``-``, not starting with ``-``; a key
    that contains ``:`` must be given with its tenant. Blank specs are skipped and repeating a
    spec changes nothing, but one key given for two tenants is refused (:class:`ApiKeyError`).
    """
    keys: dict[str, str] = {}
    for spec in specs:
        if not spec.strip():
            continue
        tenant, separator, key = (part.strip() for part in spec.partition(":"))
        if not separator:
            tenant, key = DEFAULT_TENANT, tenant
        if not _TENANT.fullmatch(tenant):
            raise ApiKeyError(
                f"{tenant!r} is not a tenant name: a tenant is 1 to 32 lower-case letters, "
                "digits or '-', not starting with '-' (give a key that contains ':' as TENANT:KEY)"
            )
        if not key:
            raise ApiKeyError(f"tenant {tenant!r} is given an empty API key")
        if keys.get(key, tenant) != tenant:
            raise ApiKeyError(
                f"one API key is given for tenant {keys[key]!r} and for tenant {tenant!r}: "
                "a key belongs to one tenant"
            )
        keys[key] = tenant
    return keys


def iam_user_arn(tenant: str) -> str:
    """The IAM user an ``AWS_IAM`` route's caller is locally: the one named after its tenant."""
    return f"arn:aws:iam::{ACCOUNT_ID}:user/{tenant}"


def _iam_id(prefix: str, seed: str, length: int) -> str:
    """A made-up, stable IAM identifier shaped like AWS's (``AIDA...``, ``AKIA...``)."""
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode()
    return prefix + digest[: length - len(prefix)]


def access_key_id(key: str) -> str:
    """The access key id of the access key an API key stands for, in ``AWS_IAM`` routes'
    signatures (the key is its secret): ``AKIA`` and 16 characters, stable across restarts."""
    return _iam_id("AKIA", key_digest(key), 20)


def iam_identity(tenant: str, access_key: str) -> dict[str, Any]:
    """``requestContext.authorizer.iam`` of payload 2.0 for the caller that signed with this
    access key: the tenant's IAM user."""
    user_id = _iam_id("AIDA", f"user/{tenant}", 21)
    return {
        "accessKey": access_key,
        "accountId": ACCOUNT_ID,
        "callerId": user_id,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": iam_user_arn(tenant),
        "userId": user_id,
    }


def tenant_environment(api_keys: Mapping[str, str]) -> dict[str, str]:
    """The functions' variables that say who the callers are, given ``{key: tenant}``.

    With keys: the authorizer's ``TENANT:SHA256HEX`` entries and each tenant's IAM user ARN.
    Without: the tenant that callers of the (then open) routes act as.
    """
    if not api_keys:
        return {OPEN_TENANT_VARIABLE: DEFAULT_TENANT}
    tenants = sorted(set(api_keys.values()))
    return {
        KEY_HASHES_VARIABLE: ",".join(
            f"{tenant}:{key_digest(key)}" for key, tenant in api_keys.items()
        ),
        IAM_TENANTS_VARIABLE: ",".join(f"{iam_user_arn(t)}={t}" for t in tenants),
    }


@dataclass(frozen=True)
class LambdaAuthorizer:
    """An ``Auth.Authorizers`` entry with a ``FunctionArn``: a REQUEST authorizer."""

    name: str
    function: str  # logical id of the template's function
    identity_sources: tuple[str, ...]  # "$request.header.Authorization", ...
    simple_responses: bool
    result_ttl_s: int


@dataclass(frozen=True)
class RouteAuth:
    """How API Gateway authorizes one route: ``NONE``, ``AWS_IAM``, ``CUSTOM`` or ``JWT``."""

    authorization_type: str = OPEN
    authorizer: LambdaAuthorizer | None = None
    name: str = ""  # the authorizer's name in the template (CUSTOM, JWT)

    @property
    def is_open(self) -> bool:
        return self.authorization_type == OPEN

    def describe(self) -> str:
        if self.authorizer is not None:
            return f"{self.authorizer.name} -> {self.authorizer.function}"
        if self.authorization_type == JWT:
            return f"{self.name}: JWT, not emulated, open"
        return self.name or self.authorization_type


class _FunctionArn:
    """Stands in for ``!GetAtt <Function>.Arn`` while an Auth section is resolved: locally a
    function is known by its logical id, and in ``--aws`` mode it has no local ARN at all."""

    def __init__(self, logical_id: str) -> None:
        self.logical_id = logical_id

    def __repr__(self) -> str:
        return f"!GetAtt {self.logical_id}.Arn"


def _mark_functions(value: Any, functions: Iterable[str]) -> Any:
    names = set(functions)
    if isinstance(value, list):
        return [_mark_functions(item, names) for item in value]
    if isinstance(value, dict):
        target = value.get("Fn::GetAtt") if len(value) == 1 else None
        if isinstance(target, list) and target[1:] == ["Arn"] and target[0] in names:
            return _FunctionArn(target[0])
        return {key: _mark_functions(item, names) for key, item in value.items()}
    return value


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise TemplateError(f"{where} must be true or false, got {value!r}")


def _identity_sources(identity: Any, where: str) -> tuple[str, ...]:
    if identity is None:
        return ("$request.header.Authorization",)  # SAM's default for HTTP APIs
    if not isinstance(identity, dict):
        raise TemplateError(f"{where}.Identity must be a mapping")
    sources = [f"$request.header.{h}" for h in identity.get("Headers") or ()]
    sources += [f"$request.querystring.{q}" for q in identity.get("QueryStrings") or ()]
    for kind in ("Context", "StageVariables"):
        if identity.get(kind):
            raise TemplateError(f"{where}.Identity.{kind} is not emulated by the local server")
    return tuple(sources)


def _lambda_authorizer(name: str, config: Any, where: str) -> LambdaAuthorizer:
    if not isinstance(config, dict):
        raise TemplateError(f"{where} must be a mapping")
    function = config.get("FunctionArn")
    if not isinstance(function, _FunctionArn):
        raise TemplateError(
            f"{where}.FunctionArn must be !GetAtt <Function>.Arn of a function in the template "
            f"to run locally, got {function!r}"
        )
    version = str(config.get("AuthorizerPayloadFormatVersion", ""))
    if version != "2.0":
        raise TemplateError(
            f"{where}: only AuthorizerPayloadFormatVersion 2.0 is emulated, got {version!r}"
        )
    identity = config.get("Identity")
    ttl = (identity or {}).get("ReauthorizeEvery", 300) if isinstance(identity, dict) else 300
    return LambdaAuthorizer(
        name=name,
        function=function.logical_id,
        identity_sources=_identity_sources(identity, where),
        simple_responses=_flag(config.get("EnableSimpleResponses", False), where),
        result_ttl_s=int(ttl),
    )


def route_authorizations(
    template: Template, resolver: Resolver, functions: Iterable[str]
) -> dict[str, RouteAuth]:
    """Route key (``"POST /jobs"``) -> its authorization, for the HttpApi events of
    ``functions`` (the logical ids of the functions that are created)."""
    apis: dict[str, dict[str, Any]] = {}
    result: dict[str, RouteAuth] = {}
    for logical_id in functions:
        spec = template.functions[logical_id]
        for event in spec.http_events:
            if event.api not in apis:
                raw = template.http_api_properties(event.api).get("Auth") or {}
                auth = resolver.resolve(_mark_functions(raw, template.functions))
                if not isinstance(auth, dict):
                    raise TemplateError(f"{event.api}: Auth must be a mapping")
                apis[event.api] = auth
            api_auth = apis[event.api]
            event_auth = resolver.resolve(event.auth or {})
            if not isinstance(event_auth, dict):
                raise TemplateError(f"{logical_id} event {event.name}: Auth must be a mapping")
            where = f"{logical_id} event {event.name}"
            name = event_auth.get("Authorizer") or api_auth.get("DefaultAuthorizer")
            route_key = "$default" if event.path == "$default" else f"{event.method} {event.path}"
            result[route_key] = _route_auth(name, api_auth, event.api, where)
    return result


def _route_auth(name: Any, api_auth: dict[str, Any], api: str, where: str) -> RouteAuth:
    if not name or name == OPEN:
        return RouteAuth()
    authorizers = api_auth.get("Authorizers") or {}
    if not isinstance(authorizers, dict):
        raise TemplateError(f"{api}: Auth.Authorizers must be a mapping")
    if name == IAM and name not in authorizers:
        if api_auth.get("EnableIamAuthorizer") not in (True, "true"):
            raise TemplateError(f"{where}: AWS_IAM needs Auth.EnableIamAuthorizer on {api}")
        return RouteAuth(IAM, name=IAM)
    if name not in authorizers:
        raise TemplateError(f"{where}: authorizer {name!r} is not in {api}'s Auth.Authorizers")
    config = authorizers[name]
    if isinstance(config, dict) and "JwtConfiguration" in config:
        return RouteAuth(JWT, name=str(name))
    authorizer = _lambda_authorizer(str(name), config, f"{api} Auth.Authorizers.{name}")
    return RouteAuth(CUSTOM, authorizer=authorizer, name=str(name))


def _route_arn(method: str, raw_path: str) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}{raw_path}"


def _policy_allows(answer: dict[str, Any], route_arn: str) -> bool:
    """An IAM policy answer: some statement allows execute-api:Invoke here, and none denies it."""
    statements = (answer.get("policyDocument") or {}).get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    verdicts = set()
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        actions = statement.get("Action") or []
        resources = statement.get("Resource") or []
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatchcase("execute-api:Invoke", a) for a in actions) and any(
            fnmatchcase(route_arn, r) for r in resources
        ):
            verdicts.add(statement.get("Effect"))
    return "Allow" in verdicts and "Deny" not in verdicts


class RouteGuard:
    """Enforces each route's authorization with the given API keys (see the module's doc)."""

    def __init__(
        self,
        authorizations: Mapping[str, RouteAuth],
        functions: Mapping[str, LocalFunction],
        api_keys: Mapping[str, str],
    ) -> None:
        """``api_keys`` maps each key to its tenant (see :func:`parse_api_keys`)."""
        self.authorizations = dict(authorizations)
        self.functions = functions
        self._access_keys = {
            access_key_id(key): AccessKey(key, tenant) for key, tenant in api_keys.items()
        }
        if not self._access_keys:
            raise ValueError("a RouteGuard needs at least one API key")
        for route_key, auth in self.authorizations.items():
            if auth.authorizer is not None and auth.authorizer.function not in functions:
                raise TemplateError(
                    f"route {route_key}: authorizer {auth.authorizer.name}'s function "
                    f"{auth.authorizer.function} is not created (its Condition is false?)"
                )
            if auth.authorization_type == JWT:
                log.warning("route %s: JWT authorizers are not emulated, it is open", route_key)

    def check(
        self, environ: dict[str, Any], match: RouteMatch, request_id: str, body: bytes
    ) -> tuple[HttpResponse | None, dict[str, Any] | None]:
        """(a refusal to answer instead of calling the route, the event's
        ``requestContext.authorizer``), either possibly None."""
        auth = self.authorizations.get(match.route.route_key, RouteAuth())
        if auth.authorization_type == IAM:
            return self._check_signature(environ, body)
        if auth.authorizer is None:
            return None, None
        return self._call_authorizer(auth.authorizer, environ, match, request_id)

    def _check_signature(
        self, environ: dict[str, Any], body: bytes
    ) -> tuple[HttpResponse | None, dict[str, Any] | None]:
        """An ``AWS_IAM`` route: a request signed with one of the keys' access keys is its
        tenant's IAM user calling; anything else is a 403 (see :mod:`localserver.sigv4`)."""
        raw_path, raw_query = raw_path_and_query(environ)
        method = environ["REQUEST_METHOD"]
        headers = request_headers(environ)
        try:
            key_id, key = verify(
                method, raw_path, raw_query, headers, body, self._access_keys, REGION
            )
        except SignatureRefused as refusal:
            log.info("%s %s: SigV4 refused: %s", method, raw_path, refusal)
            return message_response(403, str(refusal)), None
        return None, {"iam": iam_identity(key.tenant, key_id)}

    def _call_authorizer(
        self,
        authorizer: LambdaAuthorizer,
        environ: dict[str, Any],
        match: RouteMatch,
        request_id: str,
    ) -> tuple[HttpResponse | None, dict[str, Any] | None]:
        route = match.route
        request = build_event(
            environ,
            body=b"",
            route_key=route.route_key,
            path_parameters=match.path_parameters,
            request_id=request_id,
        )
        raw_path, raw_query = raw_path_and_query(environ)
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        identity = []
        for source in authorizer.identity_sources:
            _, kind, name = source.split(".", 2)
            value = request["headers"].get(name.lower()) if kind == "header" else query.get(name)
            if not value or not value.strip():
                return message_response(401, "Unauthorized"), None
            identity.append(value)
        route_arn = _route_arn(environ["REQUEST_METHOD"], raw_path)
        event: dict[str, Any] = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": route_arn,
            "identitySource": identity,
            "routeKey": route.route_key,
            "rawPath": raw_path,
            "rawQueryString": raw_query,
        }
        for key in ("cookies", "headers", "queryStringParameters", "requestContext"):
            if key in request:
                event[key] = request[key]
        event["pathParameters"] = dict(match.path_parameters)
        function = self.functions[authorizer.function]
        try:
            answer = function.handler(event, function.new_context())
        except Exception:
            log.exception(
                "authorizer %s (%s) raised an exception; API Gateway answers 500",
                authorizer.name,
                function.logical_id,
            )
            return message_response(500, "Internal Server Error"), None
        if not isinstance(answer, dict):
            return self._invalid(authorizer, f"the answer is not an object: {answer!r}")
        context = answer.get("context")
        if context is not None and not isinstance(context, dict):
            return self._invalid(authorizer, "context must be an object")
        if authorizer.simple_responses:
            allowed = answer.get("isAuthorized")
            if not isinstance(allowed, bool):
                return self._invalid(authorizer, f"isAuthorized must be a boolean: {answer!r}")
        else:
            allowed = _policy_allows(answer, route_arn)
        if not allowed:
            return message_response(403, "Forbidden"), None
        return None, {"lambda": context or {}}

    @staticmethod
    def _invalid(
        authorizer: LambdaAuthorizer, reason: str
    ) -> tuple[HttpResponse, dict[str, Any] | None]:
        log.error(
            "authorizer %s (%s) answered what API Gateway cannot use, it answers 500: %s",
            authorizer.name,
            authorizer.function,
            reason,
        )
        return message_response(500, "Internal Server Error"), None
