"""bench.coldstart's check of whether a module was loaded from its bytecode, on modules imported
here from a temporary folder: with no bytecode, with bytecode the import system accepts (both
invalidation modes the builds could leave) and with bytecode it must refuse."""

from __future__ import annotations

import compileall
import importlib
import os
import py_compile
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.coldstart import from_bytecode


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # as in Lambda: nothing written back
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("coldstart_probe_")]:
        del sys.modules[name]


def _module(folder: Path, name: str, mode: py_compile.PycInvalidationMode | None):
    source = folder / f"{name}.py"
    source.write_text("VALUE = 1\n")
    if mode is not None:
        assert compileall.compile_file(str(source), quiet=1, invalidation_mode=mode)
    importlib.invalidate_caches()
    return source


def test_a_module_without_bytecode_was_compiled(folder: Path) -> None:
    _module(folder, "coldstart_probe_none", None)
    module = importlib.import_module("coldstart_probe_none")
    assert not from_bytecode(module)


@pytest.mark.parametrize(
    "mode",
    [
        py_compile.PycInvalidationMode.UNCHECKED_HASH,
        py_compile.PycInvalidationMode.CHECKED_HASH,
        py_compile.PycInvalidationMode.TIMESTAMP,
    ],
)
def test_valid_bytecode_was_loaded(folder: Path, mode: py_compile.PycInvalidationMode) -> None:
    name = f"coldstart_probe_{mode.name.lower()}"
    _module(folder, name, mode)
    module = importlib.import_module(name)
    assert type(module.__spec__.loader).__name__ == "SourceFileLoader"
    assert from_bytecode(module)


def test_stale_checked_bytecode_was_not_loaded(folder: Path) -> None:
    """A source changed since it was compiled: the timestamp and checked-hash files are refused
    (the source is compiled again), the unchecked-hash one is still used."""
    expected = {
        py_compile.PycInvalidationMode.TIMESTAMP: False,
        py_compile.PycInvalidationMode.CHECKED_HASH: False,
        py_compile.PycInvalidationMode.UNCHECKED_HASH: True,
    }
    for mode, loaded in expected.items():
        name = f"coldstart_probe_stale_{mode.name.lower()}"
        source = _module(folder, name, mode)
        source.write_text("VALUE = 2  # changed, and longer\n")
        stat = source.stat()
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
        module = importlib.import_module(name)
        assert (module.VALUE == 1) is loaded, mode  # what the import system did
        assert from_bytecode(module) is loaded, mode
