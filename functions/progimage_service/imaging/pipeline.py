"""Pipelines as the server reads them: the registry's grammar, an output format, and the
variant's cache name. Parsing errors become 400 ``invalid_operation`` here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidOperation
from .formats import FORMATS, Format, for_extension
from .grammar import GrammarError, Step, canonical, ordered
from .negotiate import AUTO, choose
from .registry import GRAMMAR

# Where ``auto`` chose no newer format: the formats every client decodes.
_LOSSLESS = ("png", "gif", "bmp", "tiff")


@dataclass(frozen=True)
class Pipeline:
    steps: tuple[Step, ...] = ()
    format: Format | None = None  # None: the source's own format, or the fallback if negotiated
    negotiated: bool = False  # chosen from the Accept header (``auto``): the answer varies by it

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
        """The format written over a source of this format: the one asked for; where ``auto``
        found none the client names, GIF for a GIF, PNG for other lossless sources, else JPEG
        (PNG where the result has alpha: see ``alpha_format``); else the source's."""
        if self.format is not None:
            return self.format
        if not self.negotiated:
            return source
        if source.name in _LOSSLESS:
            return FORMATS["gif" if source.name == "gif" else "png"]
        return FORMATS["jpeg"]

    def alpha_format(self, source: Format) -> Format | None:
        """The format written instead where the result has alpha and the output format has
        none: only ``auto``'s fallback switches (a JPEG asked for is flattened, as asked)."""
        fallback = self.format is None and self.negotiated
        return FORMATS["png"] if fallback and self.output_format(source).name == "jpeg" else None

    def image_ids(self) -> set[str]:
        """Other stored images the pipeline uses (masks, watermarks)."""
        return set().union(*(step.image_ids() for step in self.steps))

    def variant_name(self) -> str:
        """The cache file name: a hash of the canonical form and the requested format.

        It is computed from the request alone (no need to know the source's format), so a cache
        hit needs no catalog read; the extension is there when the format was asked for.
        """
        requested = self.format.name if self.format else "auto" if self.negotiated else "source"
        digest = hashlib.sha256(f"{self.canonical()}|{requested}".encode()).hexdigest()
        return f"{digest}.{self.format.extension}" if self.format else digest


def parse_path(path: str, accept: str | None = None, preference: Sequence[str] = ()) -> Pipeline:
    """The URL form: ``resize:800:600:fill/rotate:90/grayscale.webp`` (extension optional;
    ``.auto`` chooses among ``preference`` by the ``accept`` header)."""
    segments, extension = GRAMMAR.split_extension(path)
    return formatted(parse_ops(segments), extension, accept, preference)


def formatted(
    steps: tuple[Step, ...], name: str | None, accept: str | None, preference: Sequence[str]
) -> Pipeline:
    """A pipeline of ``steps`` writing the format a URL extension or JSON ``format`` names:
    none, the source's; ``auto``, the first of ``preference`` that ``accept`` names, else the
    fallback (see ``output_format``)."""
    if name is None:
        return Pipeline(steps)
    if name.lower() == AUTO:
        return Pipeline(steps, choose(accept, preference), negotiated=True)
    return Pipeline(steps, for_extension(name))


def parse_ops(spec: str | Sequence[Any] | None) -> tuple[Step, ...]:
    """Operations from a string (``"resize:800:600/blur:2"``), a list of strings, or a list of
    objects (``[{"op": "resize", "width": 800}]``)."""
    try:
        return GRAMMAR.steps(spec)
    except GrammarError as error:
        raise InvalidOperation(str(error), param=error.where) from None
