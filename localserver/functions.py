"""Import the functions' handlers the way the Lambda runtime does.

``Handler: upload.app.handler`` with ``CodeUri: functions/`` means: put ``functions/`` on
``sys.path``, import ``upload.app``, call its ``handler``. Local layers (``ContentUri`` with a
``python/`` folder) go on ``sys.path`` too; their dependencies must otherwise be installed in
the environment running the server.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .events import LambdaContext
from .template import LAYER_TYPE, FunctionSpec, Template, TemplateError

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class LocalFunction:
    """A function ready to invoke: its handler and the settings its context reports."""

    logical_id: str
    name: str
    handler: Handler
    timeout_s: int
    memory_mb: int

    def new_context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.name, memory_limit_in_mb=self.memory_mb, timeout_s=self.timeout_s
        )


class SysPath:
    """Entries added to ``sys.path``, removable again."""

    def __init__(self) -> None:
        self._added: list[str] = []

    def add(self, directory: Path) -> None:
        entry = str(directory)
        if entry not in sys.path:
            sys.path.insert(0, entry)
            self._added.append(entry)

    def restore(self) -> None:
        for entry in self._added:
            if entry in sys.path:
                sys.path.remove(entry)
        self._added.clear()


def code_directories(template: Template, spec: FunctionSpec) -> list[Path]:
    """The function's CodeUri and the ``python/`` folders of its local layers."""
    directories = [spec.code_dir]
    for layer in spec.layers:
        logical_id = layer.get("Ref") if isinstance(layer, dict) else None
        resource = template.resources.get(logical_id) if isinstance(logical_id, str) else None
        if resource is None or resource.type != LAYER_TYPE:
            log.info(
                "%s: layer %r is not local; its packages must be installed", spec.logical_id, layer
            )
            continue
        content_uri = resource.properties.get("ContentUri")
        if isinstance(content_uri, str):
            python_dir = (template.directory / content_uri / "python").resolve()
            if python_dir.is_dir():
                directories.append(python_dir)
    return directories


def _is_inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` is under ``directory``, with or without following symlinks."""
    return Path(os.path.abspath(path)).is_relative_to(directory) or path.resolve().is_relative_to(
        directory.resolve()
    )


def load_handler(spec: FunctionSpec) -> Handler:
    """Import the handler; its CodeUri must already be on ``sys.path``."""
    try:
        module = importlib.import_module(spec.module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if spec.module_name == missing or spec.module_name.startswith(f"{missing}."):
            raise TemplateError(
                f"function {spec.logical_id}: no module {spec.module_name!r} in {spec.code_dir}"
            ) from error
        raise
    module_file = getattr(module, "__file__", None)
    if module_file and not _is_inside(Path(module_file), spec.code_dir):
        raise TemplateError(
            f"function {spec.logical_id}: {spec.module_name!r} was imported from {module_file}, "
            f"not from its CodeUri {spec.code_dir} (two modules with one name?)"
        )
    handler = getattr(module, spec.attribute_name, None)
    if not callable(handler):
        raise TemplateError(
            f"function {spec.logical_id}: {spec.module_name} has no callable "
            f"{spec.attribute_name!r}"
        )
    return handler
