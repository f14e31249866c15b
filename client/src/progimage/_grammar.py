# Generated from the server's operation registry by `make generate`: do not edit.
# Its source is the server's imaging/grammar.py.
"""The pipeline grammar: operations and their typed, bounded arguments; the URL form
(``resize:800:600:fill``), the JSON string and object forms
(``{"op": "resize", "width": 800, "height": 600, "fit": "fill"}``); and the canonical form.

A :class:`Grammar` is data (the registry fills it) and this module is the only code that reads
it. It imports nothing but the standard library: handlers parse pipelines with no imaging code
loaded, and the Python client ships a copy of this file (``make generate`` writes it), so the
two check, canonicalise and word their errors alike.

The canonical form is what makes two spellings of one request one cached variant: arguments in
the grammar's order, trailing arguments equal to their default dropped (``resize:800:600:fit``
prints as ``resize:800:600``), numbers in the shortest text that reads back as the same number,
colours as lower-case hex, an argument that changes nothing with the others given as its
default (``resize:800:600:fit:north`` is ``resize:800:600``), lengths in pixels multiplied by
the pixel density (``dpr``, itself left out), and output options (``maxbytes``, ``quality``)
last, sorted by name, the last one written winning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Colour = tuple[int, int, int, int]  # RGBA
_HEX = re.compile(r"[0-9a-fA-F]{6}([0-9a-fA-F]{2})?")
_EXTENSION = re.compile(r"^(.*)\.([A-Za-z]{3,4})$")
_ECHO_CHARS = 64
KINDS = ("int", "float", "choice", "colour", "image", "shape", "name")
DENSITY = "dpr"  # the output option whose factor multiplies every length in pixels


def echo(value: object) -> str:
    """A client's input as an error message quotes it: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= _ECHO_CHARS else text[: _ECHO_CHARS - 1] + "…"


class GrammarError(ValueError):
    """A pipeline the grammar refuses; ``where`` names the part (``ops`` or ``ops[2]``)."""

    def __init__(self, message: str, where: str = "ops") -> None:
        super().__init__(message)
        self.where = where


class ArgumentError(ValueError):
    """An argument that does not fit its parameter; the step adds which operation."""


