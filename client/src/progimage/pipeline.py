"""Build transformation pipelines in Python; they print exactly as the API's canonical form.

>>> from progimage import Pipeline
>>> p = Pipeline().resize(800, 600, fit="fill").rotate(90).format("webp")
>>> p.canonical()
'resize:800:600:fill/rotate:90'
>>> str(p)
'resize:800:600:fill/rotate:90.webp'

A :class:`Pipeline` is immutable: every method returns a new pipeline, so a base pipeline can be
shared and extended. Arguments are checked as they are given (``ValueError`` names the
operation and what is valid), with the bounds the API documents; the server stays the authority.

The canonical form is the API's: arguments in the grammar's order, trailing arguments equal to
their default dropped (``thumbnail:256:256`` is ``thumbnail:256``), numbers in the shortest form
that reads back as the same number, colours as lower-case hex, and the output options
(``maxbytes``, ``quality``) last in that order, the last one given winning. Two pipelines that
mean the same thing print the same, so they name the same cached variant.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar, get_args

from ._grammar import GrammarError, Step, ordered
from ._operations import GRAMMAR, Colour, Gravity, Operations

__all__ = [
    "FORMATS",
    "GRAVITIES",
    "MAX_OPERATIONS",
    "OPERATIONS",
    "Colour",
    "Pipeline",
    "PipelineLike",
    "normalize_format",
    "split_pipeline",
]

MAX_OPERATIONS = GRAMMAR.max_operations
# Output formats by URL extension, to the canonical extension (``jpeg`` prints as ``jpg``).
FORMATS: dict[str, str] = dict(GRAMMAR.extensions)
GRAVITIES: tuple[str, ...] = get_args(Gravity)
OPERATIONS: tuple[str, ...] = tuple(sorted(GRAMMAR.operations))
"""The names of the operations this client knows (the server may know more)."""


def normalize_format(fmt: str) -> str:
    """The canonical extension of an output format: ``"JPEG"`` and ``".jpg"`` give ``"jpg"``."""
    if not isinstance(fmt, str):
        raise TypeError(f"a format is a string such as 'webp', got {fmt!r}")
    key = fmt.lower().removeprefix(".")
    if key not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(sorted(FORMATS))}")
    return FORMATS[key]


def _grammar_value(value: Any) -> Any:
    """A builder argument as the grammar reads it: a colour tuple as its hex text."""
    if not isinstance(value, tuple):
        return value
    if len(value) in (3, 4) and all(
        isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value
    ):
        return "".join(f"{c:02x}" for c in value)
    raise ValueError(f"a colour tuple is (r, g, b[, a]) of integers 0 to 255, got {value!r}")


_P = TypeVar("_P", bound="Pipeline")


class Pipeline(Operations):
    """An immutable, ordered list of operations and an optional output format.

    Build one with the methods below (each returns a new pipeline), or parse the URL form with
    :meth:`parse`. ``str(pipeline)`` is the URL form with the extension
    (``"thumbnail:256.webp"``); :meth:`canonical` is the operations alone, exactly as the
    server prints its canonical form.
    """

    __slots__ = ("_format", "_steps")

    def __init__(self) -> None:
        self._steps: tuple[Step, ...] = ()
        self._format: str | None = None

    # -- construction --------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Pipeline:
        """Parse the URL form, ``"resize:800:600:fill/rotate:90/grayscale.webp"``.

        The extension on the last segment, if it is a known format, is the output format.
        Raises ``ValueError`` for anything the API would refuse as an invalid operation.
        """
        if not isinstance(text, str):
            raise TypeError(f"a pipeline is a string, got {text!r}")
        pipeline = cls()
        if not text:
            return pipeline
        segments, extension = GRAMMAR.split_extension(text)
        for step in GRAMMAR.steps(segments):
            pipeline = pipeline._add(step)
        return pipeline._copy(pipeline._steps, extension)

    def _copy(self: _P, steps: tuple[Step, ...], fmt: str | None) -> _P:
        new = object.__new__(type(self))
        new._steps, new._format = steps, fmt
        return new

    def _add(self: _P, step: Step) -> _P:
        steps = self._steps
        if step.operation.output_only:  # the last one given wins
            steps = tuple(s for s in steps if s.operation is not step.operation)
        steps = (*steps, step)
        if len(steps) > MAX_OPERATIONS:
            raise ValueError(f"a pipeline has at most {MAX_OPERATIONS} operations")
        GRAMMAR.check_images(steps)
        return self._copy(steps, self._format)

    def _then(self: _P, operation: str, /, **args: Any) -> _P:
        named = {k: _grammar_value(v) for k, v in args.items() if v is not None}
        try:
            return self._add(GRAMMAR.build(GRAMMAR.lookup(operation), named=named))
        except GrammarError as error:
            raise ValueError(str(error)) from None

    def then(self: _P, other: Pipeline) -> _P:
        """This pipeline followed by another's operations; the other's format wins if set."""
        result = self
        for step in other._steps:
            result = result._add(step)
        return result._copy(result._steps, other._format or self._format)

    __add__ = then

    def format(self: _P, fmt: str | None) -> _P:
        """The output format (``"webp"``, ``"png"``, ``"jpg"``...); ``None``: the source's."""
        return self._copy(self._steps, None if fmt is None else normalize_format(fmt))

    # -- output --------------------------------------------------------------------------

    @property
    def output_format(self) -> str | None:
        """The canonical extension of the output format, or None (the source's format)."""
        return self._format

    def canonical(self) -> str:
        """The operations in the API's canonical form, without the format."""
        return "/".join(step.canonical() for step in ordered(self._steps))

    def to_path(self) -> str:
        """The URL form: the canonical operations and the format's extension."""
        ext = f".{self._format}" if self._format else ""
        return self.canonical() + ext

    def to_json(self) -> list[dict[str, Any]]:
        """The operations as the API's JSON object form."""
        return [step.to_json() for step in ordered(self._steps)]

    def __str__(self) -> str:
        return self.to_path()

    def __repr__(self) -> str:
        return f"Pipeline.parse({self.to_path()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self.to_path() == other.to_path()

    def __hash__(self) -> int:
        return hash(self.to_path())

    def __len__(self) -> int:
        return len(self._steps)

    def __bool__(self) -> bool:
        return bool(self._steps) or self._format is not None

    def __iter__(self) -> Iterator[str]:
        """The canonical text of each operation, in order."""
        return (step.canonical() for step in ordered(self._steps))


