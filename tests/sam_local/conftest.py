"""`sam local` runs what `sam build` produced, in the Lambda runtime image, against moto.

The functions run in containers of the Python 3.13 Lambda image (the real one, or the stand-in
that ``lambda-image/build.sh`` builds) with the code, the shared package and the Pillow layer
exactly as ``.aws-sam/build`` holds them. S3, DynamoDB and SQS are a moto server on 127.0.0.1,
with the resources that template.yaml declares; the containers share the host's network
(``--docker-network host``) and reach it through ``AWS_ENDPOINT_URL``.

These tests run only when pytest is pointed at this folder (``make test-sam-local``,
``pytest tests/sam_local`` or ``-m sam_local``); a plain ``pytest`` leaves them out. When Docker,
the image or the build is missing they fail, saying what to run, unless
``PROGIMAGE_SKIP_SAM_LOCAL=1`` is set, which makes them skip instead.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from localserver.environment import function_environment
from localserver.intrinsics import REGION, Resolver
from localserver.resources import LOCAL_CREDENTIALS, ProvisionContext, local_client, provision_all
from localserver.template import Template

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
EVENTS = ROOT / "events"
SAM_VENV = Path(os.environ.get("SAM_VENV", ROOT / ".venv-sam"))
SAM_PYTHON = SAM_VENV / "bin" / "python"
SAM_LOCAL = ROOT / "lambda-image" / "sam_local.py"
BUILD_DIR = ROOT / ".aws-sam" / "build"
BUILT_TEMPLATE = BUILD_DIR / "template.yaml"
LAMBDA_IMAGE = os.environ.get("LAMBDA_IMAGE", "public.ecr.aws/lambda/python:3.13-x86_64")
SKIP_VARIABLE = "PROGIMAGE_SKIP_SAM_LOCAL"
STACK_NAME = "progimage-local"  # the bucket name in events/ingest-sqs-s3.json is this stack's
EXAMPLE_KEY = "example-api-key"  # the key in events/authorizer-request.json
EXAMPLE_KEY_HASH = hashlib.sha256(EXAMPLE_KEY.encode()).hexdigest()
EXAMPLE_ID = "0Ojp8iUHJrV2bQ4mJmGpV1rNY"
EXAMPLE_JOB_ID = "0Ojp8iUHJrV2bQ4mJmGpV1rNZ"
INVOKE_TIMEOUT_S = 240
START_TIMEOUT_S = 300


TIMINGS: dict[str, float] = {}
"""Seconds spent in each kind of `sam local` call, shown at the end of the run."""

# ---------------------------------------------------------------------------- selection


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sam_local: runs `sam local` in Docker against the built artifact"
    )


def _targets_this_folder(config: pytest.Config) -> bool:
    markexpr = config.getoption("markexpr", "") or ""
    if re.search(r"(?<!not )\bsam_local\b", markexpr):
        return True
    for argument in config.args:
        path = Path(argument.split("::", 1)[0])
        path = (path if path.is_absolute() else Path(config.invocation_params.dir) / path).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if not ours:
        return
    for item in ours:
        item.add_marker(pytest.mark.sam_local)
    if not _targets_this_folder(config):
        config.hook.pytest_deselected(items=ours)
        items[:] = [item for item in items if item not in ours]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.section("sam local timings")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{seconds:7.1f}s  {what}")


# ---------------------------------------------------------------------------- prerequisites


def unavailable(reason: str) -> None:
    """Skip when asked to (PROGIMAGE_SKIP_SAM_LOCAL=1), otherwise fail: CI must run these."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"sam local: {reason} ({SKIP_VARIABLE}=1)")
    pytest.fail(
        f"sam local: {reason}. `make test-sam-local` prepares everything "
        f"(lambda-image/build.sh, sam build); set {SKIP_VARIABLE}=1 to skip these tests.",
        pytrace=False,
    )


