"""Handlers load the pipeline language and nothing of the imaging core's pixels: no Pillow, and
no imaging module but the grammar, the registry, the pipeline, the formats table, the
format negotiation and the limits.

Each handler is imported in a fresh interpreter (the probe that ``python -m bench.coldstart``
times); the cache hit itself is checked the same way against a stored variant in
tests/e2e/test_cache_hit.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.coldstart import IMAGING, run_probe

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = re.findall(r"^\s+Handler: (\S+)$", (ROOT / "template.yaml").read_text(), re.M)
LANGUAGE = {
    IMAGING + name
    for name in ("grammar", "registry", "pipeline", "formats", "negotiate", "limits", "copies")
}


def test_every_function_of_the_template_is_probed() -> None:
    assert len(HANDLERS) == 6


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_handler_imports_no_pixels(handler: str) -> None:
    report, _ = run_probe(handler)
    assert report["pillow_imported"] is False
    assert set(report["imaging_modules"]) <= LANGUAGE


def test_the_probe_sees_the_pixels_when_they_are_loaded() -> None:
    """The check can fail: the module that renders loads Pillow and the operations."""
    report, _ = run_probe("progimage_service.imaging.render.render")
    assert report["pillow_imported"] is True
    assert IMAGING + "operations.geometry" in report["imaging_modules"]