PipelineLike = Pipeline | str
"""A :class:`Pipeline`, or a pipeline in the URL form (sent as given; the server checks it)."""


def split_pipeline(pipeline: PipelineLike | None, fmt: str | None = None) -> tuple[str, str | None]:
    """``(operations, extension)`` of a pipeline, a pipeline string or a bare format.

    ``fmt``, if given, sets or replaces the output format.

    >>> split_pipeline("thumbnail:256.jpg")
    ('thumbnail:256', 'jpg')
    >>> split_pipeline("webp")
    ('', 'webp')
    >>> split_pipeline(Pipeline().blur(1.5), "png")
    ('blur:1.5', 'png')
    """
    ops, ext = "", None
    if isinstance(pipeline, Pipeline):
        ops, ext = pipeline.canonical(), pipeline.output_format
    elif isinstance(pipeline, str):
        text = pipeline.strip().strip("/")
        if text.lower().removeprefix(".") in FORMATS:
            ext = normalize_format(text)
        else:
            segments, ext = GRAMMAR.split_extension(text)
            ops = "/".join(segments)
    elif pipeline is not None:
        raise TypeError(f"a pipeline is a Pipeline or a string, got {pipeline!r}")
    if fmt is not None:
        ext = normalize_format(fmt)
    return ops, ext
