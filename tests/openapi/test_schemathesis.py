"""Schemathesis against the local server: the whole API, stateless and stateful, finds nothing.

The run is configured by openapi/schemathesis.toml (checks, phases, examples per operation, the
seed) with the hooks in openapi/schemathesis_hooks.py; the first test here keeps that
configuration from being quietly weakened. The server runs the template's authorizer with one
key, the one the configuration sends.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from localserver import LocalServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "openapi" / "schemathesis.toml"
API_KEY = "local-key"
TIME_LIMIT_S = 900  # a guard against a hung run, not a speed test: 1 to 3 minutes on two cores
CHECKS = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
}
PHASES = {"examples", "coverage", "fuzzing", "stateful"}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ROOT / "template.yaml", port=0, api_keys=[API_KEY]) as running:
        yield running


def config() -> dict[str, Any]:
    return tomllib.loads(CONFIG.read_text(encoding="utf-8"))


def test_the_configuration_runs_every_check_and_phase() -> None:
    settings = config()
    checks = settings["checks"]
    assert checks["enabled"] is False, "only the checks listed, each enabled"
    enabled = {name for name, value in checks.items() if isinstance(value, dict)}
    assert enabled == CHECKS
    assert all(checks[name] == {"enabled": True} for name in CHECKS)
    assert {name for name, value in settings["phases"].items() if value["enabled"]} == PHASES
    assert isinstance(settings["seed"], int)
    assert settings["auth"]["openapi"]["apiKey"]["bearer"] == API_KEY
    # The one tuning: 502 is the contract's answer for a remote source that fails.
    assert settings["operations"] == [
        {
            "include-operation-id": ["uploadImage", "transformImage"],
            "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502"]}},
        }
    ]


def test_the_served_document_is_the_repository_s(server: LocalServer) -> None:
    served = requests.get(f"{server.url}/openapi.json", timeout=10)
    assert served.status_code == 200
    document = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text(encoding="utf-8"))
    assert served.json() == document
    assert requests.get(f"{server.url}/docs", timeout=10).status_code == 200


def test_schemathesis_finds_nothing(server: LocalServer, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/openapi.json",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    started = time.monotonic()
    # The hooks' path in the configuration is relative to the repository's root.
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=TIME_LIMIT_S, check=False
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-30_000:]
    # Every phase ran, and the stateful one followed the document's links.
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ {phase}\b", output), f"{phase} did not pass:\n{output[-5_000:]}"
    links = re.search(r"API Links:\s+(\d+) covered", output)
    assert links and int(links.group(1)) >= 5, output[-5_000:]
    cases = re.search(r"(\d+) generated, (\d+) passed\n", output)
    assert cases and cases.group(1) == cases.group(2), output[-5_000:]
    print(f"schemathesis: {cases.group(0)}, {links.group(1)} links covered, {elapsed:.0f} s")