def _newest_source_mtime() -> float:
    sources = [ROOT / "template.yaml"]
    for folder in (ROOT / "functions", ROOT / "layers"):
        sources += [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return max(p.stat().st_mtime for p in sources)


def check_prerequisites() -> None:
    if not SAM_PYTHON.exists():
        unavailable(f"the SAM CLI is not installed ({SAM_PYTHON}; `make sam-venv`)")
    if shutil.which("docker") is None:
        unavailable("the docker command is not installed")
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        unavailable(f"Docker does not answer: {info.stderr.strip()[-300:]}")
    image = subprocess.run(
        ["docker", "image", "inspect", LAMBDA_IMAGE], capture_output=True, check=False
    )
    if image.returncode != 0:
        unavailable(f"the runtime image {LAMBDA_IMAGE} is not there")
    if not BUILT_TEMPLATE.exists():
        unavailable("nothing is built (`sam build`)")
    if BUILT_TEMPLATE.stat().st_mtime < _newest_source_mtime():
        unavailable("the build is older than template.yaml or the code (`sam build`)")


# ---------------------------------------------------------------------------- answers


@dataclass
class Answer:
    """A function's result as `sam local` returned it, decoded."""

    payload: Any
    logs: str = ""

    @property
    def status(self) -> int:
        return int(self.payload["statusCode"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in (self.payload.get("headers") or {}).items()}

    @property
    def body(self) -> bytes:
        body = self.payload.get("body") or ""
        return base64.b64decode(body) if self.payload.get("isBase64Encoded") else body.encode()

    def json(self) -> Any:
        assert self.headers.get("content-type") == "application/json", self.describe()
        return json.loads(self.body)

    def image(self) -> Image.Image:
        assert self.payload.get("isBase64Encoded") is True, self.describe()
        return decode_image(self.body)

    def describe(self) -> str:
        shown = json.dumps(self.payload)[:1500] if self.payload is not None else "(none)"
        return f"payload: {shown}\n--- logs ---\n{self.logs[-6000:]}"


def decode_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def checked(payload: Any, logs: str) -> Answer:
    """A payload that is not an unhandled error (`sam local invoke` exits 0 on those too)."""
    answer = Answer(payload, logs)
    assert isinstance(payload, dict), answer.describe()
    assert "errorType" not in payload and "errorMessage" not in payload, answer.describe()
    return answer


def parse_payload(stdout: str) -> Any:
    text = stdout.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(text.splitlines()[-1])


# ---------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{log.read_text()[-6000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.5)
    raise AssertionError(f"not listening on {port} after {timeout}s:\n{log.read_text()[-6000:]}")


def _container_ids(log: Path) -> list[str]:
    return re.findall(r"SAM_CONTAINER_ID: ([0-9a-f]{12,64})", log.read_text(errors="replace"))


def stop(process: subprocess.Popen[bytes], log: Path) -> None:
    """Stop a `sam local start-*` process as Ctrl+C would, then the containers it started."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    leftover = [cid for cid in _container_ids(log) if _container_exists(cid)]
    if leftover:
        subprocess.run(["docker", "rm", "-f", *leftover], capture_output=True, check=False)


def _container_exists(container_id: str) -> bool:
    inspect = subprocess.run(
        ["docker", "container", "inspect", container_id], capture_output=True, check=False
    )
    return inspect.returncode == 0


# ---------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    """The moto server with the template's resources, and `sam local` pointed at it."""

    endpoint: str
    environment: dict[str, str]
    env_vars_file: Path
    workdir: Path
    timings: dict[str, float]

    @property
    def bucket(self) -> str:
        return self.environment["PROGIMAGE_BUCKET"]

    @property
    def table(self) -> str:
        return self.environment["PROGIMAGE_TABLE"]

    def client(self, service: str) -> Any:
        return local_client(service, self.endpoint)

    def sam_environment(self) -> dict[str, str]:
        """The SAM CLI's environment: dummy credentials (passed on to the containers) and the
        endpoint, which only the containers get (SAM_CONTAINER_ENV, see lambda-image/)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AWS_") and k not in {"SAM_CONTAINER_ENV"}
        }
        env |= {
            "SAM_CLI_TELEMETRY": "0",
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": LOCAL_CREDENTIALS["aws_session_token"],
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "SAM_CONTAINER_ENV": json.dumps(
                {
                    "AWS_ENDPOINT_URL": self.endpoint,
                    # The authorizer reads key entries from a secret when deployed; here, from
                    # its env.
                    "PROGIMAGE_API_KEY_HASHES": f"default:{EXAMPLE_KEY_HASH}",
                    # start-api runs without the authorizer, so no tenant reaches the functions:
                    # callers act as the default tenant, as in the local server's open mode.
                    "PROGIMAGE_OPEN_TENANT": "default",
                }
            ),
        }
        return env

    def sam_command(self, *arguments: str) -> list[str]:
        return [str(SAM_PYTHON), str(SAM_LOCAL), *arguments]

    def common_options(self) -> list[str]:
        return [
            "--template",
            str(BUILT_TEMPLATE),
            "--docker-network",
            "host",
            "--env-vars",
            str(self.env_vars_file),
            "--skip-pull-image",
        ]

    # -- events ------------------------------------------------------------------------

    def event(
        self, name: str, image_id: str | None = None, job_id: str | None = None
    ) -> dict[str, Any]:
        """A sample event from events/, naming real ids instead of the example ones."""
        text = (EVENTS / f"{name}.json").read_text()
        if image_id is not None:
            text = text.replace(EXAMPLE_ID, image_id)
        if job_id is not None:
            text = text.replace(EXAMPLE_JOB_ID, job_id)
        return json.loads(text)

    def write_event(self, name: str, event: dict[str, Any]) -> Path:
        path = self.workdir / "events" / f"{name}-{time.monotonic_ns()}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(event))
        return path

    # -- plain `sam local invoke` ----------------------------------------------------------

    def invoke(self, function: str, event: dict[str, Any], name: str = "event") -> Answer:
        """`sam local invoke FUNCTION -e EVENT`: one fresh container, as a developer runs it."""
        path = self.write_event(name, event)
        started = time.monotonic()
        done = subprocess.run(
            self.sam_command(
                "local", "invoke", function, "--event", str(path), *self.common_options()
            ),
            cwd=ROOT,
            env=self.sam_environment(),
            capture_output=True,
            text=True,
            timeout=INVOKE_TIMEOUT_S,
            check=False,
        )
        self.timings[f"sam local invoke {function} ({name})"] = time.monotonic() - started
        assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-6000:]}"
        try:
            payload = parse_payload(done.stdout)
        except (json.JSONDecodeError, IndexError):
            raise AssertionError(
                f"no JSON payload on stdout: {done.stdout[-2000:]!r}\n{done.stderr[-6000:]}"
            ) from None
        return checked(payload, done.stderr)

    # -- queues --------------------------------------------------------------------------

    def queue_url(self, logical_id: str) -> str:
        urls = self.client("sqs").list_queues().get("QueueUrls", [])
        (url,) = [u for u in urls if u.lower().endswith(f"-{logical_id.lower()}")]
        return url

    def receive(
        self, logical_id: str, wanted: int, match: str = "", timeout: float = 20
    ) -> list[dict[str, Any]]:
        """Messages from a queue whose body contains ``match``, as Lambda's SQS event records.

        Every message received is deleted; S3's test events and those not matching are dropped.
        """
        sqs = self.client("sqs")
        url = self.queue_url(logical_id)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(records) < wanted and time.monotonic() < deadline:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=1
            ).get("Messages", [])
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                if '"s3:TestEvent"' in message["Body"] or match not in message["Body"]:
                    continue
                records.append(
                    {
                        "messageId": message["MessageId"],
                        "receiptHandle": message["ReceiptHandle"],
                        "body": message["Body"],
                        "attributes": message.get("Attributes", {})
                        | {"ApproximateReceiveCount": "1"},
                        "messageAttributes": {},
                        "md5OfBody": message["MD5OfBody"],
                        "eventSource": "aws:sqs",
                        "eventSourceARN": arn,
                        "awsRegion": REGION,
                    }
                )
        assert len(records) >= wanted, f"{logical_id}: {len(records)} of {wanted} messages"
        return records


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    check_prerequisites()
    workdir = tmp_path_factory.mktemp("sam-local")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        template = Template.load(ROOT / "template.yaml")
        resolver = Resolver(template, resources={}, stack_name=STACK_NAME)
        provision_all(
            template,
            ProvisionContext(resolver=resolver, endpoint_url=endpoint, stack_name=STACK_NAME),
        )
        environment = function_environment(template.functions.values(), resolver)
        env_vars_file = workdir / "env-vars.json"
        # The template's variables for every function, with the local resources' names.
        env_vars_file.write_text(json.dumps({"Parameters": environment}, indent=2))
        yield Stack(endpoint, environment, env_vars_file, workdir, TIMINGS)
    finally:
        server.stop()


# ---------------------------------------------------------------------------- start-lambda


@dataclass
class LambdaService:
    """`sam local start-lambda`: the Lambda Invoke API, with one warm container per function."""

    stack: Stack
    url: str
    log: Path

    def invoke(self, function: str, event: dict[str, Any]) -> Answer:
        client = local_client("lambda", self.url)
        started = time.monotonic()
        response = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        elapsed = time.monotonic() - started
        key = f"start-lambda invoke {function}"
        self.stack.timings[key] = self.stack.timings.get(key, 0.0) + elapsed
        raw = response["Payload"].read()
        payload = json.loads(raw) if raw else None
        error = response.get("FunctionError")
        logs = self.log.read_text(errors="replace")[-6000:]
        answer = checked(payload, f"FunctionError: {error}\n{logs}" if error else logs)
        assert not error, answer.describe()
        return answer


@pytest.fixture(scope="session")
def lambda_service(stack: Stack) -> Iterator[LambdaService]:
    port = free_port()
    log = stack.workdir / "start-lambda.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            stack.sam_command(
                "local",
                "start-lambda",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--warm-containers",
                "EAGER",
                *stack.common_options(),
            ),
            cwd=ROOT,
            env=stack.sam_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log, START_TIMEOUT_S)
        stack.timings["sam local start-lambda: ready"] = time.monotonic() - started
        yield LambdaService(stack, f"http://127.0.0.1:{port}", log)
    finally:
        stop(process, log)


@pytest.fixture(scope="session")
def png_event(stack: Stack) -> dict[str, Any]:
    return stack.event("post-images-raw")


@pytest.fixture(scope="session")
def png_bytes(png_event: dict[str, Any]) -> bytes:
    return base64.b64decode(png_event["body"])


@pytest.fixture(scope="session")
def image_id(lambda_service: LambdaService, png_event: dict[str, Any]) -> str:
    """An image stored through UploadFunction, for the events that name one."""
    answer = lambda_service.invoke("UploadFunction", png_event)
    assert answer.status == 201, answer.describe()
    return str(answer.json()["id"])
