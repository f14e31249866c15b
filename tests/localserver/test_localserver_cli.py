"""``python -m localserver`` as a process: it starts, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import requests

from localserver import LocalServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


class CliProcess:
    """``python -m localserver`` in a child process, its output collected line by line."""

    def __init__(self, *arguments: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localserver", *arguments],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env or {**os.environ, "PROGIMAGE_LOCAL_AWS": ""},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str) -> re.Match[str]:
        """The first line from now on that matches ``pattern``."""
        while True:
            try:
                line = self.lines.get(timeout=30)
            except queue.Empty:
                output = "".join(self.seen)
                pytest.fail(f"no output matching {pattern!r}; got:\n{output}")
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self._pump.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def cli() -> Iterator[Callable[..., CliProcess]]:
    """Start ``python -m localserver`` with arguments; every process is ended afterwards."""
    started: list[CliProcess] = []

    def start(*arguments: str, env: dict[str, str] | None = None) -> CliProcess:
        started.append(CliProcess(*arguments, env=env))
        return started[-1]

    yield start
    for process in started:
        process.close()


def test_serves_and_stops_on_sigterm(
    cli: Callable[..., CliProcess], fixture_template: Path
) -> None:
    server = cli("--port", "0", "--template", str(fixture_template))
    url = server.wait_for(r"ProgImage local server: (http://\S+)").group(1)
    server.wait_for(r"Press Ctrl-C to stop")
    output = "".join(server.seen)
    assert "moto at http://127.0.0.1:" in output
    assert "lost when the server stops" in output
    assert "GET /images/{id}/{pipeline+}" in output

    assert requests.get(f"{url}/images/abc", timeout=10).status_code == 200
    server.wait_for(r"GET /images/abc -> 200 in [\d.]+ ms \[GET /images/\{id\} -> Echo")

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    server.wait_for(r"Stopped\.")


def test_a_bad_template_exits_with_a_message(
    cli: Callable[..., CliProcess], tmp_path: Path
) -> None:
    (tmp_path / "template.yaml").write_text("Resources: {F: {Type: AWS::Serverless::Function}}")
    process = cli("--port", "0", "--template", str(tmp_path / "template.yaml"))
    assert process.process.wait(timeout=30) == 2
    process.wait_for(r"localserver: function F: Handler must look like")


def test_aws_mode_creates_nothing_and_uses_the_environment(
    cli: Callable[..., CliProcess], fixture_template: Path, server: LocalServer
) -> None:
    """With PROGIMAGE_LOCAL_AWS=1 the process uses the endpoint and names it is given.

    The "remote" AWS here is the moto server of this test session's own LocalServer.
    """
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PROGIMAGE_LOCAL_AWS": "1",
        "AWS_ENDPOINT_URL": str(server.aws_endpoint),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **{name: value for name, value in server.environment.items() if name != "FIXTURE_NUMBER"},
    }
    process = cli("--port", "0", "--template", str(fixture_template), env=env)
    url = process.wait_for(r"ProgImage local server: (http://\S+)").group(1)
    process.wait_for(r"nothing was created")

    served_env = requests.get(f"{url}/env", timeout=10).json()
    assert served_env["FIXTURE_BUCKET"] == server.environment["FIXTURE_BUCKET"]
    assert served_env["FIXTURE_NUMBER"] == "42"  # not in the environment: from the template
    assert served_env["AWS_ENDPOINT_URL"] == server.aws_endpoint

    response = requests.put(f"{url}/objects/from-aws-mode", data=b"hi", timeout=10)
    assert response.status_code == 201
    s3 = boto3.client(
        "s3",
        endpoint_url=server.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = server.environment["FIXTURE_BUCKET"]
    assert s3.get_object(Bucket=bucket, Key="from-aws-mode")["Body"].read() == b"hi"


def test_polls_queues_and_stops_on_sigint(
    cli: Callable[..., CliProcess], sqs_template: Path
) -> None:
    server = cli(
        "--port", "0", "--template", str(sqs_template), "--sqs-concurrency", "3"
    )  # fmt: skip
    moto = server.wait_for(r"moto at (http://\S+)").group(1)
    # In template order; MaximumConcurrency: 2 bounds --sqs-concurrency.
    server.wait_for(r"SQS JobsQueue -> JobWorkerFunction \(batch 10, item failures, 2 concurrent\)")
    server.wait_for(r"SQS SlowQueue -> SlowFunction \(batch 1, 3 concurrent\)")
    server.wait_for(r"Press Ctrl-C to stop")
    sqs = boto3.client(
        "sqs",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    url = sqs.get_queue_url(QueueName="progimage-local-plainqueue")["QueueUrl"]
    entries = [{"Id": str(i), "MessageBody": f"from the command line {i}"} for i in range(2)]
    sqs.send_message_batch(QueueUrl=url, Entries=entries)  # a full batch of the Plain event
    server.wait_for(r"SQS progimage-local-plainqueue -> 2 messages, 0 failed in [\d.]+ ms \[Plain")

    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=30) == 0  # the pollers stopped and the process exited
    server.wait_for(r"Stopped\.")
