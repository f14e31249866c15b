"""lambda-image/build.sh decides between the image that is there, a pull and a build; each case
is run here with stand-ins for `docker` and `id` on PATH (the pull cannot be tried for real on a
machine without a registry, and the build needs root and minutes)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "lambda-image" / "build.sh"


def _run(
    tmp_path: Path, *, answers: bool, has_image: bool, pullable: bool, uid: int
) -> tuple[int, str, str]:
    """build.sh with a fake docker (which logs its calls) and a fake uid."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fakes = {
        "docker": f"""#!/bin/sh
echo "$*" >> {calls}
case "$1 $2" in
    "info "*) exit {0 if answers else 1} ;;
    "image inspect") exit {0 if has_image else 1} ;;
    "pull "*) exit {0 if pullable else 1} ;;
    "tag "*) exit 0 ;;
esac
exit 3
""",
        "id": f"#!/bin/sh\necho {uid}\n",
    }
    for name, text in fakes.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    run = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return run.returncode, run.stderr, calls.read_text() if calls.exists() else ""


def test_an_image_that_is_there_is_used(tmp_path: Path) -> None:
    status, _, calls = _run(tmp_path, answers=True, has_image=True, pullable=False, uid=1000)
    assert status == 0
    assert "pull" not in calls


@pytest.mark.parametrize("uid", [0, 1000])
def test_a_missing_image_is_pulled_without_root(tmp_path: Path, uid: int) -> None:
    status, log, calls = _run(tmp_path, answers=True, has_image=False, pullable=True, uid=uid)
    assert status == 0, log
    assert "pull --quiet public.ecr.aws/lambda/python:3.13-x86_64" in calls
    assert "tag public.ecr.aws/lambda/python:3.13-x86_64 public.ecr.aws/lambda/python:3.13" in calls
    assert "debootstrap" not in log


def test_without_root_an_image_that_cannot_be_pulled_stops_naming_the_ways_out(
    tmp_path: Path,
) -> None:
    status, log, _ = _run(tmp_path, answers=True, has_image=False, pullable=False, uid=1000)
    assert status == 1
    (error,) = [line for line in log.splitlines() if "error:" in line]
    assert "pullable" in error and "as root" in error, error


def test_without_root_a_docker_that_does_not_answer_stops_saying_what_to_start(
    tmp_path: Path,
) -> None:
    status, log, calls = _run(tmp_path, answers=False, has_image=False, pullable=False, uid=1000)
    assert status == 1
    (error,) = [line for line in log.splitlines() if "error:" in line]
    assert "Docker does not answer" in error and "as root" in error, error
    assert "pull" not in calls
