"""Pipelines: parsing the URL and JSON forms through the registry, and the canonical form.

The canonical form is what makes two spellings of one request the same cached variant:
``resize:800:600`` and ``resize:800:600:fit`` print alike, and output options (quality,
maxbytes) go last in a fixed order wherever they were written.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidOperation
from ..inputs import echo
from .formats import EXTENSIONS, Format
from .operations import REGISTRY, Operation, RenderState
from .params import ArgumentError, Param

MAX_OPERATIONS = 20
_EXTENSION = re.compile(r"^(.*)\.([A-Za-z]{3,4})$")


@dataclass(frozen=True)
class Step:
    """One operation with its checked arguments (defaults filled in)."""

    operation: Operation
    form: tuple[Param, ...]
    values: tuple[Any, ...]

    @property
    def args(self) -> dict[str, Any]:
        return {p.name: v for p, v in zip(self.form, self.values, strict=True)}

    def canonical(self) -> str:
        texts = [p.format(v) for p, v in zip(self.form, self.values, strict=True)]
        # Drop trailing arguments that equal their default: one spelling per meaning.
        args = self.args
        while texts:
            param = self.form[len(texts) - 1]
            if param.required or args[param.name] != param.default_for(args):
                break
            texts.pop()
        return ":".join([self.operation.name, *texts])

    def apply(self, image: Any, state: RenderState) -> Any:
        return self.operation.apply(image, state, **self.args)

    def image_ids(self) -> set[str]:
        return {
            v
            for p, v in zip(self.form, self.values, strict=True)
            if p.kind == "image" or (p.kind == "shape" and v not in p.choices)
        }


@dataclass(frozen=True)
class Pipeline:
    steps: tuple[Step, ...] = ()
    format: Format | None = None  # None: the source's own format

    @property
    def pixel_steps(self) -> tuple[Step, ...]:
        """The steps that change pixels, in order (output options removed)."""
        return tuple(s for s in self.steps if not s.operation.output_only)

    @property
    def output_options(self) -> dict[str, Step]:
        """The output options by name; of one written twice, the last."""
        return {s.operation.name: s for s in self.steps if s.operation.output_only}

    def canonical(self) -> str:
        options = self.output_options
        ordered = [*self.pixel_steps, *(options[name] for name in sorted(options))]
        return "/".join(step.canonical() for step in ordered)

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
    segments = path.split("/")
    fmt = None
    match = _EXTENSION.match(segments[-1])
    if match and match.group(2).lower() in EXTENSIONS:
        segments[-1] = match.group(1)
        fmt = EXTENSIONS[match.group(2).lower()]
    return Pipeline(parse_ops(segments), fmt)


def parse_ops(spec: str | Sequence[Any] | None) -> tuple[Step, ...]:
    """Operations from a string (``"resize:800:600/blur:2"``), a list of strings, or a list of
    objects (``[{"op": "resize", "width": 800}]``)."""
    if not spec:
        return ()
    if isinstance(spec, str):
        spec = spec.split("/")
    if not isinstance(spec, Sequence):
        raise InvalidOperation("ops must be a string or a list of operations", param="ops")
    if len(spec) > MAX_OPERATIONS:
        raise InvalidOperation(
            f"a pipeline has at most {MAX_OPERATIONS} operations, got {len(spec)}", param="ops"
        )
    return tuple(_parse_one(item, f"ops[{index}]") for index, item in enumerate(spec))


def _parse_one(item: Any, where: str) -> Step:
    if isinstance(item, str):
        name, *raw = item.split(":") if item else [""]
        operation = _lookup(name, where)
        return _build(operation, where, positional=raw)
    if isinstance(item, Mapping):
        named = dict(item)
        operation = _lookup(named.pop("op", None), where)
        return _build(operation, where, named=named)
    raise InvalidOperation(f"an operation is a string or an object, got {echo(item)}", param=where)


def _lookup(name: Any, where: str) -> Operation:
    operation = REGISTRY.get(name.lower()) if isinstance(name, str) else None
    if operation is None:
        shown = "an empty segment" if name in ("", None) else echo(name)
        raise InvalidOperation(
            f"unknown operation {shown}; valid: {', '.join(sorted(REGISTRY))}", param=where
        )
    return operation


def _build(
    operation: Operation,
    where: str,
    positional: list[str] | None = None,
    named: dict[str, Any] | None = None,
) -> Step:
    form = _choose_form(operation, where, positional, named)
    args: dict[str, Any] = {}
    try:
        for index, param in enumerate(form):
            given = (
                positional[index] if positional is not None and index < len(positional) else None
            )
            if named is not None:
                given = named.get(param.name)
            if given is None or given == "":
                if param.required:
                    raise ArgumentError(f"{param.name} is required")
                args[param.name] = param.default_for(args)
            else:
                args[param.name] = param.parse(given)
        problem = operation.check(args) if operation.check else None
        if problem:
            raise ArgumentError(problem)
    except ArgumentError as error:
        raise InvalidOperation(
            f"{operation.name}: {error}; usage: {operation.usage()}", param=where
        ) from None
    return Step(operation, form, tuple(args[p.name] for p in form))


def _choose_form(
    operation: Operation,
    where: str,
    positional: list[str] | None,
    named: dict[str, Any] | None,
) -> tuple[Param, ...]:
    for form in operation.forms:
        names = {p.name for p in form}
        required = sum(p.required for p in form)
        if positional is not None and required <= len(positional) <= len(form):
            return form
        if (
            named is not None
            and set(named) <= names
            and {p.name for p in form if p.required} <= set(named)
        ):
            return form
    if named is not None:
        known = sorted({p.name for form in operation.forms for p in form})
        unknown = sorted(set(named) - set(known))
        detail = f"unknown argument {echo(unknown[0])}" if unknown else "missing arguments"
        raise InvalidOperation(
            f"{operation.name}: {detail}; arguments: {', '.join(known)}", param=where
        )
    raise InvalidOperation(
        f"{operation.name}: wrong number of arguments ({len(positional or [])}); "
        f"usage: {operation.usage()}",
        param=where,
    )
