"""X-Ray tracing, switched by the template's Tracing parameter (PROGIMAGE_TRACING).

Each case runs a fresh interpreter set up as Lambda sets up a traced function (its trace header
and the X-Ray daemon's address, here a UDP socket of the test's), so what the tracer sends is
what the daemon would receive.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
SCRIPT = """
import sys
from auth.app import handler
from progimage_service import observability

def work(event, context):
    with observability.segment("render"):
        return 1

handler({"routeKey": "POST /jobs", "headers": {"authorization": "Bearer x"}}, None)
observability.traced(work)({}, None)
print("aws_lambda_powertools" in sys.modules)
"""


def _run(tracing: str) -> tuple[bool, list[str]]:
    """Powertools imported?, and the names of the (sub)segments the daemon received."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        env = os.environ | {
            "PROGIMAGE_TRACING": tracing,
            "AWS_LAMBDA_FUNCTION_NAME": "progimage-authorizer",
            "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
            "PROGIMAGE_API_KEY_HASHES": "alpha:" + "0" * 64,
            "PYTHONPATH": str(ROOT / "functions"),
        }
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
        )
        daemon.settimeout(0.5)  # the tracer sends before the interpreter exits
        names = []
        while True:
            try:
                datagram = daemon.recv(65536)
            except TimeoutError:
                break
            names.append(json.loads(datagram.split(b"\n", 1)[1])["name"])
    return done.stdout.strip().splitlines()[-1] == "True", names


def test_tracing_on_records_each_entry_point_and_the_render() -> None:
    imported, names = _run("true")
    assert imported
    assert sorted(names) == ["## authorize", "## work", "render"]


@pytest.mark.parametrize("tracing", ["false", ""])
def test_tracing_off_sends_nothing_and_imports_no_powertools(tracing: str) -> None:
    assert _run(tracing) == (False, [])
