"""The HTTP API as a WSGI app, and the lifecycle of the whole local stack.

:class:`LocalServer` starts moto (unless told to use real AWS), creates the template's
resources in it, sets the functions' environment, imports their handlers and serves the
template's routes over a threaded WSGI server. One LocalServer may run per process at a
time: the environment, ``sys.path`` and moto's state are process-wide.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from moto.server import ThreadedMotoServer
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import logs
from .apidocs import DEFAULT_DOCUMENT, RESERVED_PATHS, pages
from .auth import (
    RouteAuth,
    RouteGuard,
    parse_api_keys,
    route_authorizations,
    tenant_environment,
)
from .cors import CorsRules, api_cors
from .environment import EnvironmentPatch, function_environment, local_aws_environment
from .events import (
    HttpResponse,
    InvalidResponse,
    build_event,
    message_response,
    new_request_id,
    raw_path_and_query,
    serialize_result,
    to_http_response,
)
from .functions import LocalFunction, SysPath, code_directories, load_handler
from .intrinsics import REGION, Resolver
from .moto_fidelity import atomic_dynamodb_writes, s3_cors_as_configured
from .pollers import (
    DEFAULT_CONCURRENCY,
    DEFAULT_RETRY_DELAY_S,
    BackgroundWorker,
    QueueSource,
    SqsPollers,
    make_pollers,
    queue_sources,
)
from .resources import LocalResource, ProvisionContext, local_client, provision_all
from .routes import Route, RouteMatch, RouteTable
from .template import FunctionSpec, Template, TemplateError

log = logging.getLogger("localserver")
request_log = logging.getLogger("localserver.requests")

MAX_REQUEST_BYTES = 10 * 1024 * 1024
"""API Gateway HTTP API's payload quota."""
MAX_INVOKE_BYTES = 6 * 1024 * 1024
"""Lambda's limit for a synchronous invocation's event and for its result."""
AWS_MODE_VARIABLE = "PROGIMAGE_LOCAL_AWS"

_DROPPED_RESPONSE_HEADERS = {"content-length", "transfer-encoding", "connection"}