@dataclass(frozen=True)
class Param:
    """One named argument: its type, bounds and default.

    ``default_from`` names an earlier argument whose value is the default (thumbnail's height
    is its width). Image ids (kinds ``image`` and ``shape``) and names (kind ``name``, read in
    lower case) must match ``pattern``. A number's
    ``choices`` are words it also takes (``quality:auto``). A length in pixels (``pixels``) is
    multiplied by the pipeline's pixel density (``dpr``).
    """

    name: str
    kind: str  # one of KINDS
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is excluded
    choices: tuple[str, ...] = ()
    required: bool = True
    default: Any = None
    default_from: str | None = None
    pattern: str | None = None
    pixels: bool = False
    doc: str = ""

    def default_for(self, earlier: Mapping[str, Any]) -> Any:
        return earlier[self.default_from] if self.default_from else self.default

    def parse(self, raw: Any) -> Any:
        """Check and convert one value (a URL string, or any JSON value)."""
        if self.kind in ("int", "float") and isinstance(raw, str) and raw.lower() in self.choices:
            return raw.lower()
        match self.kind:
            case "int":
                return self._bounded(self._number(raw, integral=True))
            case "float":
                return self._bounded(self._number(raw, integral=False))
            case "choice":
                value = raw.lower() if isinstance(raw, str) else raw
                if value not in self.choices:
                    raise ArgumentError(
                        f"{self.name} must be one of {', '.join(self.choices)}, got {echo(raw)}"
                    )
                return value
            case "colour":
                return self._colour(raw)
            case "image" | "shape" | "name":
                return self._identifier(raw)
        raise AssertionError(self.kind)

    def format(self, value: Any) -> str:
        """The canonical text of a value."""
        if value is None:
            return ""
        if self.kind == "float" and not isinstance(value, str):
            return _float_text(value)
        if self.kind == "colour":
            return "".join(f"{c:02x}" for c in (value if value[3] != 255 else value[:3]))
        return str(value)

    def usage(self) -> str:
        return f":{self.name.upper()}" if self.required else f"[:{self.name.upper()}]"

    def names_image(self, value: Any) -> bool:
        """Whether ``value`` of this parameter is another stored image's id."""
        return self.kind == "image" or (self.kind == "shape" and value not in self.choices)

    def _identifier(self, raw: Any) -> str:
        """An image id (``image``), a shape's word or an image id (``shape``), or a name read in
        lower case (``name``)."""
        if isinstance(raw, str) and self.kind == "name" and self._is_id(raw.lower()):
            return raw.lower()
        if isinstance(raw, str) and self.kind == "shape" and raw.lower() in self.choices:
            return raw.lower()
        if self.kind != "name" and self._is_id(raw):
            return raw
        expected = {
            "image": "an image id",
            "shape": f"one of {', '.join(self.choices)} or an image id",
            "name": f"a name matching {self.pattern}",
        }[self.kind]
        raise ArgumentError(f"{self.name} must be {expected}, got {echo(raw)}")

    def _is_id(self, raw: Any) -> bool:
        return (
            isinstance(raw, str)
            and self.pattern is not None
            and bool(re.fullmatch(self.pattern, raw))
        )

    def scaled(self, value: Any, factor: float) -> Any:
        """A pixel length's value at ``factor`` times the density, kept within the bounds."""
        if not self.pixels or isinstance(value, str) or factor == 1:
            return value
        grown = value * factor
        if self.high is not None:
            grown = min(grown, self.high)
        return round(grown) if self.kind == "int" else grown

    def _number(self, raw: Any, *, integral: bool) -> float:
        kind = "an integer" if integral else "a number"
        if self.choices:
            kind += " or " + " or ".join(self.choices)
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ArgumentError(f"{self.name} must be {kind}, got {echo(raw)}")
        try:
            value = float(raw) if not integral or isinstance(raw, float) else int(raw)
        except (ValueError, OverflowError):  # OverflowError: an integer too large for a float
            raise ArgumentError(f"{self.name} must be {kind}, got {echo(raw)}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ArgumentError(f"{self.name} must be a finite number, got {echo(raw)}")
        if integral:
            if value != int(value):
                raise ArgumentError(f"{self.name} must be an integer, got {echo(raw)}")
            return int(value)
        return value

    def _bounded(self, value: float) -> Any:
        too_low = self.low is not None and (
            value < self.low or (self.low_open and value == self.low)
        )
        too_high = self.high is not None and value > self.high
        if too_low or too_high:
            low = "" if self.low is None else ("(" if self.low_open else "[") + _num(self.low)
            high = "" if self.high is None else _num(self.high) + "]"
            words = "".join(f" or {word}" for word in self.choices)
            raise ArgumentError(f"{self.name} must be in {low}, {high}{words}, got {_num(value)}")
        return value

    def _colour(self, raw: Any) -> Colour:
        text = raw.removeprefix("#") if isinstance(raw, str) else ""
        if not _HEX.fullmatch(text):
            raise ArgumentError(f"{self.name} must be a colour RRGGBB or RRGGBBAA, got {echo(raw)}")
        values = [int(text[i : i + 2], 16) for i in range(0, len(text), 2)]
        return (values[0], values[1], values[2], values[3] if len(values) == 4 else 255)


def _float_text(value: float) -> str:
    """The shortest text that reads back as the same number (so 1.0 and 1 print alike)."""
    return repr(float(value)).removesuffix(".0")


def _num(value: float) -> str:
    return _float_text(value) if isinstance(value, float) else echo(value)


@dataclass(frozen=True)
class Operation:
    """One operation of the contract.

    ``forms`` lists the alternative argument lists (crop has two); the URL form picks one by the
    number of arguments, the JSON object form by the names present. An output option
    (``output_only``) configures the encoder instead of changing pixels; ``sets`` names the
    encoder setting its one argument sets (background does both: it flattens the pixels and is
    what the encoder flattens onto).
    """

    name: str
    forms: tuple[tuple[Param, ...], ...]
    summary: str
    output_only: bool = False
    sets: str | None = None
    not_all_zero: tuple[str, ...] = ()  # arguments that may not all be 0 (resize's sides)
    # Arguments that change nothing unless another has one of some values, as (argument, other,
    # values): otherwise the argument is taken as its default, so that the spellings are one
    # canonical form (resize's gravity, which only ``fill`` uses).
    only_with: tuple[tuple[str, str, tuple[Any, ...]], ...] = ()
    notes: str = ""  # details for the API reference
    # Stands for other steps, put in its place before the pipeline is rendered or keyed
    # (``preset:NAME``): it has no pixels of its own.
    expands: bool = False

    def usage(self) -> str:
        return " or ".join(self.name + "".join(p.usage() for p in form) for form in self.forms)

    def settle(self, form: Sequence[Param], args: dict[str, Any]) -> None:
        """Take each argument that changes nothing with the others given as its default."""
        params = {p.name: p for p in form}
        for name, other, values in self.only_with:
            if name in params and other in args and args[other] not in values:
                args[name] = params[name].default_for(args)

    def check(self, args: Mapping[str, Any]) -> str | None:
        """What is wrong with a combination of valid arguments, if anything."""
        if self.not_all_zero and not any(args[name] for name in self.not_all_zero):
            return f"{' and '.join(self.not_all_zero)} cannot both be 0"
        return None


@dataclass(frozen=True)
class Step:
    """One operation with its checked arguments (defaults filled in)."""

    operation: Operation
    form: tuple[Param, ...]
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return self.operation.name

    @property
    def args(self) -> dict[str, Any]:
        return {p.name: v for p, v in zip(self.form, self.values, strict=True)}

    def _explicit(self) -> int:
        """How many arguments to print: trailing ones equal to their default are dropped."""
        args, count = self.args, len(self.form)
        while count:
            param = self.form[count - 1]
            if param.required or args[param.name] != param.default_for(args):
                break
            count -= 1
        return count

    def canonical(self) -> str:
        texts = [p.format(v) for p, v in zip(self.form, self.values, strict=True)]
        return ":".join([self.name, *texts[: self._explicit()]])

    def to_json(self) -> dict[str, Any]:
        """The JSON object form, ``{"op": "resize", "width": 800, ...}`` (defaults left out)."""
        args = self.args
        return {"op": self.name} | {
            p.name: p.format(v) if p.kind == "colour" else v
            for p, v in zip(self.form, self.values, strict=True)
            if p.required or v != p.default_for(args)
        }

    def image_ids(self) -> set[str]:
        return {v for p, v in zip(self.form, self.values, strict=True) if p.names_image(v)}

    def scaled(self, factor: float) -> Step:
        """The step at ``factor`` times the pixel density: every pixel length multiplied."""
        values = tuple(p.scaled(v, factor) for p, v in zip(self.form, self.values, strict=True))
        return self if values == self.values else Step(self.operation, self.form, values)


def ordered(steps: Sequence[Step]) -> list[Step]:
    """The canonical order: pixel steps as written, at the pixel density (``dpr``, which is
    then left out: ``thumbnail:100/dpr:2`` is ``thumbnail:200``), then the other output
    options by name, the last one written of each. Steps that stand for others (presets) keep
    the density as an option: it applies to the steps they expand to."""
    options = {s.name: s for s in steps if s.operation.output_only}
    expands = any(s.operation.expands for s in steps)
    density = options.pop(DENSITY).values[0] if DENSITY in options and not expands else 1
    pixels = [s.scaled(density) for s in steps if not s.operation.output_only]
    return pixels + [options[n] for n in sorted(options)]


def canonical(steps: Sequence[Step]) -> str:
    return "/".join(step.canonical() for step in ordered(steps))


@dataclass(frozen=True)
class Grammar:
    """Every operation by name, the output formats by URL extension (to the canonical
    extension), and the most operations one pipeline may have."""

    operations: Mapping[str, Operation]
    extensions: Mapping[str, str]
    max_operations: int
    max_images: int  # distinct other images one pipeline may name (each is decoded)

    def split_extension(self, path: str) -> tuple[list[str], str | None]:
        """The URL form's segments and its format's canonical extension, if the last segment
        ends in a known one (``thumbnail:256.jpeg`` → ``["thumbnail:256"], "jpg"``)."""
        segments = path.split("/")
        match = _EXTENSION.match(segments[-1])
        if match and match.group(2).lower() in self.extensions:
            segments[-1] = match.group(1)
            return segments, self.extensions[match.group(2).lower()]
        return segments, None

    def steps(self, spec: str | Sequence[Any] | None) -> tuple[Step, ...]:
        """Operations from a string (``"resize:800:600/blur:2"``), a list of strings, or a list
        of objects (``[{"op": "resize", "width": 800}]``)."""
        if not spec:
            return ()
        if isinstance(spec, str):
            spec = spec.split("/")
        if not isinstance(spec, Sequence):
            raise GrammarError("ops must be a string or a list of operations")
        if len(spec) > self.max_operations:
            raise GrammarError(
                f"a pipeline has at most {self.max_operations} operations, got {len(spec)}"
            )
        steps = tuple(self.step(item, f"ops[{index}]") for index, item in enumerate(spec))
        self.check_images(steps)
        return steps

    def check_images(self, steps: Sequence[Step]) -> None:
        """Refuse a pipeline naming more distinct other images than ``max_images``."""
        named = set().union(*(step.image_ids() for step in steps))
        if len(named) > self.max_images:
            raise GrammarError(
                f"a pipeline may name at most {self.max_images} other images, got {len(named)}"
            )

    def step(self, item: Any, where: str = "ops") -> Step:
        """One operation in the URL form (``"resize:800:600"``) or the JSON object form."""
        if isinstance(item, str):
            name, *raw = item.split(":") if item else [""]
            return self.build(self.lookup(name, where), where, positional=raw)
        if isinstance(item, Mapping):
            named = dict(item)
            return self.build(self.lookup(named.pop("op", None), where), where, named=named)
        raise GrammarError(f"an operation is a string or an object, got {echo(item)}", where)

    def lookup(self, name: Any, where: str = "ops") -> Operation:
        operation = self.operations.get(name.lower()) if isinstance(name, str) else None
        if operation is None:
            shown = "an empty segment" if name in ("", None) else echo(name)
            raise GrammarError(
                f"unknown operation {shown}; valid: {', '.join(sorted(self.operations))}", where
            )
        return operation

    def build(
        self,
        operation: Operation,
        where: str = "ops",
        positional: Sequence[Any] | None = None,
        named: Mapping[str, Any] | None = None,
    ) -> Step:
        """A checked step from positional or named arguments (missing, None or "": default)."""
        form = _choose_form(operation, where, positional, named)
        args: dict[str, Any] = {}
        try:
            for index, param in enumerate(form):
                if named is not None:
                    given = named.get(param.name)
                else:
                    given = positional[index] if positional and index < len(positional) else None
                if given is None or given == "":
                    if param.required:
                        raise ArgumentError(f"{param.name} is required")
                    args[param.name] = param.default_for(args)
                else:
                    args[param.name] = param.parse(given)
            operation.settle(form, args)
            problem = operation.check(args)
            if problem:
                raise ArgumentError(problem)
        except ArgumentError as error:
            raise GrammarError(
                f"{operation.name}: {error}; usage: {operation.usage()}", where
            ) from None
        return Step(operation, form, tuple(args[p.name] for p in form))

    def to_json(self) -> dict[str, Any]:
        """The grammar as data: what the client, the OpenAPI document and the docs are
        generated from."""
        return {
            "max_operations": self.max_operations,
            "max_images": self.max_images,
            "extensions": dict(self.extensions),
            "operations": [_operation_json(op) for op in self.operations.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Grammar:
        operations = (_operation_from_json(op) for op in data["operations"])
        return cls(
            {op.name: op for op in operations},
            data["extensions"],
            data["max_operations"],
            data["max_images"],
        )


def _choose_form(
    operation: Operation,
    where: str,
    positional: Sequence[Any] | None,
    named: Mapping[str, Any] | None,
) -> tuple[Param, ...]:
    for form in operation.forms:
        required = {p.name for p in form if p.required}
        if positional is not None and len(required) <= len(positional) <= len(form):
            return form
        if named is not None and set(named) <= {p.name for p in form} and required <= set(named):
            return form
    if named is not None:
        known = sorted({p.name for form in operation.forms for p in form})
        unknown = sorted(set(named) - set(known))
        if unknown:
            detail = f"unknown argument {echo(unknown[0])}; arguments: {', '.join(known)}"
        elif len(operation.forms) == 1:
            return operation.forms[0]  # building it names the missing argument
        else:
            detail = f"no form takes exactly {', '.join(sorted(named))}; usage: {operation.usage()}"
        raise GrammarError(f"{operation.name}: {detail}", where)
    raise GrammarError(
        f"{operation.name}: wrong number of arguments ({len(positional or [])}); "
        f"usage: {operation.usage()}",
        where,
    )


# --- the grammar as data ---------------------------------------------------------------------

_PARAM_DEFAULTS = Param("", "int")
_OPERATION_DEFAULTS = Operation("", (), "")


def _param_json(param: Param) -> dict[str, Any]:
    data = {
        key: getattr(param, key)
        for key in Param.__dataclass_fields__
        if getattr(param, key) != getattr(_PARAM_DEFAULTS, key) or key in ("name", "kind")
    }
    if param.kind == "colour" and param.default is not None:
        data["default"] = param.format(param.default)
    if "choices" in data:
        data["choices"] = list(param.choices)
    return data


def _param_from_json(data: Mapping[str, Any]) -> Param:
    param = Param(**{**data, "choices": tuple(data.get("choices", ()))})
    if param.kind == "colour" and param.default is not None:
        return Param(**{**data, "default": param.parse(param.default)})
    return param


def _operation_json(operation: Operation) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": operation.name,
        "summary": operation.summary,
        "usage": operation.usage(),
        "forms": [[_param_json(p) for p in form] for form in operation.forms],
    }
    for key in ("output_only", "sets", "not_all_zero", "only_with", "notes", "expands"):
        value = getattr(operation, key)
        if value != getattr(_OPERATION_DEFAULTS, key):
            data[key] = list(value) if isinstance(value, tuple) else value
    return data


def _operation_from_json(data: Mapping[str, Any]) -> Operation:
    return Operation(
        name=data["name"],
        forms=tuple(tuple(_param_from_json(p) for p in form) for form in data["forms"]),
        summary=data["summary"],
        output_only=data.get("output_only", False),
        sets=data.get("sets"),
        not_all_zero=tuple(data.get("not_all_zero", ())),
        only_with=tuple(
            (name, other, tuple(values)) for name, other, values in data.get("only_with", ())
        ),
        notes=data.get("notes", ""),
        expands=data.get("expands", False),
    )
