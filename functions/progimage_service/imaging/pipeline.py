"""Pipelines as the server reads them: the registry's grammar, an output format, and the
variant's cache name. Parsing errors become 400 ``invalid_operation`` here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidOperation
from .formats import EXTENSIONS, Format
from .grammar import GrammarError, Step, canonical, ordered
from .registry import GRAMMAR


@dataclass(frozen=True)
class Pipeline:
    steps: tuple[Step, ...] = ()
    format: Format | None = None  # None: the source's own format

    @property
    def pixel_steps(self) -> tuple[Step, ...]:
        """The steps that change pixels, in order (output options removed), at the pipeline's
        pixel density: ``dpr:2`` doubles every length in pixels."""
        return tuple(s for s in ordered(self.steps) if not s.operation.output_only)

    def settings(self) -> dict[str, Any]:
        """The encoder settings the operations set (quality, max_bytes, background): of one
        set twice, the last."""
        return {s.operation.sets: s.values[0] for s in ordered(self.steps) if s.operation.sets}

    def canonical(self) -> str:
        return canonical(self.steps)

    def output_format(self, source: Format) -> Format:
        return self.format or source

    def image_ids(self) -> set[str]:
        """Other stored images the pipeline uses (masks, watermarks)."""
        return set().union(*(step.image_ids() for step in self.steps))

    def variant_name(self) -> str:
        """The cache file name: a hash of the canonical form and the requested format.

        It is computed from the request alone (no need to know the source's format), so a cache
        hit needs no catalog read; the extension is there when the format was asked for.
        """
        requested = self.format.name if self.format else "source"
        digest = hashlib.sha256(f"{self.canonical()}|{requested}".encode()).hexdigest()
        return f"{digest}.{self.format.extension}" if self.format else digest


def parse_path(path: str) -> Pipeline:
    """The URL form: ``resize:800:600:fill/rotate:90/grayscale.webp`` (extension optional)."""
    segments, extension = GRAMMAR.split_extension(path)
    return Pipeline(parse_ops(segments), EXTENSIONS[extension] if extension else None)


def parse_ops(spec: str | Sequence[Any] | None) -> tuple[Step, ...]:
    """Operations from a string (``"resize:800:600/blur:2"``), a list of strings, or a list of
    objects (``[{"op": "resize", "width": 800}]``)."""
    try:
        return GRAMMAR.steps(spec)
    except GrammarError as error:
        raise InvalidOperation(str(error), param=error.where) from None