class Gateway:
    """The WSGI app: route a request, invoke the function, map its result back.

    Routes match on the method, as API Gateway's do: ``HEAD`` reaches a ``HEAD`` (or ``ANY``)
    route, not a ``GET`` one, and its answer never has a body.

    ``pages`` are the local server's own answers to ``GET`` (and ``HEAD``) of reserved paths
    (the OpenAPI document and its docs page); they take precedence over the template's routes.

    ``cors``: the API's CORS rules (None: no CORS). A preflight ``OPTIONS`` is then answered
    here, whatever the path, and every answer to an allowed ``Origin`` gets the CORS headers.
    """

    def __init__(
        self,
        routes: RouteTable,
        functions: Mapping[str, LocalFunction],
        *,
        enforce_limits: bool = True,
        pages: Mapping[str, HttpResponse] | None = None,
        guard: RouteGuard | None = None,
        cors: CorsRules | None = None,
    ) -> None:
        self.routes = routes
        self.cors = cors
        self.functions = functions
        self.enforce_limits = enforce_limits
        self.pages = dict(pages or {})
        self.guard = guard  # enforces the routes' authorizers (None: every route is open)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        started = time.perf_counter()
        request_id = new_request_id()
        method = environ["REQUEST_METHOD"]
        raw_path, raw_query = raw_path_and_query(environ)
        origin = environ.get("HTTP_ORIGIN")
        preflight = self.cors is not None and method == "OPTIONS"
        page = self.pages.get(raw_path) if method in ("GET", "HEAD") else None
        match = None if page or preflight else self.routes.match(method, raw_path)
        if self.cors is not None and preflight:
            response = HttpResponse(204, self.cors.preflight_headers(origin), b"")
        elif page is not None:
            response = HttpResponse(page.status, list(page.headers), page.body)
        elif match is None:
            response = message_response(404, "Not Found")
        else:
            response = self._invoke(environ, match, request_id)
        if self.cors is not None and not preflight:
            # API Gateway's, whatever the function said
            response.headers = [
                (name, value)
                for name, value in response.headers
                if not name.lower().startswith("access-control-")
            ] + self.cors.response_headers(origin)
        response.headers.append(("apigw-requestid", request_id))
        request_log.info(
            "%s %s -> %d in %.1f ms [%s -> %s]",
            method,
            f"{raw_path}?{raw_query}" if raw_query else raw_path,
            response.status,
            (time.perf_counter() - started) * 1000,
            match.route.route_key
            if match
            else "local page"
            if page
            else "CORS preflight"
            if preflight
            else "no route",
            match.route.function if match else "-",
        )
        # A HEAD request gets the status and headers (Content-Length: the body's) but no body.
        wsgi_response = Response(response.body, status=response.status, headers=response.headers)
        return wsgi_response(environ, start_response)

    def _invoke(self, environ: dict[str, Any], match: RouteMatch, request_id: str) -> HttpResponse:
        route = match.route
        function = self.functions[route.function]
        request = Request(environ)
        if self.enforce_limits:
            request.max_content_length = MAX_REQUEST_BYTES
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return message_response(413, "Request Entity Too Large")
        authorizer = None
        if self.guard is not None:
            refusal, authorizer = self.guard.check(environ, match, request_id, body)
            if refusal is not None:
                return refusal
        event = build_event(
            environ,
            body=body,
            route_key=route.route_key,
            path_parameters=match.path_parameters,
            request_id=request_id,
        )
        if authorizer is not None:
            event["requestContext"]["authorizer"] = authorizer
        if self.enforce_limits:
            size = len(json.dumps(event))
            if size > MAX_INVOKE_BYTES:
                request_log.error(
                    "%s: the event is %d bytes, over Lambda's %d-byte invocation limit",
                    route.route_key,
                    size,
                    MAX_INVOKE_BYTES,
                )
                return message_response(413, "Request Entity Too Large")

        context = function.new_context()
        try:
            result = function.handler(event, context)
        except Exception:
            request_log.exception(
                "%s (%s) raised an exception; API Gateway answers 500",
                function.logical_id,
                route.route_key,
            )
            return message_response(500, "Internal Server Error")
        elapsed = time.monotonic() - context.started
        if elapsed > function.timeout_s:
            request_log.warning(
                "%s took %.1f s, longer than its Timeout of %d s: Lambda would have stopped it",
                function.logical_id,
                elapsed,
                function.timeout_s,
            )
        try:
            payload = serialize_result(result)
            if self.enforce_limits and len(payload.encode()) > MAX_INVOKE_BYTES:
                raise InvalidResponse(
                    f"the result is {len(payload.encode())} bytes, over Lambda's "
                    f"{MAX_INVOKE_BYTES}-byte response limit"
                )
            response = to_http_response(result)
        except InvalidResponse as error:
            request_log.error(
                "%s (%s) returned an invalid response, API Gateway answers 500: %s",
                function.logical_id,
                route.route_key,
                error,
            )
            return message_response(500, "Internal Server Error")
        response.headers = [
            (name, value)
            for name, value in response.headers
            if name.lower() not in _DROPPED_RESPONSE_HEADERS
        ]
        return response


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its access log; the Gateway logs richer lines."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _nothing() -> None:
    """What undoes nothing."""


def _display_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(f"cannot listen on {host}:{port}: {error.strerror}") from error


