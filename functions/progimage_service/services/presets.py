"""Presets: named pipelines a tenant saves once and names in URLs as ``preset:NAME``.

A preset is a pipeline and a format. A pipeline naming presets is expanded before anything
renders or keys it, and its variant's key hashes the expanded steps and each preset's version
(see Pipeline.variant_name), so an edited preset is never answered with its old variants.
Expanding reads the presets once (with the image's record, where that is needed too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..adapters.presets import StoredPreset
from ..errors import BadRequest, Conflict, InvalidOperation, NotFound
from ..imaging.grammar import ArgumentError, canonical
from ..imaging.pipeline import Pipeline, Preset, formatted, parse_ops
from ..imaging.registry import GRAMMAR
from ..models import now_rfc3339
from ..wiring import Dependencies

MAX_PRESETS = 200  # a tenant's
_NAME = GRAMMAR.operations["preset"].forms[0][0]  # the one rule for a preset's name


def preset_name(text: str, param: str = "name") -> str:
    """A preset's name as stored (lower case), or 400 naming ``param``."""
    try:
        return _NAME.parse(text)
    except ArgumentError as error:
        raise BadRequest(f"preset {error}", param=param) from None


def save(deps: Dependencies, tenant: str, name: str, body: Any) -> StoredPreset:
    """Create or replace the tenant's preset from ``{"ops", "format"?, "eager"?}``."""
    name = preset_name(name)
    if not isinstance(body, dict) or "ops" not in body or set(body) - {"ops", "format", "eager"}:
        raise BadRequest('a preset is {"ops", "format"?, "eager"?}', param="body")
    steps = parse_ops(body["ops"])
    if not steps:
        raise BadRequest("a preset has at least one operation", param="ops")
    if any(step.operation.expands for step in steps):
        raise BadRequest("a preset cannot name another preset", param="ops")
    fmt = body.get("format")
    if fmt is not None and not isinstance(fmt, str):
        raise BadRequest("format must be a string such as 'webp', or null", param="format")
    shaped = formatted(steps, fmt, None, ())
    written = "auto" if shaped.negotiated else shaped.format.extension if shaped.format else None
    eager = body.get("eager", False)
    if not isinstance(eager, bool):
        raise BadRequest("eager must be true or false", param="eager")
    existing = deps.presets.list(tenant)
    if len(existing) >= MAX_PRESETS and name not in {p.name for p in existing}:
        raise Conflict(f"a tenant has at most {MAX_PRESETS} presets; delete one", param="name")
    return deps.presets.save(tenant, name, canonical(steps), written, eager, now_rfc3339())


def show(deps: Dependencies, tenant: str, name: str) -> StoredPreset:
    name = preset_name(name)
    found = deps.presets.lookup(tenant, [name])
    if name not in found:
        raise NotFound(f"no preset {name!r}", param="name")
    return found[name]


def remove(deps: Dependencies, tenant: str, name: str) -> None:
    name = preset_name(name)
    if not deps.presets.delete(tenant, name):
        raise NotFound(f"no preset {name!r}", param="name")


def listed(deps: Dependencies, tenant: str) -> list[StoredPreset]:
    return deps.presets.list(tenant)


def expand(
    deps: Dependencies,
    pipeline: Pipeline,
    tenant: str,
    accept: str | None = None,
    preference: Sequence[str] = (),
) -> Pipeline:
    """The pipeline with the tenant's presets in place of their names (400 naming one the
    tenant has not saved): one read, none without presets."""
    if not pipeline.presets or pipeline.expanded is not None:
        return pipeline
    stored = deps.presets.lookup(tenant, pipeline.presets)
    missing = [name for name in pipeline.presets if name not in stored]
    if missing:
        message = f"no preset {missing[0]!r}: save it with PUT /presets/{{name}}"
        raise InvalidOperation(message, param="ops")
    found = {name: _preset(p) for name, p in stored.items()}
    return pipeline.expand(found, accept, preference)


def _preset(stored: StoredPreset) -> Preset:
    return Preset(parse_ops(stored.ops), stored.format, stored.version)
