"""The local server's SQS pollers: what concurrent batches save, and how long stopping takes.

    .venv/bin/python -m bench.localserver [--messages 8] [--work 0.5] [--concurrency 4]

On a template of its own (one queue whose function spends --work seconds on each message,
batch size 1, and one HTTP route, which a template needs), for --rounds rounds:

- drain: --messages messages sent at once, to the last one handled (``wait_for_queues_idle``),
  beside the same work done one batch at a time (messages x work);
- stop: ``LocalServer.stop()`` with --concurrency batches in the middle of their work and the
  receivers long-polling (stopping waits up to ``STOP_GRACE_S`` for running batches);
- process stop: SIGINT to exit of ``python -m localserver`` on the same template, its pollers
  running.

The tests check what these do (batches run at once up to the bound, stopping leaves nothing
running); how fast is a property of the machine as much as of the server, so it is measured
here instead.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import boto3

from localserver import LocalServer

ROOT = Path(__file__).resolve().parents[1]

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31

Globals:
  Function:
    Runtime: python3.13
    CodeUri: src/
    Timeout: 30

Resources:
  WorkQueue:
    Type: AWS::SQS::Queue
  PingFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: benchsqs.app.ping
      Events:
        Ping: {{Type: HttpApi, Properties: {{Method: GET, Path: /ping}}}}
  WorkFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: benchsqs.app.work
      Environment:
        Variables:
          BENCH_WORK_S: "{work}"
      Events:
        Work:
          Type: SQS
          Properties: {{Queue: !GetAtt WorkQueue.Arn, BatchSize: 1}}
"""

HANDLERS = """\
import os
import threading
import time

LOCK = threading.Lock()
ACTIVE = [0]


def ping(event, context):
    return {"statusCode": 200, "body": "pong"}


def work(event, context):
    with LOCK:
        ACTIVE[0] += 1
    try:
        time.sleep(float(os.environ["BENCH_WORK_S"]))
    finally:
        with LOCK:
            ACTIVE[0] -= 1
"""


def write_app(directory: Path, work: float) -> Path:
    package = directory / "src" / "benchsqs"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(textwrap.dedent(HANDLERS))
    template = directory / "template.yaml"
    template.write_text(TEMPLATE.format(work=work))
    return template


def send(server: LocalServer, count: int) -> None:
    sqs = boto3.client("sqs", endpoint_url=server.aws_endpoint, region_name=server.region)
    url = server.resources["WorkQueue"].ref
    for start in range(0, count, 10):
        chunk = range(start, min(count, start + 10))
        entries = [{"Id": str(i), "MessageBody": f"m{i}"} for i in chunk]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the pollers did not start the batches")
        time.sleep(0.01)


def drain_and_stop(template: Path, args: argparse.Namespace) -> tuple[float, float]:
    """Seconds to handle --messages messages, and seconds ``stop()`` took with batches running."""
    with LocalServer(template, sqs_concurrency=args.concurrency) as server:
        server.wait_for_queues_idle(30)
        started = time.perf_counter()
        send(server, args.messages)
        server.wait_for_queues_idle(600)
        drain = time.perf_counter() - started

        active = sys.modules["benchsqs.app"].ACTIVE
        send(server, 2 * args.concurrency)
        wait_until(lambda: active[0] == args.concurrency)
        started = time.perf_counter()
        server.stop()
        return drain, time.perf_counter() - started


def process_stop(template: Path) -> float:
    """Seconds from SIGINT to the exit of ``python -m localserver`` with its pollers running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "localserver", "--port", "0", "--template", str(template)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PROGIMAGE_LOCAL_AWS": ""},
    )
    assert process.stderr is not None
    try:
        for line in process.stderr:
            if re.search(r"Press Ctrl-C to stop", line):
                break
        else:
            raise RuntimeError(f"python -m localserver exited with {process.wait()}")
        # Keep reading, so that the server never blocks on a full pipe.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        started = time.perf_counter()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        return time.perf_counter() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def row(name: str, values: list[float], reference: str) -> str:
    return (
        f"| {name} | {statistics.median(values):.2f} s | {min(values):.2f} s | "
        f"{max(values):.2f} s | {reference} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=8, help="messages to drain")
    parser.add_argument("--work", type=float, default=0.5, help="seconds of work per message")
    parser.add_argument("--concurrency", type=int, default=4, help="batches at once")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each measure")
    args = parser.parse_args()
    drains, stops, process_stops = [], [], []
    with tempfile.TemporaryDirectory() as directory:
        template = write_app(Path(directory), args.work)
        for _ in range(args.rounds):
            drain, stop = drain_and_stop(template, args)
            drains.append(drain)
            stops.append(stop)
            process_stops.append(process_stop(template))
    serial = args.messages * args.work
    print(f"{args.messages} messages of {args.work:g} s, {args.concurrency} batches at once")
    print("| measure | median | min | max | beside |")
    print("|---|--:|--:|--:|---|")
    print(row("drain", drains, f"{serial:.2f} s one batch at a time"))
    print(row("stop with batches running", stops, f"{args.work:g} s of work per batch"))
    print(row("process stop (SIGINT)", process_stops, "it looks for a signal every 0.5 s"))
    print(f"drain speedup over one batch at a time: {serial / statistics.median(drains):.2f}x")


if __name__ == "__main__":
    main()
