"""Eager variants: the presets an upload renders ahead, through the jobs queue, so that the
first view of each is a cache hit.

They are the tenant's presets marked ``eager`` and those an upload names (``?eager=a,b``). A
preset whose format is ``auto`` is rendered in every format ``auto`` may choose, and in its
fallback. Queueing them is best effort: the image is stored whether or not it succeeds (a
failure is logged and counted, and the first view is then a miss).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .. import observability
from ..adapters.presets import StoredPreset
from ..errors import BadRequest
from ..imaging.negotiate import AUTO
from ..wiring import Dependencies
from . import jobs
from .presets import preset_name

logger = logging.getLogger("progimage")

MAX_NAMED = 20  # presets one upload may name


def chosen(deps: Dependencies, tenant: str, named: str | None) -> list[StoredPreset]:
    """The presets an upload renders ahead: the tenant's eager ones and those ``named``
    (comma-separated; 400 naming one the tenant has not saved). One read of the presets."""
    names = [preset_name(n, "eager") for n in named.split(",")] if named else []
    if len(names) > MAX_NAMED:
        raise BadRequest(f"eager names at most {MAX_NAMED} presets", param="eager")
    saved = {p.name: p for p in deps.presets.list(tenant)}
    missing = [name for name in names if name not in saved]
    if missing:
        raise BadRequest(f"no preset {missing[0]!r} to render eagerly", param="eager")
    return [p for p in saved.values() if p.eager or p.name in names]


def render_ahead(
    deps: Dependencies,
    tenant: str,
    image_ids: Sequence[str],
    presets: Sequence[StoredPreset] | None = None,
) -> str | None:
    """Queue a job rendering each preset (None: the tenant's eager ones, read now) of each
    image; answer its id (None: nothing to do, or queueing failed)."""
    try:
        ahead = chosen(deps, tenant, None) if presets is None else presets
        items = [item for i in image_ids for p in ahead for item in _items(deps, i, p)]
        return str(jobs.submit(deps, tenant, items)["job_id"]) if items else None
    except Exception as error:  # best effort: the upload itself succeeded
        observability.add("EagerFailures")
        logger.warning("eager variants were not queued: %s", error, extra={"tenant": tenant})
        return None


def _items(deps: Dependencies, image_id: str, preset: StoredPreset) -> list[dict[str, Any]]:
    """The job items that write the variants a view of ``/images/{id}/preset:NAME`` reads: of
    an ``auto`` preset, one per format it may choose and its fallback's."""
    item = {"source": {"id": image_id}, "ops": f"preset:{preset.name}"}
    if preset.format != AUTO:
        return [item]
    return [item | {"format": name} for name in (*deps.settings.auto_formats, AUTO)]
