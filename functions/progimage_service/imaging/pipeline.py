"""Pipelines as the server reads them: the registry's grammar, an output format, and the
variant's cache name. Parsing errors become 400 ``invalid_operation`` here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import InvalidOperation
from .formats import FORMATS, Format, for_extension
from .grammar import GrammarError, Step, canonical, ordered
from .negotiate import AUTO, choose
from .registry import FOCAL_GRAVITY, GRAMMAR, MAX_OPERATIONS

# Where ``auto`` chose no newer format: the formats every client decodes.
_LOSSLESS = ("png", "gif", "bmp", "tiff")


@dataclass(frozen=True)
class Preset:
    """What ``preset:NAME`` stands for: the steps and format (a URL extension, ``auto``, or
    None: the source's) saved under the name, at its version."""

    steps: tuple[Step, ...]
    format: str | None
    version: int


@dataclass(frozen=True)
class Pipeline:
    steps: tuple[Step, ...] = ()  # as asked: ``preset`` steps stand for their presets' steps
    format: Format | None = None  # None: the source's own format, or the fallback if negotiated
    negotiated: bool = False  # chosen from the Accept header (``auto``): the answer varies by it
    # With presets: the steps with each preset's in its place, and ``name@version`` of each.
    expanded: tuple[Step, ...] | None = None
    versions: tuple[str, ...] = ()

    @property
    def presets(self) -> tuple[str, ...]:
        """The names of the presets the steps use, each once, in order."""
        names = (s.values[0] for s in self.steps if s.operation.expands)
        return tuple(dict.fromkeys(names))

    @property
    def presets_only(self) -> bool:
        """Is every step a preset (what strict deployments serve unsigned)?"""
        return bool(self.steps) and all(s.operation.expands for s in self.steps)

    @property
    def run_steps(self) -> tuple[Step, ...]:
        """The steps that are rendered: the presets' in their place."""
        if self.expanded is not None:
            return self.expanded
        if self.presets:
            raise ValueError("a pipeline with presets is expanded before it is read")
        return self.steps

    @property
    def pixel_steps(self) -> tuple[Step, ...]:
        """The steps that change pixels, in order (output options removed), at the pipeline's
        pixel density: ``dpr:2`` doubles every length in pixels."""
        return tuple(s for s in ordered(self.run_steps) if not s.operation.output_only)

    def settings(self) -> dict[str, Any]:
        """The encoder settings the operations set (quality, max_bytes, background): of one
        set twice, the last."""
        return {s.operation.sets: s.values[0] for s in ordered(self.run_steps) if s.operation.sets}

    def canonical(self) -> str:
        """The canonical form as asked (presets by name): what its URL says."""
        return canonical(self.steps)

    def expand(
        self, found: Mapping[str, Preset], accept: str | None, preference: Sequence[str]
    ) -> Pipeline:
        """This pipeline with each ``preset:NAME`` replaced by ``found[NAME]``'s steps; with no
        format of its own, it writes the last such preset's that has one."""
        if not self.presets or self.expanded is not None:
            return self
        steps: list[Step] = []
        name = None
        for step in self.steps:
            preset = found[step.values[0]] if step.operation.expands else None
            steps.extend(preset.steps if preset else (step,))
            name = preset.format if preset and preset.format else name
        if len(steps) > MAX_OPERATIONS:
            raise InvalidOperation(
                f"with its presets expanded, a pipeline has at most {MAX_OPERATIONS} "
                f"operations, got {len(steps)}"
            )
        try:
            GRAMMAR.check_images(steps)
        except GrammarError as error:
            raise InvalidOperation(str(error), param=error.where) from None
        versions = tuple(f"{n}@{found[n].version}" for n in self.presets)
        own = self.format is not None or self.negotiated
        shaped = self if own or name is None else formatted(self.steps, name, accept, preference)
        return replace(shaped, expanded=tuple(steps), versions=versions)

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

    @property
    def uses_focal(self) -> bool:
        """Whether a step centres on the image's focal point (gravity ``auto``): its variants
        then depend on that point, and are stale when it changes."""
        return any(step.args.get("gravity") == FOCAL_GRAVITY for step in self.run_steps)

    def image_ids(self) -> set[str]:
        """Other stored images the pipeline uses (masks, watermarks)."""
        return set().union(*(step.image_ids() for step in self.run_steps))

    def variant_name(self, focal: tuple[float, float] | None = None) -> str:
        """The cache file name: a hash of the canonical form of the steps rendered, the
        requested format, the versions of the presets used and, where a step centres on it
        (``uses_focal``), the image's ``focal`` point.

        It is computed from the request (and the presets it names) alone, with no need to know
        the source's format, so a cache hit needs no catalog read unless the focal point is
        used; the extension is there when the format was asked for. Editing a preset changes
        its version, moving the focal point the point: either way, the name.
        """
        requested = self.format.name if self.format else "auto" if self.negotiated else "source"
        named = f"{canonical(self.run_steps)}|{requested}"
        if self.versions:
            named += "|" + ",".join(self.versions)
        if self.uses_focal:
            named += "|focal=" + ("none" if focal is None else "{:.4f},{:.4f}".format(*focal))
        digest = hashlib.sha256(named.encode()).hexdigest()
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
