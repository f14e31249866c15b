"""Starting and stopping LocalServer leaves the process as it was."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import requests

from localserver import LocalServer, TemplateError

pytestmark = pytest.mark.e2e


def test_stop_restores_the_environment_and_sys_path(fixture_template: Path) -> None:
    environ, path = dict(os.environ), list(sys.path)
    with LocalServer(fixture_template) as server:
        assert os.environ["AWS_ENDPOINT_URL"] == server.aws_endpoint
        assert os.environ["FIXTURE_BUCKET"] == "progimage-local-bucket"
        url = server.url
    assert dict(os.environ) == environ
    assert sys.path == path
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/images/x", timeout=5)


def test_one_server_per_process(fixture_template: Path) -> None:
    with LocalServer(fixture_template), pytest.raises(RuntimeError, match="already running"):
        LocalServer(fixture_template).start()


def test_a_failed_start_cleans_up(fixture_template: Path, tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    (tmp_path / "src").symlink_to(fixture_template.parent / "src")
    broken.write_text(
        fixture_template.read_text().replace(
            "FIXTURE_NUMBER: 42", "FIXTURE_NUMBER: 42\n          FIXTURE_BUCKET: other"
        )
    )
    environ = dict(os.environ)
    with pytest.raises(TemplateError, match="FIXTURE_BUCKET"):
        LocalServer(broken).start()
    assert dict(os.environ) == environ
    with LocalServer(fixture_template) as server:  # nothing left running or locked
        assert requests.get(f"{server.url}/env", timeout=10).status_code == 200


def test_the_template_must_have_routes(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text("Resources: {B: {Type: AWS::S3::Bucket}}")
    with pytest.raises(TemplateError, match="no HttpApi events"):
        LocalServer(tmp_path / "template.yaml").start()
