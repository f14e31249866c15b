"""The Pillow layer's build: `sam build` runs layers/pillow/Makefile for it, which installs the
wheels of the template's Architecture and compiles their bytecode ahead (Lambda's /opt is
read-only: without the bytecode, Pillow is compiled again on every cold start that renders).

The translated template keeps no Metadata, so the build's settings are read from the SAM template
with the Architecture substituted, as `sam build` reads them. The Makefile is checked with
`make -n` (what it would run), as `sam build` calls it: no download here.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "pillow"
# pip takes wheels of exactly the platforms named: the layer's wheels are manylinux_2_28, but
# pillow-jxl-plugin's manylinux_2_17 (both within Lambda's glibc 2.34).
WHEEL_PLATFORMS = {
    "x86_64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64"],
    "arm64": ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64"],
}


def _sam() -> dict[str, Any]:
    return cfn_yaml.load(str(ROOT / "template.yaml"))


def _architectures() -> list[str]:
    return list(_sam()["Parameters"]["Architecture"]["AllowedValues"])


def _substitute(value: Any, parameters: dict[str, str]) -> Any:
    """A metadata value with these parameters' Ref and Fn::Sub resolved (what `sam build` does)."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return parameters[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        for name, replacement in parameters.items():
            text = text.replace("${" + name + "}", replacement)
        assert "${" not in text, text
        return text
    return value


def _environment() -> dict[str, str]:
    """This process's environment without an ARCHITECTURE or PYTHON of its own, which make would
    take."""
    return {k: v for k, v in os.environ.items() if k not in {"ARCHITECTURE", "PYTHON"}}


def _commands(makefile: Path, artifacts: Path, *variables: str) -> list[list[str]]:
    """What `make build-PillowLayer` would run, as `sam build` calls it: the Makefile named, in
    the layer's folder, ARTIFACTS_DIR in the environment."""
    run = subprocess.run(
        ["make", "-n", "--makefile", str(makefile), "build-PillowLayer", *variables],
        cwd=LAYER,
        env={**_environment(), "ARTIFACTS_DIR": str(artifacts)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return [shlex.split(line) for line in run.stdout.replace("\\\n", " ").splitlines() if line]


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _check_build(commands: list[list[str]], artifacts: Path, architecture: str) -> None:
    python = artifacts / "python"  # Lambda puts a layer's python/ folder on sys.path
    installs = [c for c in commands if c[1:4] == ["-m", "pip", "install"]]
    compiles = [c for c in commands if c[1:3] == ["-m", "compileall"]]
    assert len(installs) == len(compiles) == 1, commands
    (install,), (compile_,) = installs, compiles
    assert commands.index(install) < commands.index(compile_)
    # the target's wheels, whatever the build machine, exactly those of the architecture's lock
    platforms = [install[i + 1] for i, word in enumerate(install) if word == "--platform"]
    assert platforms == WHEEL_PLATFORMS[architecture]
    assert "--only-binary=:all:" in install
    assert _option(install, "--python-version") == "3.13"
    assert _option(install, "--implementation") == "cp"
    assert Path(_option(install, "-r")).resolve() == LAYER / architecture / "requirements.lock"
    assert "--require-hashes" in install
    assert "--no-deps" in install
    assert Path(_option(install, "-t")) == python
    # the interpreter itself, not a pyenv shim (concurrent shims' rehashes fail), the runtime's
    # Python; it compiles every module of the layer, valid whatever the file times
    assert install[0] == compile_[0]
    assert Path(compile_[0]).is_absolute()
    assert "shims" not in Path(compile_[0]).parts
    assert Path(compile_[0]).name == "python3.13"
    assert _option(compile_, "--invalidation-mode") == "unchecked-hash"
    assert Path(compile_[-1]) == python
    # naming the sources as Lambda sees them, whatever the build's folder
    assert Path(_option(compile_, "-s")) == python
    assert _option(compile_, "-p") == "/opt/python"


def test_the_layer_is_built_by_its_makefile_for_each_architecture(tmp_path: Path) -> None:
    layer = _sam()["Resources"]["PillowLayer"]
    assert Path(layer["Properties"]["ContentUri"]).resolve() == LAYER
    for architecture in _architectures():
        parameters = {"Architecture": architecture}
        metadata = {k: _substitute(v, parameters) for k, v in layer["Metadata"].items()}
        assert metadata["BuildMethod"] == "makefile"
        assert metadata["BuildArchitecture"] == architecture
        # SAM passes a makefile build ARTIFACTS_DIR only: the Makefile it runs (ContextPath's)
        # is the one that knows the architecture
        makefile = ROOT / metadata["ContextPath"] / "Makefile"
        assert makefile.is_file(), makefile
        artifacts = tmp_path / architecture
        _check_build(_commands(makefile, artifacts), artifacts, architecture)


def test_run_directly_the_makefile_builds_for_this_machine(tmp_path: Path) -> None:
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
    architecture = machine.get(platform.machine().lower())
    if architecture is None:
        pytest.skip(f"no Lambda architecture for {platform.machine()}")
    commands = _commands(LAYER / "Makefile", tmp_path)
    _check_build(commands, tmp_path, architecture)


def test_an_unknown_architecture_stops_the_build(tmp_path: Path) -> None:
    run = subprocess.run(
        ["make", "-n", "build-PillowLayer", f"ARTIFACTS_DIR={tmp_path}", "ARCHITECTURE=sparc"],
        cwd=LAYER,
        env=_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode != 0
    assert 'unknown ARCHITECTURE "sparc"' in run.stderr
