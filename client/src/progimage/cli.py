"""The ``progimage`` command: upload, fetch, transform, inspect and delete images from a shell.

Run ``progimage --help`` (and ``progimage COMMAND --help``). The service's URL and API key come
from ``--url``/``--api-key`` or the environment variables ``PROGIMAGE_URL`` and
``PROGIMAGE_API_KEY``; a tenant's URL signing key from ``--signing-key``/``--tenant`` or
``PROGIMAGE_SIGNING_KEY``/``PROGIMAGE_TENANT``. A stage deployed in IAM mode takes ``--iam``
(or ``PROGIMAGE_IAM=1``) instead of an API key: requests are signed with SigV4 and the standard
AWS credentials (``pip install 'progimage[iam]'``). ``--json`` prints machine-readable output on
stdout, errors included, as ``{"error": {"code", "message", ...}}`` with the server's snake_case
codes. ``progimage signing-key TENANT`` is for operators: it derives a
tenant's signing key from the server's master key, and needs no service.

Exit codes (see :data:`EXIT_CODES`): 0 success; 1 usage error; 2 not found (an image, a job, a
preset or a local file); 3 invalid input (a bad pipeline, not an image, too large, rejected); 4
server or network error (5xx, throttled, unreachable, timed out, not ready); 5 not authorised
(401/403); 130 interrupted. When several items fail, the exit code is that of the first failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import EllipsisType
from typing import IO, Any, NoReturn

import httpx

from . import errors
from ._base import Item, infer_format
from ._client import ProgImage
from ._sources import is_url
from ._version import __version__
from .models import BatchResult, ImageRecord, Job, Preset, UploadResult
from .signing import check_tenant, tenant_key

__all__ = ["EXIT_CODES", "exit_code", "main"]

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_NOT_FOUND = 2
EXIT_INVALID = 3
EXIT_SERVER = 4
EXIT_AUTH = 5
EXIT_INTERRUPTED = 130

MASTER_KEY_ENV = "PROGIMAGE_SIGNING_MASTER_KEY"
IAM_ENV = "PROGIMAGE_IAM"

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_USAGE: "usage error: bad arguments or options, or no service URL",
    EXIT_NOT_FOUND: "not found: an image, a job, a preset or a local file",
    EXIT_INVALID: "invalid input: a bad pipeline, not an image, too large, rejected, failed items",
    EXIT_SERVER: "server or network error: 5xx, throttled, unreachable, timed out, not ready",
    EXIT_AUTH: "not authorised: a missing or wrong API key or signature (401, 403)",
    EXIT_INTERRUPTED: "interrupted",
}


class UsageError(Exception):
    """Bad command-line usage (exit code 1)."""


def exit_code(error: BaseException) -> int:
    """The exit code for an error (the codes above)."""
    if isinstance(error, (errors.NotFound, FileNotFoundError)):
        return EXIT_NOT_FOUND
    if isinstance(error, (errors.Unauthorized, errors.Forbidden)):
        return EXIT_AUTH
    invalid = (
        errors.BadRequest,
        errors.TooLarge,
        errors.UnsupportedMediaType,
        errors.Unprocessable,
    )
    if isinstance(error, invalid):
        return EXIT_INVALID
    if isinstance(error, errors.ProgImageError):  # 5xx, 429, 409, network, waiting too long
        return EXIT_SERVER
    if isinstance(error, UsageError):
        return EXIT_USAGE
    if isinstance(error, (ValueError, TypeError, OSError)):  # local input: a bad file, argument
        return EXIT_INVALID
    return EXIT_SERVER


# --- output -------------------------------------------------------------------------------


class Output:
    """Where results and messages go: stdout for results, stderr for messages and progress."""

    def __init__(self, *, as_json: bool, quiet: bool) -> None:
        self.as_json = as_json
        self.quiet = quiet

    @property
    def out(self) -> IO[str]:
        return sys.stdout

    @property
    def err(self) -> IO[str]:
        return sys.stderr

    def json(self, value: Any) -> None:
        json.dump(value, self.out, indent=2, default=str)
        self.out.write("\n")

    def line(self, text: str) -> None:
        self.out.write(text + "\n")

    def message(self, text: str) -> None:
        if not self.quiet:
            self.err.write(text + "\n")

    def error(self, text: str) -> None:
        self.err.write(f"progimage: {text}\n")


class ProgressBar:
    """A one-line progress bar on stderr: ``[#########.........]  12/40  a.jpg``."""

    WIDTH = 30

    def __init__(self, total: int, stream: IO[str], label: str = "") -> None:
        self.total = total
        self.stream = stream
        self.label = label
        self.started = time.monotonic()
        self._last = ""

    def update(self, done: int, note: str = "") -> None:
        filled = round(self.WIDTH * done / self.total) if self.total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.started
        text = f"{self.label}[{bar}] {done}/{self.total} {elapsed:5.1f}s {note}"[:100]
        self.stream.write("\r" + text.ljust(len(self._last)))
        self.stream.flush()
        self._last = text

    def close(self) -> None:
        if self._last:
            self.stream.write("\n")
            self.stream.flush()


def _show_progress(args: argparse.Namespace, total: int) -> bool:
    if args.progress is not None:
        return bool(args.progress)
    return total > 1 and not args.quiet and not args.json and sys.stderr.isatty()


def _record_line(record: ImageRecord) -> str:
    size = f"{record.width}x{record.height}" if record.width is not None else "-"
    created = record.created_at.strftime("%Y-%m-%d %H:%M:%S") if record.created_at else "-"
    return (
        f"{record.id}  {record.status:<8}  {(record.format or '-'):<5}  {size:>11}  "
        f"{record.bytes if record.bytes is not None else '-':>10}  {created}"
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, errors.ProgImageError):
        return str(error)
    if isinstance(error, OSError) and error.filename:
        return f"{error.strerror or error}: {error.filename}"
    return str(error) or type(error).__name__


# --- commands -----------------------------------------------------------------------------


def _write_binary(data: bytes, dest: str | None, out: Output) -> None:
    if dest in (None, "-"):
        if dest is None and sys.stdout.isatty():
            raise UsageError("refusing to write image bytes to a terminal: use -o FILE (or -o -)")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        Path(dest).write_bytes(data)


def cmd_upload(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    sources: list[str] = args.sources
    if args.eager and args.presigned:
        raise UsageError("--eager needs direct uploads: not allowed with --presigned")
    bar = (
        ProgressBar(len(sources), out.err, "uploading ")
        if _show_progress(args, len(sources))
        else None
    )

    def progress(done: int, total: int, result: UploadResult) -> None:
        if bar is not None:
            bar.update(done, Path(result.source).name)

    try:
        results = client.upload_many(
            sources,
            concurrency=args.concurrency,
            on_progress=progress,
            presigned=args.presigned,
            wait=not args.no_wait,
            dedupe=args.dedupe,
            eager=args.eager,
        )
    finally:
        if bar is not None:
            bar.close()
    failures = [r for r in results if not r.ok]
    if out.as_json:
        out.json([r.to_dict() for r in results])
    else:
        for result in results:
            if result.image is not None:
                job = f"  eager job {result.eager_job}" if result.eager_job else ""
                out.line(f"{result.image.id}  {result.source}{job}")
    for result in failures:
        assert result.error is not None
        out.error(f"{result.source}: {_describe(result.error)}")
    if failures:
        assert failures[0].error is not None
        return exit_code(failures[0].error)
    return EXIT_OK


def cmd_get(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    fmt = args.format
    if args.output not in (None, "-"):
        path = client.download(args.id, args.output, args.pipeline, format=fmt)
        out.message(f"wrote {path}")
        if out.as_json:
            out.json({"id": args.id, "path": str(path), "bytes": path.stat().st_size})
        return EXIT_OK
    _write_binary(client.get(args.id, args.pipeline, format=fmt), args.output, out)
    return EXIT_OK


def _transform_source(text: str) -> Any:
    if is_url(text):
        return text
    path = Path(text)
    if path.is_file():
        return path
    if os.sep in text or "/" in text or "." in text:
        raise FileNotFoundError(2, "No such file", text)
    return text  # an image id


def cmd_transform(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    source = _transform_source(args.source)
    fmt = args.format
    if fmt is None and args.output not in (None, "-"):
        from .pipeline import split_pipeline

        if split_pipeline(args.pipeline)[1] is None:
            fmt = infer_format(args.output)
    if args.store:
        record = client.transform(source, args.pipeline, format=fmt, store=True)
        if out.as_json:
            out.json(record.to_dict())
        else:
            out.line(record.id)
        return EXIT_OK
    data = client.transform(source, args.pipeline, format=fmt)
    _write_binary(data, args.output, out)
    if args.output not in (None, "-"):
        out.message(f"wrote {args.output} ({len(data)} bytes)")
        if out.as_json:
            out.json({"path": args.output, "bytes": len(data)})
    return EXIT_OK


def cmd_info(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    record = client.info(args.id)
    if out.as_json:
        out.json(record.to_dict())
        return EXIT_OK
    for key, value in record.to_dict().items():
        out.line(f"{key + ':':<14}{value}")
    return EXIT_OK


def cmd_ls(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    records = client.list(page_size=args.page_size, limit=args.limit, tag=args.tag)
    if out.as_json:
        out.json([record.to_dict() for record in records])
        return EXIT_OK
    for record in records:
        out.line(_record_line(record))
    return EXIT_OK


def cmd_patch(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    metadata = None
    if args.meta is not None:
        metadata = {}
        for pair in args.meta:
            key, sep, value = pair.partition("=")
            if not sep:
                raise UsageError(f"--meta takes KEY=VALUE, got {pair!r}")
            metadata[key] = value
    focal: tuple[float, float] | EllipsisType | None = ...
    if args.no_focal:
        focal = None
    elif args.focal is not None:
        focal = args.focal
    record = client.patch(args.id, tags=args.tags, metadata=metadata, focal_point=focal)
    if out.as_json:
        out.json(record.to_dict())
    else:
        out.line(f"{record.id}  tags: {' '.join(record.tags) or '-'}")
    return EXIT_OK


def cmd_similar(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    records = client.similar(args.id, args.distance, limit=args.limit)
    if out.as_json:
        out.json([record.to_dict() for record in records])
        return EXIT_OK
    for record in records:
        out.line(f"{record.distance:>2}  {_record_line(record)}")
    return EXIT_OK


def _focal(text: str) -> tuple[float, float]:
    x, sep, y = text.partition(",")
    try:
        point = (float(x), float(y))
    except ValueError:
        point = (-1.0, -1.0)
    if not sep or not all(0 <= v <= 1 for v in point):
        raise argparse.ArgumentTypeError(f"expected X,Y between 0 and 1, got {text!r}")
    return point


def cmd_rm(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    results: list[dict[str, Any]] = []
    first_error: BaseException | None = None
    for image_id in args.ids:
        try:
            client.delete(image_id)
        except errors.ProgImageError as error:
            first_error = first_error or error
            results.append({"id": image_id, "deleted": False, "error": errors.error_dict(error)})
            out.error(f"{image_id}: {_describe(error)}")
        else:
            results.append({"id": image_id, "deleted": True})
            if not out.as_json:
                out.line(f"deleted {image_id}")
    if out.as_json:
        out.json(results)
    return exit_code(first_error) if first_error else EXIT_OK


def cmd_url(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    url = client.url(args.id, args.pipeline, format=args.format, expires_in=args.expires_in)
    if out.as_json:
        out.json({"url": url})
    else:
        out.line(url)
    return EXIT_OK


def _master_key() -> str:
    """The server's newest URL signing master key, from ``PROGIMAGE_SIGNING_MASTER_KEY`` or
    else the first line of stdin, given as the server's secret holds the keys (comma-separated,
    the newest first: the one the server signs with)."""
    text = os.environ.get(MASTER_KEY_ENV)
    if not text:
        if sys.stdin.isatty():
            raise UsageError(f"set {MASTER_KEY_ENV}, or give the master key on stdin")
        text = sys.stdin.readline()
    keys = [key.strip() for key in text.split(",") if key.strip()]
    if not keys:
        raise UsageError("the master key is empty")
    return keys[0]


def cmd_signing_key(args: argparse.Namespace, out: Output) -> int:
    key = tenant_key(_master_key(), args.tenant_name)
    if out.as_json:
        out.json({"tenant": args.tenant_name, "signing_key": key})
    else:
        out.line(key)
    return EXIT_OK


def _job_line(job: Job) -> str:
    return (
        f"{job.job_id}  {job.status}  {job.completed}/{job.total} "
        f"({job.succeeded} succeeded, {job.failed} failed)"
    )


def _read_items(args: argparse.Namespace) -> list[Any]:
    if args.items is not None:
        if args.ids:
            raise UsageError("give image ids or --items FILE, not both")
        text = sys.stdin.read() if args.items == "-" else Path(args.items).read_text()
        try:
            data = json.loads(text)
        except ValueError as error:
            raise UsageError(f"--items: not JSON: {error}") from None
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise UsageError('--items: expected a JSON list of items or {"items": [...]}')
        return items
    if not args.ids:
        raise UsageError("give image ids (with --ops/--format), or --items FILE")
    if args.ops is None and args.format is None:
        raise UsageError("give --ops PIPELINE and/or --format FORMAT for the items")
    return [Item(i, args.ops, format=args.format, store=args.store) for i in args.ids]


def _wait(client: ProgImage, job: Job, args: argparse.Namespace, out: Output) -> Job:
    bar = ProgressBar(job.total, out.err, "job ") if _show_progress(args, job.total) else None

    def progress(current: Job) -> None:
        if bar is not None:
            bar.update(current.completed, current.status)

    try:
        return client.wait_for_job(job.job_id, timeout=args.timeout_wait, on_progress=progress)
    finally:
        if bar is not None:
            bar.close()


def _job_exit(job: Job, waited: bool) -> int:
    return EXIT_INVALID if waited and job.failed else EXIT_OK


def cmd_job_submit(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    job = client.submit_job(_read_items(args))
    if args.wait:
        out.message(f"submitted {job.job_id} ({job.total} items)")
        job = _wait(client, job, args, out)
    if out.as_json:
        out.json(job.to_dict())
    else:
        out.line(job.job_id if not args.wait else _job_line(job))
    return _job_exit(job, args.wait)


def cmd_job_status(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    job = client.job(args.job_id)
    if args.wait and not job.done:
        job = _wait(client, job, args, out)
    if out.as_json:
        out.json(job.to_dict())
    else:
        out.line(_job_line(job))
    return _job_exit(job, args.wait)


def cmd_job_results(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    results: list[BatchResult] = list(client.job_results(args.job_id))
    if out.as_json:
        out.json([r.to_dict() for r in results])
        return EXIT_OK
    for result in results:
        if result.error is not None:
            what = f"{result.error.code}: {result.error.message}"
        elif result.image is not None:
            what = result.image.id
        else:
            what = result.url or ""
        out.line(f"{result.index}  {result.status}  {what}")
    return EXIT_OK


def _preset_line(preset: Preset) -> str:
    return f"{preset.name}  v{preset.version}  {preset.format or '-'}  {preset.ops}" + (
        "  eager" if preset.eager else ""
    )


def _show_preset(preset: Preset, out: Output) -> int:
    if out.as_json:
        out.json(preset.to_dict())
    else:
        out.line(_preset_line(preset))
    return EXIT_OK


def cmd_preset_save(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    preset = client.save_preset(args.name, args.ops, format=args.format, eager=args.eager)
    return _show_preset(preset, out)


def cmd_preset_show(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    preset = client.preset(args.name)
    if out.as_json:
        out.json(preset.to_dict())
        return EXIT_OK
    for key, value in preset.to_dict().items():
        out.line(f"{key + ':':<12}{value}")
    return EXIT_OK


def cmd_preset_ls(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    presets = client.presets()
    if out.as_json:
        out.json([preset.to_dict() for preset in presets])
        return EXIT_OK
    for preset in presets:
        out.line(_preset_line(preset))
    return EXIT_OK


def cmd_preset_rm(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    client.delete_preset(args.name)
    if out.as_json:
        out.json({"name": args.name, "deleted": True})
    else:
        out.line(f"deleted preset {args.name}")
    return EXIT_OK


# --- arguments ----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is exit code 1 (not 2, which means not found here)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _tenant(text: str) -> str:
    try:
        return check_tenant(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _names(text: str) -> list[str]:
    names = text.split(",")
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected NAME[,NAME...], got {text!r}")
    return names


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# Options accepted before or after the command; their defaults are filled in after parsing (a
# default given to argparse would let a subcommand's parser overwrite a value given before it).
_GLOBAL_DEFAULTS: dict[str, Any] = {
    "url": None,
    "api_key": None,
    "signing_key": None,
    "cdn_url": None,
    "tenant": None,
    "iam": False,
    "timeout": None,
    "retries": None,
    "json": False,
    "quiet": False,
    "progress": None,
}
OUTPUT_HELP = "file to write (its extension picks the format); - for stdout"


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and output")
    suppress = argparse.SUPPRESS
    group.add_argument("--url", default=suppress, help="the API's base URL (env PROGIMAGE_URL)")
    group.add_argument("--api-key", default=suppress, help="API key (env PROGIMAGE_API_KEY)")
    group.add_argument(
        "--cdn-url",
        default=suppress,
        help="the CDN's base URL, for image and variant downloads and URLs (env PROGIMAGE_CDN_URL)",
    )
    group.add_argument(
        "--signing-key",
        default=suppress,
        help="the tenant's URL signing key (env PROGIMAGE_SIGNING_KEY)",
    )
    group.add_argument(
        "--tenant",
        type=_tenant,
        default=suppress,
        help="the tenant the signing key is of (env PROGIMAGE_TENANT; default: default)",
    )
    group.add_argument(
        "--iam",
        action="store_true",
        default=suppress,
        help=f"sign requests with SigV4 and the AWS credentials, for a stage in IAM mode "
        f"(env {IAM_ENV}=1; needs pip install 'progimage[iam]')",
    )
    group.add_argument("--timeout", type=float, default=suppress, help="seconds per request")
    group.add_argument("--retries", type=int, default=suppress, help="retries per request")
    group.add_argument("--json", action="store_true", default=suppress, help="JSON output")
    group.add_argument("-q", "--quiet", action="store_true", default=suppress, help="no messages")
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=suppress,
        help="show a progress bar (default: for many items, on a terminal)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The ``progimage`` argument parser."""
    common = _common_options()
    epilog = "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())
    parser = _Parser(
        prog="progimage",
        description="Store, convert and transform images with ProgImage.",
        parents=[common],
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"progimage {__version__}")
    commands: Any = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    _image_commands(commands, common)
    job: argparse.ArgumentParser = commands.add_parser(
        "job", parents=[common], help="submit asynchronous jobs"
    )
    job.set_defaults(handler=_job_usage)
    _job_commands(job, common)
    preset: argparse.ArgumentParser = commands.add_parser(
        "preset", parents=[common], help="save, show, list and delete presets"
    )
    preset.set_defaults(handler=_preset_usage)
    _preset_commands(preset, common)
    return parser


def _image_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    def command(name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        sub.set_defaults(handler=handler)
        return sub

    p = command("upload", cmd_upload, "upload images (paths or http(s) URLs); prints their ids")
    _upload_options(p)

    p = command("get", cmd_get, "download an image, converted or transformed")
    p.add_argument("id")
    p.add_argument("pipeline", nargs="?", help="optional pipeline, e.g. thumbnail:256")
    p.add_argument("-o", "--output", help=OUTPUT_HELP)
    p.add_argument("-f", "--format", help="output format (webp, png, jpg, avif, gif, tiff, bmp)")

    p = command("transform", cmd_transform, "transform a stored image, a local file or a URL")
    p.add_argument("source", help="an image id, a local file or an http(s) URL")
    p.add_argument("pipeline", help='e.g. "resize:256:256/grayscale"')
    p.add_argument("-o", "--output", help=OUTPUT_HELP)
    p.add_argument("-f", "--format", help="output format")
    p.add_argument("--store", action="store_true", help="store the result; prints its id")

    p = command("info", cmd_info, "show an image's record")
    p.add_argument("id")

    p = command("ls", cmd_ls, "list images, newest first")
    p.add_argument("-n", "--limit", type=_positive_int, help="at most this many")
    p.add_argument("--page-size", type=_positive_int, default=100, help="images per request")
    p.add_argument("--tag", help="only the images with this tag")

    p = command("patch", cmd_patch, "set an image's tags, metadata or focal point")
    p.add_argument("id")
    p.add_argument("--tags", nargs="*", metavar="TAG", help="replace the image's tags")
    p.add_argument("--meta", nargs="*", metavar="KEY=VALUE", help="replace its metadata")
    focal = p.add_mutually_exclusive_group()
    focal.add_argument("--focal", type=_focal, metavar="X,Y", help="focal point, 0..1 each")
    focal.add_argument("--no-focal", action="store_true", help="remove the focal point")

    p = command("similar", cmd_similar, "list near-duplicates of an image, nearest first")
    p.add_argument("id")
    p.add_argument("-d", "--distance", type=int, default=4, help="bits that may differ (0-8)")
    p.add_argument("-n", "--limit", type=_positive_int, help="at most this many")

    p = command("rm", cmd_rm, "delete images")
    p.add_argument("ids", nargs="+", metavar="ID")

    p = command("url", cmd_url, "print an image's URL (signed with a signing key)")
    p.add_argument("id")
    p.add_argument("pipeline", nargs="?", help="optional pipeline or format")
    p.add_argument("-f", "--format", help="output format")
    p.add_argument("--expires-in", type=float, help="seconds the signed URL stays valid")

    text = (
        f"print a tenant's URL signing key, derived from the server's master key ({MASTER_KEY_ENV}"
        ", or the first line of stdin); for operators, needs no service"
    )
    p = commands.add_parser("signing-key", parents=[common], help=text, description=text)
    p.add_argument("tenant_name", metavar="TENANT", type=_tenant, help="the tenant's name")
    p.set_defaults(offline=cmd_signing_key)


def _upload_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", metavar="PATH_OR_URL")
    p.add_argument("-j", "--concurrency", type=_positive_int, default=8, help="parallel uploads")
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--presigned", action="store_true", default=None, help="always upload via presigned URLs"
    )
    how.add_argument(
        "--direct", dest="presigned", action="store_false", help="never use presigned URLs"
    )
    how.add_argument(
        "--dedupe",
        action="store_true",
        help="for bytes the tenant already has, print that image's id instead of storing them "
        "again (direct uploads)",
    )
    p.add_argument(
        "--eager",
        type=_names,
        action="extend",
        default=[],
        metavar="NAME[,NAME...]",
        help="render these presets ahead through a job, whose id is printed (direct uploads)",
    )
    p.add_argument("--no-wait", action="store_true", help="do not wait for presigned ingest")


def _job_commands(job: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    jobs: Any = job.add_subparsers(dest="job_command", metavar="JOB_COMMAND")
    jobs.required = True

    def job_command(name: str, handler: Callable[..., int], text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = jobs.add_parser(
            name, parents=[common], help=text, description=text
        )
        sub.set_defaults(handler=handler)
        return sub

    p = job_command("submit", cmd_job_submit, "submit a job; prints its id")
    p.add_argument("ids", nargs="*", metavar="ID", help="stored images to transform")
    p.add_argument("--ops", help="the pipeline for every id")
    p.add_argument("-f", "--format", help="the output format for every id")
    p.add_argument("--store", action="store_true", help="store the results as new images")
    p.add_argument("--items", metavar="FILE", help="a JSON file of items (- for stdin)")
    p.add_argument("--wait", action="store_true", help="wait until the job is done")
    p.add_argument("--wait-timeout", dest="timeout_wait", type=float, help="seconds to wait")

    p = job_command("status", cmd_job_status, "show a job's progress")
    p.add_argument("job_id")
    p.add_argument("--wait", action="store_true", help="wait until the job is done")
    p.add_argument("--wait-timeout", dest="timeout_wait", type=float, help="seconds to wait")

    p = job_command("results", cmd_job_results, "list a job's results")
    p.add_argument("job_id")


def _job_usage(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    raise UsageError("job: give a JOB_COMMAND (submit, status, results)")


def _preset_commands(preset: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    presets: Any = preset.add_subparsers(dest="preset_command", metavar="PRESET_COMMAND")
    presets.required = True

    def preset_command(
        name: str, handler: Callable[..., int], text: str
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = presets.add_parser(
            name, parents=[common], help=text, description=text
        )
        sub.set_defaults(handler=handler)
        return sub

    text = "create or replace a preset, used in pipelines as preset:NAME"
    p = preset_command("save", cmd_preset_save, text)
    p.add_argument("name", metavar="NAME", help="1-64 of a-z 0-9 _ -")
    p.add_argument("ops", metavar="OPS", help='its pipeline, e.g. "resize:800:450:fill.webp"')
    p.add_argument("-f", "--format", help="its output format (auto: negotiated)")
    p.add_argument("--eager", action="store_true", help="render it for every new image")

    p = preset_command("show", cmd_preset_show, "show a preset")
    p.add_argument("name", metavar="NAME")

    preset_command("ls", cmd_preset_ls, "list the presets, by name")

    p = preset_command("rm", cmd_preset_rm, "delete a preset")
    p.add_argument("name", metavar="NAME")


def _preset_usage(client: ProgImage, args: argparse.Namespace, out: Output) -> int:
    raise UsageError("preset: give a PRESET_COMMAND (save, show, ls, rm)")


# --- entry point --------------------------------------------------------------------------


def _iam_auth(args: argparse.Namespace) -> httpx.Auth | None:
    """SigV4 signing for ``--iam`` (or ``PROGIMAGE_IAM=1``), else None."""
    if not (args.iam or os.environ.get(IAM_ENV, "").lower() in ("1", "true", "yes")):
        return None
    if args.api_key is not None:
        raise UsageError("give --api-key or --iam, not both")
    from .iam import SigV4Auth  # botocore: the iam extra

    return SigV4Auth()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    for name, value in _GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    out = Output(as_json=args.json, quiet=args.quiet)
    offline: Callable[[argparse.Namespace, Output], int] | None = getattr(args, "offline", None)
    try:
        if offline is not None:  # a command that needs no service
            return int(offline(args, out))
        options: dict[str, Any] = {}
        if args.timeout is not None:
            options["timeout"] = args.timeout
        if args.retries is not None:
            options["max_retries"] = args.retries
        try:
            client = ProgImage(
                args.url,
                args.api_key,
                signing_key=args.signing_key,
                tenant=args.tenant,
                auth=_iam_auth(args),
                cdn_url=args.cdn_url,
                **options,
            )
        except (ValueError, ImportError) as error:
            raise UsageError(str(error)) from None
        with client:
            return int(args.handler(client, args, out))
    except KeyboardInterrupt:
        out.error("interrupted")
        return EXIT_INTERRUPTED
    except UsageError as error:
        if out.as_json:
            out.json({"error": {"code": "usage_error", "message": str(error)}})
        out.error(str(error))
        return EXIT_USAGE
    except (errors.ProgImageError, OSError, ValueError, TypeError) as error:
        if out.as_json:
            out.json({"error": errors.error_dict(error)})
        out.error(_describe(error))
        return exit_code(error)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
