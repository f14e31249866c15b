"""Every pixel operation's implementation, complete: importing this binds each family's
functions to their registry entries, and refuses to load if an entry has none."""

from __future__ import annotations

from typing import Any

from PIL import Image

from ..grammar import Step
from ..registry import REGISTRY
from . import colour, compositing, filters, geometry  # noqa: F401 (each binds its operations)
from .base import IMPLEMENTATIONS, Given, Implementation, RenderState

__all__ = ["IMPLEMENTATIONS", "Given", "Implementation", "RenderState", "apply", "implementation"]

_MISSING = [
    n for n, op in REGISTRY.items() if not (op.output_only or op.expands or n in IMPLEMENTATIONS)
]
if _MISSING:
    raise ImportError(f"registry operations without an implementation: {', '.join(_MISSING)}")


def implementation(step: Step) -> Implementation:
    return IMPLEMENTATIONS[step.name]


def apply(step: Step, image: Image.Image, state: RenderState) -> Any:
    """One pixel step over one frame."""
    return IMPLEMENTATIONS[step.name].apply(image, state, **step.args)
