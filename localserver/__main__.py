"""Command line: ``python -m localserver [--host H] [--port P] [--template T] ...``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from types import FrameType

from . import logs
from .auth import IAM, OPEN_TENANT_VARIABLE, ApiKeyError, access_key_id
from .intrinsics import REGION
from .pollers import DEFAULT_CONCURRENCY, DEFAULT_RETRY_DELAY_S
from .server import AWS_MODE_VARIABLE, LocalServer
from .template import TemplateError

API_KEYS_VARIABLE = "PROGIMAGE_API_KEYS"


def _key_value(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole seconds, got {text!r}") from None
    if not 0 <= value <= 43200:
        raise argparse.ArgumentTypeError(f"expected 0 to 43200 seconds, got {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m localserver",
        description="Serve the SAM template's HTTP API locally, with AWS emulated by moto.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port of the API (3000; 0: any)")
    parser.add_argument("--template", default="template.yaml", help="SAM template (template.yaml)")
    parser.add_argument("--moto-port", type=int, default=0, help="port of moto (0: any free one)")
    parser.add_argument(
        "--aws",
        action="store_true",
        help=f"start no moto and create nothing: use the AWS endpoint, credentials and resource "
        f"names from the environment (also: {AWS_MODE_VARIABLE}=1)",
    )
    parser.add_argument(
        "--parameter",
        metavar="NAME=VALUE",
        type=_key_value,
        action="append",
        default=[],
        help="override a template parameter's Default (repeatable)",
    )
    parser.add_argument(
        "--env",
        metavar="NAME=VALUE",
        type=_key_value,
        action="append",
        default=[],
        help="set a function environment variable instead of the template's value (repeatable)",
    )
    parser.add_argument("--stack-name", default="progimage-local", help="prefix of local names")
    parser.add_argument(
        "--no-limits",
        action="store_true",
        help="do not enforce API Gateway's 10 MB and Lambda's 6 MB payload limits",
    )
    parser.add_argument(
        "--sqs-concurrency",
        metavar="N",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        help=f"batches in flight per SQS event source ({DEFAULT_CONCURRENCY}; "
        "at most the event's ScalingConfig.MaximumConcurrency)",
    )
    parser.add_argument(
        "--sqs-retry-delay",
        metavar="SECONDS",
        type=_seconds,
        default=DEFAULT_RETRY_DELAY_S,
        help=f"seconds before a failed SQS message is delivered again ({DEFAULT_RETRY_DELAY_S}; "
        "AWS waits for the queue's VisibilityTimeout)",
    )
    parser.add_argument(
        "--api-key",
        metavar="TENANT:KEY",
        action="append",
        default=[],
        help="enforce the template's authorizers, accepting this API key of this tenant (a bare "
        f"KEY: tenant 'default'; repeatable; also {API_KEYS_VARIABLE}=TENANT:KEY1,...); "
        "without keys every route is open",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the functions' log level (INFO; deployed: the template's LogLevel)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also log every request to moto, and the metrics each invocation writes",
    )
    return parser.parse_args(argv)


def _key_lines(server: LocalServer) -> list[str]:
    """How callers present the server's API keys, per tenant."""
    keys_of = Counter(server.api_keys.values())
    tenants = ", ".join(
        f"{tenant} ({keys_of[tenant]} key{'s' if keys_of[tenant] > 1 else ''})"
        for tenant in server.tenants
    )
    kinds = {auth.authorization_type for auth in server.route_auth.values() if not auth.is_open}
    iam = IAM in kinds
    ways = ["Authorization: Bearer <key>"] if kinds - {IAM} else []
    if iam:
        ways.append(f"AWS_IAM routes: SigV4 in {REGION}, the key as the secret access key")
    how = "; ".join(ways)
    lines = [
        f"  Auth: routes marked [...] need one of {len(server.api_keys)} API key(s) "
        f"({how}); tenants: {tenants}"
    ]
    if iam:
        for tenant in server.tenants:
            ids = ", ".join(
                access_key_id(key) for key, owner in server.api_keys.items() if owner == tenant
            )
            lines.append(f"    {tenant}'s access key ids: {ids}")
    return lines


def _banner(server: LocalServer) -> str:
    lines = [f"ProgImage local server: {server.url}  ({server.template.path.name})"]
    if server.in_memory:
        lines.append(f"  AWS: moto at {server.aws_endpoint} (presigned URLs point there)")
        lines.append("  Data lives in memory and is lost when the server stops.")
    else:
        lines.append(
            f"  AWS: {server.aws_endpoint or 'real AWS'} from the environment "
            f"(region {server.region}); nothing was created"
        )
    created = [
        resource
        for resource in server.resources.values()
        # not the name-only stand-ins
        if not (resource.type.startswith("AWS::Serverless::") or resource.type.endswith("Policy"))
    ]
    type_width = max((len(resource.type) for resource in created), default=0)
    for resource in created:
        lines.append(f"  {resource.type:<{type_width}} {resource.logical_id}: {resource.name}")
    width = max(len(route.route_key) for route in server.routes)
    guarded = 0
    for route in server.routes:
        line = f"  {route.route_key:<{width}}  -> {route.function}"
        auth = server.route_auth.get(route.route_key)
        if auth is not None and not auth.is_open:
            guarded += 1
            line += f"  [{auth.describe()}]"
        lines.append(line)
    for source in server.queue_sources:
        lines.append(f"  SQS {source.describe()}")
    if server.cors is not None:
        lines.append(f"  CORS: browsers on {server.cors.describe()} (API and buckets)")
    if server.openapi is not None:
        lines.append(f"  API document: {server.url}/openapi.json, docs: {server.url}/docs")
    if server.api_keys:
        lines += _key_lines(server)
    else:
        open_tenant = server.environment.get(OPEN_TENANT_VARIABLE)
        acting = (
            f"callers act as tenant {open_tenant!r}"
            if open_tenant
            else f"{OPEN_TENANT_VARIABLE} is empty, callers have no tenant"
        )
        lines.append(f"  Auth: OPEN (no API keys), {acting}.")
        if guarded:
            lines.append(
                f"  The {guarded} routes marked [...] need credentials on AWS; pass "
                f"--api-key TENANT:KEY (or {API_KEYS_VARIABLE}) to enforce them here."
            )
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def _api_key_specs(given: Sequence[str]) -> list[str]:
    """The ``--api-key`` specs, then those of ``PROGIMAGE_API_KEYS`` (comma-separated)."""
    return [*given, *os.environ.get(API_KEYS_VARIABLE, "").split(",")]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("localserver").setLevel(logging.INFO)
    logs.configure(logging.getLevelName(args.log_level), args.verbose)
    # Werkzeug logs each request moto serves; only show them when asked.
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    try:
        server = LocalServer(
            args.template,
            args.host,
            args.port,
            moto_port=args.moto_port,
            use_aws=True if args.aws else None,
            parameter_overrides=dict(args.parameter),
            env_overrides=dict(args.env),
            stack_name=args.stack_name,
            enforce_limits=not args.no_limits,
            sqs_concurrency=args.sqs_concurrency,
            sqs_retry_delay=args.sqs_retry_delay,
            api_keys=_api_key_specs(args.api_key),
        )
        server.start()
    except (TemplateError, ApiKeyError, OSError) as error:
        print(f"localserver: {error}", file=sys.stderr)
        return 2
    try:
        print(_banner(server), file=sys.stderr, flush=True)
        while not stopping.wait(0.5):
            pass
        print("Stopping...", file=sys.stderr, flush=True)
    finally:
        server.stop()
    print("Stopped.", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
