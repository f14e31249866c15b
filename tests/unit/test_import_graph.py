"""The shared package's imports point one way: no cycles between its modules, nor between its
parts (config, adapters, services, imaging, api...), and config depends on no adapter.

The graph is read from the source with ``ast``, every import counted wherever it stands (at the
top, inside a function, under ``TYPE_CHECKING``): a deferred import is still a dependency, and
a cycle that only an import order hides breaks as soon as that order changes.
"""

from __future__ import annotations

import ast
import graphlib
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "functions"
PACKAGE = "progimage_service"


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _with_packages(name: str) -> set[str]:
    """A module and the packages above it: importing it runs each of their ``__init__``."""
    parts = name.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts) + 1)} & set(modules())


def imports_of(name: str) -> set[str]:
    """The package's modules that ``name`` imports (directly)."""
    path = modules()[name]
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets |= _with_packages(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here.split(".")[: len(here.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets |= _with_packages(submodule if submodule in modules() else base)
    return targets - {name}


@cache
def graph() -> dict[str, set[str]]:
    return {name: imports_of(name) for name in modules()}


def reachable(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for target in graph()[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_the_graph_is_read_from_the_source() -> None:
    """The reader resolves absolute, relative and parent-relative imports (so the checks below
    are not vacuous)."""
    edges = graph()
    assert f"{PACKAGE}.adapters.s3" in edges[f"{PACKAGE}.wiring"]  # from .adapters.s3 import
    assert f"{PACKAGE}.config" in edges[f"{PACKAGE}.adapters.aws"]  # from ..config import
    assert f"{PACKAGE}.adapters" in edges[f"{PACKAGE}.wiring"]  # the package's __init__ runs
    assert f"{PACKAGE}.services.images" in edges[f"{PACKAGE}.services.transform"]
    assert len(edges) > 30


def test_the_package_has_no_import_cycle() -> None:
    try:
        tuple(graphlib.TopologicalSorter(graph()).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def part(name: str) -> str:
    """The package part a module belongs to: ``adapters`` for ``progimage_service.adapters.s3``."""
    return name.split(".")[1]


def test_the_packages_parts_have_no_import_cycle() -> None:
    """Modules may be acyclic while their parts are not (config -> adapters.fetch and
    adapters.aws -> config): the parts are layers, so they must be acyclic too."""
    parts: dict[str, set[str]] = {}
    for name, targets in graph().items():
        if name != PACKAGE:
            parts.setdefault(part(name), set()).update(
                part(t) for t in targets if t != PACKAGE and part(t) != part(name)
            )
    try:
        tuple(graphlib.TopologicalSorter(parts).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle between parts: {' -> '.join(error.args[1])}")


def test_config_depends_on_no_adapter() -> None:
    """Settings are plain data read from the environment; the adapters take them, not the
    other way round."""
    adapters = {name for name in reachable(f"{PACKAGE}.config") if ".adapters" in name}
    assert adapters == set()