class LocalServer:
    """The whole API on one local port, with its AWS resources in moto.

    >>> with LocalServer("template.yaml") as server:  # doctest: +SKIP
    ...     requests.get(f"{server.url}/images")

    ``use_aws`` (default: environment variable ``PROGIMAGE_LOCAL_AWS=1``) starts no moto and
    creates nothing: the functions use whatever endpoint, credentials and resource names the
    environment gives (and no queue is polled).

    Functions with ``SQS`` events get the messages of their queue from background pollers
    (:mod:`localserver.pollers`): up to ``sqs_concurrency`` batches in flight per event
    source, failed messages visible again after ``sqs_retry_delay`` seconds.

    ``openapi`` is the API's OpenAPI document (YAML or JSON), served at ``/openapi.json`` with
    a docs page at ``/docs``; by default ``openapi/openapi.yaml`` next to the template, if
    there is one (else neither path is served).

    ``api_keys``: ``TENANT:KEY`` (or a bare ``KEY``, of tenant ``default``) specs; enforce the
    template's route authorization with them (its Lambda authorizers, run with the keys'
    ``TENANT:SHA256HEX`` entries in ``PROGIMAGE_API_KEY_HASHES``; ``AWS_IAM`` routes take
    requests signed with SigV4, each key the secret of an access key of its tenant's IAM user), see
    :mod:`localserver.auth`. Bad specs raise :class:`~localserver.auth.ApiKeyError`. Without
    keys every route is open and ``PROGIMAGE_OPEN_TENANT=default`` says so to the functions.
    """

    _active: ClassVar[LocalServer | None] = None
    _active_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        template_path: str | Path = "template.yaml",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        moto_port: int = 0,
        use_aws: bool | None = None,
        parameter_overrides: Mapping[str, str] | None = None,
        env_overrides: Mapping[str, str] | None = None,
        stack_name: str = "progimage-local",
        enforce_limits: bool = True,
        sqs_concurrency: int = DEFAULT_CONCURRENCY,
        sqs_retry_delay: int = DEFAULT_RETRY_DELAY_S,
        openapi: str | Path | None = None,
        api_keys: Iterable[str] = (),
    ) -> None:
        if sqs_concurrency < 1:
            raise ValueError("sqs_concurrency must be at least 1")
        if not 0 <= sqs_retry_delay <= 43200:
            raise ValueError("sqs_retry_delay must be 0 to 43200 seconds")
        self.template = Template.load(template_path)
        self.host = host
        self.port = port
        self.moto_port = moto_port
        self.use_aws = os.environ.get(AWS_MODE_VARIABLE) == "1" if use_aws is None else use_aws
        self.parameter_overrides = dict(parameter_overrides or {})
        self.env_overrides = dict(env_overrides or {})
        self.stack_name = stack_name
        self.enforce_limits = enforce_limits
        self.sqs_concurrency = sqs_concurrency
        self.sqs_retry_delay = sqs_retry_delay
        self.api_keys = parse_api_keys(api_keys)  # key -> tenant
        default_document = self.template.directory / DEFAULT_DOCUMENT
        if openapi is not None:
            self.openapi: Path | None = Path(openapi)
        else:
            self.openapi = default_document if default_document.is_file() else None

        self.region = REGION
        self.aws_endpoint: str | None = None
        self.resources: dict[str, LocalResource] = {}
        self.environment: dict[str, str] = {}
        self.functions: dict[str, LocalFunction] = {}
        self._specs: dict[str, FunctionSpec] = {}  # the functions that are created
        self.routes = RouteTable([])
        self.route_auth: dict[str, RouteAuth] = {}  # route key -> how AWS would authorize it
        self.cors: CorsRules | None = None  # the HttpApi's CorsConfiguration (None: no CORS)
        self.workers: list[BackgroundWorker] = []
        self.queue_sources: list[QueueSource] = []
        self._pollers: SqsPollers | None = None

        self._resolver: Resolver | None = None
        self._moto: ThreadedMotoServer | None = None
        self._http: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._env = EnvironmentPatch()
        self._sys_path = SysPath()
        self._hide_metrics: Callable[[], None] = _nothing
        self._started = False

    # -- properties ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:3000``."""
        if self._http is None:
            raise RuntimeError("the server is not started")
        return f"http://{_display_host(self.host)}:{self._http.server_port}"

    @property
    def s3_endpoint(self) -> str | None:
        """Where boto3 sends AWS requests (the moto server); None means real AWS."""
        return self.aws_endpoint

    @property
    def in_memory(self) -> bool:
        """True when resources live in the in-process moto server."""
        return not self.use_aws

    @property
    def tenants(self) -> list[str]:
        """The tenants that have API keys, sorted (none: the server runs open)."""
        return sorted(set(self.api_keys.values()))

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> LocalServer:
        """Start everything; the HTTP server runs in a background thread."""
        with LocalServer._active_lock:
            if LocalServer._active is not None:
                raise RuntimeError("a LocalServer is already running in this process")
            LocalServer._active = self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        # The functions' embedded metrics as log lines, not on stdout, until the server stops.
        self._hide_metrics = logs.show_metrics()
        return self

    def _start(self) -> None:
        if self.port:
            # Fail before doing anything else; werkzeug would print and exit instead of raising.
            _check_port_free(self.host, self.port)
        if self.use_aws:
            self.region = (
                os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or REGION
            )
            self.aws_endpoint = os.environ.get("AWS_ENDPOINT_URL")
        else:
            if self.moto_port:
                _check_port_free("127.0.0.1", self.moto_port)
            atomic_dynamodb_writes()  # as DynamoDB's are (see moto_fidelity)
            s3_cors_as_configured()  # the buckets' CORS rules, not moto's CORS for all
            self._moto = ThreadedMotoServer(
                ip_address="127.0.0.1", port=self.moto_port, verbose=False
            )
            self._moto.start()
            _, moto_port = self._moto.get_host_and_port()
            self.aws_endpoint = f"http://127.0.0.1:{moto_port}"
            self._env.apply(local_aws_environment(self.aws_endpoint, self.region))

        self._resolver = Resolver(
            self.template,
            resources=self.resources,
            parameter_overrides=self.parameter_overrides,
            stack_name=self.stack_name,
            region=self.region,
        )
        if not self.use_aws:
            # moto keeps its state in the process: start from nothing, even after another server.
            self._reset_moto()
            self._provision()
        self._specs = {
            logical_id: spec
            for logical_id, spec in self.template.functions.items()
            if not (spec.condition and not self._resolver.condition(spec.condition))
        }
        self.route_auth = route_authorizations(self.template, self._resolver, self._specs)
        self.cors = api_cors(
            self.template,
            self._resolver,
            (event.api for spec in self._specs.values() for event in spec.http_events),
        )
        self._apply_environment()

        routes: list[Route] = []
        for logical_id, spec in self._specs.items():
            for directory in code_directories(self.template, spec):
                self._sys_path.add(directory)
            name = (
                self.resources[logical_id].name
                if logical_id in self.resources
                else f"{self.stack_name}-{logical_id}"
            )
            self.functions[logical_id] = LocalFunction(
                logical_id=logical_id,
                name=name,
                handler=load_handler(spec),
                timeout_s=int(self._resolver.resolve(spec.timeout)),
                memory_mb=int(self._resolver.resolve(spec.memory_size)),
            )
            routes.extend(Route.parse(e.method, e.path, logical_id) for e in spec.http_events)
        self.routes = RouteTable(routes)
        if not self.routes:
            raise TemplateError("the template has no HttpApi events: nothing to serve")
        self.queue_sources = self._queue_sources(self._specs)
        local_pages = self._pages()
        guard = None
        if self.api_keys:
            guard = RouteGuard(self.route_auth, self.functions, self.api_keys)

        gateway = Gateway(
            self.routes,
            self.functions,
            enforce_limits=self.enforce_limits,
            pages=local_pages,
            guard=guard,
            cors=self.cors,
        )
        self._http = make_server(
            self.host, self.port, gateway, threaded=True, request_handler=_QuietRequestHandler
        )
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.1},  # how long shutdown() may wait
            name="localserver-http",
            daemon=True,
        )
        self._thread.start()
        if self.queue_sources:
            self._pollers = make_pollers(
                self.queue_sources,
                self.functions,
                self._sqs_client,
                region=self.region,
                retry_delay_s=self.sqs_retry_delay,
            )
            self.workers.append(self._pollers)
        for worker in self.workers:
            worker.start()
        log.info(
            "serving %d routes on %s; polling %d SQS event sources",
            len(self.routes),
            self.url,
            len(self.queue_sources),
        )

    def _apply_environment(self) -> None:
        """Resolve the functions' environment and set it in the process.

        The template's variables (``--env`` values winning), and what the server says about
        callers (:func:`~localserver.auth.tenant_environment`; ``--env`` wins there too). Done
        again after a reset, which gives a secret a new ARN.
        """
        assert self._resolver is not None
        environment = function_environment(
            self._specs.values(),
            self._resolver,
            overrides=self.env_overrides,
            prefer_process_environment=self.use_aws,
        )
        for name, value in tenant_environment(self.api_keys).items():
            if name not in self.env_overrides:
                environment[name] = value
        self.environment = environment
        self._env.apply(environment)

    def _pages(self) -> dict[str, HttpResponse]:
        """The OpenAPI document and docs page; their paths cannot be template routes."""
        if self.openapi is None:
            return {}
        for path in RESERVED_PATHS:
            match = self.routes.match("GET", path)
            if match is not None and match.route.path == path:
                raise TemplateError(
                    f"route {match.route.route_key} ({match.route.function}): {path} is "
                    "reserved for the local server's API document"
                )
        return pages(self.openapi)

    def _queue_sources(self, functions: Mapping[str, FunctionSpec]) -> list[QueueSource]:
        assert self._resolver is not None
        if not self.use_aws:
            return queue_sources(
                functions, self._resolver, self.resources, concurrency=self.sqs_concurrency
            )
        if any(spec.queue_events for spec in functions.values()):
            log.info("SQS events are not polled with --aws: AWS delivers them")
        return []

    def _sqs_client(self, pool_size: int = 10) -> Any:
        assert self.aws_endpoint is not None
        return local_client("sqs", self.aws_endpoint, self.region, max_pool_connections=pool_size)

    def _provision(self) -> None:
        assert self._resolver is not None and self.aws_endpoint is not None
        self.resources.clear()
        context = ProvisionContext(
            resolver=self._resolver,
            endpoint_url=self.aws_endpoint,
            stack_name=self.stack_name,
            region=self.region,
        )
        provision_all(self.template, context)

    def stop(self) -> None:
        """Stop workers, the HTTP server and moto; restore the environment. Idempotent."""
        if not self._started:
            return
        try:
            for worker in reversed(self.workers):
                worker.stop()
            self.workers = []
            self._pollers = None
            self.queue_sources = []
            if self._http is not None:
                self._http.shutdown()
                self._http.server_close()
            if self._thread is not None:
                self._thread.join(timeout=10)
            if self._moto is not None:
                self._moto.stop()
                # ThreadedMotoServer.stop() leaves its socket open; close it too.
                moto_http = getattr(self._moto, "_server", None)
                if moto_http is not None:
                    moto_http.server_close()
        finally:
            self._hide_metrics()
            self._hide_metrics = _nothing
            self._http = self._thread = self._moto = None
            self._env.restore()
            self._sys_path.restore()
            self._started = False
            with LocalServer._active_lock:
                if LocalServer._active is self:
                    LocalServer._active = None

    def reset(self) -> None:
        """Empty moto (``POST /moto-api/reset``) and create the template's resources again
        (and set the functions' environment again, for the resources' new identifiers)."""
        if self._moto is None or self.aws_endpoint is None:
            raise RuntimeError("reset() needs the local moto server (not --aws mode)")
        if self._pollers is not None:
            self._pollers.pause()  # batches in flight end with errors nobody needs to see
        try:
            self._reset_moto()
            self._provision()
            self._apply_environment()
        finally:
            if self._pollers is not None:
                self._pollers.resume()

    def _reset_moto(self) -> None:
        request = urllib.request.Request(f"{self.aws_endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def wait_for_queues_idle(self, timeout: float = 30.0) -> None:
        """Wait until every polled queue is empty and no batch is running.

        Messages waiting for a retry count as not idle; messages in a dead-letter queue
        nobody polls do not. Raises ``TimeoutError`` (naming what is left) after ``timeout``
        seconds. Returns at once when no queue is polled.
        """
        pollers = self._pollers
        if pollers is None:
            return
        client = self._sqs_client(2)
        deadline = time.monotonic() + timeout
        while True:
            before = pollers.counter.snapshot()
            backlog = pollers.backlog(client)
            after = pollers.counter.snapshot()
            # Idle only if no batch ran or started while the queues were being counted.
            running = after[0] - after[1]
            left = {url: counts for url, counts in backlog.items() if any(counts.values())}
            if before == after and not running and not left:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"queues not idle after {timeout:g} s: {running} batches running, "
                    f"messages left: {left or 'none'}"
                )
            time.sleep(0.05)

    def invoke(self, function_id: str, event: Any) -> Any:
        """Call a function's handler directly, as Lambda would (exceptions propagate)."""
        function = self.functions[function_id]
        return function.handler(event, function.new_context())

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
