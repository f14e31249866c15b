"""Hypothesis strategies for pipelines, generated from the operation registry.

Every operation, form and parameter comes from ``REGISTRY``, so a new operation is covered
without touching this file. Specs come in the three forms the contract accepts: the URL path,
the JSON string, and JSON objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from progimage_service.imaging.formats import EXTENSIONS
from progimage_service.imaging.grammar import Operation, Param
from progimage_service.imaging.registry import REGISTRY

# Ids of the other images a pipeline may name (masks, watermarks); the tests supply their bytes.
MASK_ID = "M" * 25
MARK_ID = "0123456789abcdefghijKLMNO"
IDS = (MASK_ID, MARK_ID)

# Sizes drawn for rendering stay small, with the registry's edges now and then: a render is then
# fast, and the edges are refused from the arithmetic before anything is allocated.
RENDER_SIDE = 300


@dataclass(frozen=True)
class Spec:
    """One generated operation: its URL text, its JSON object, and whether it must parse."""

    text: str
    obj: dict[str, Any]
    valid: bool


def _case(text: str) -> st.SearchStrategy[str]:
    return st.sampled_from([text, text.upper(), text.capitalize()])


def _number_text(value: float, integral: bool) -> st.SearchStrategy[str]:
    if integral:
        return st.sampled_from([str(int(value)), f"+{int(value)}", f"0{int(value)}"])
    return st.sampled_from([repr(value), f"{value:.17e}", f"+{value!r}".replace("+-", "-")])


def valid_value(param: Param, render: bool) -> st.SearchStrategy[tuple[str, Any]]:
    """(URL text, JSON value) pairs of an argument within its bounds: a number's words too
    (``quality:auto``), in any case."""
    number = _number_value(param, render)
    if param.kind in ("int", "float") and param.choices:
        # A word a quarter of the time: quality:auto renders several encodes.
        words = st.sampled_from(list(param.choices)).flatmap(_case).map(lambda t: (t, t))
        return st.integers(0, 3).flatmap(lambda k: words if k == 0 else number)
    return number


def _number_value(param: Param, render: bool) -> st.SearchStrategy[tuple[str, Any]]:
    match param.kind:
        case "int":
            low, high = int(param.low or 0), int(param.high or 0)
            top = min(high, RENDER_SIDE) if render and high > RENDER_SIDE else high
            ints = st.integers(low, top) | st.sampled_from([low, high])
            return ints.flatmap(lambda v: _number_text(v, True).map(lambda t: (t, v)))
        case "float":
            low, high = float(param.low or 0), float(param.high or 0)
            floats = st.floats(low, high, exclude_min=param.low_open, allow_nan=False)
            floats |= st.sampled_from([high] + ([] if param.low_open else [low]))
            return floats.flatmap(lambda v: _number_text(v, False).map(lambda t: (t, v)))
        case "choice":
            return st.sampled_from(list(param.choices)).flatmap(
                lambda c: _case(c).map(lambda t: (t, t))
            )
        case "colour":
            hex_ = st.text("0123456789abcdefABCDEF", min_size=6, max_size=6)
            hex_ = hex_ | st.text("0123456789abcdef", min_size=8, max_size=8)
            return st.tuples(hex_, st.sampled_from(["", "#"])).map(
                lambda p: (p[0], p[1] + p[0]) if p[1] else (p[0], p[0])
            )
        case "image":
            return st.sampled_from(IDS).map(lambda i: (i, i))
        case "name":
            names = st.from_regex(f"{param.pattern}", fullmatch=True)
            return names.flatmap(lambda n: _case(n).map(lambda t: (t, t)))
        case "shape":
            named = st.sampled_from(list(param.choices)).flatmap(_case)
            return (named | st.sampled_from(IDS)).map(lambda s: (s, s))
    raise AssertionError(param.kind)


def invalid_value(param: Param) -> st.SearchStrategy[tuple[str, Any]]:
    """(URL text, JSON value) pairs that the parameter must refuse."""
    junk: list[tuple[str, Any]] = [
        ("x", "x"),
        ("nan", "nan"),
        ("inf", "inf"),
        ("-inf", "-inf"),
        ("1e400", 1e400),  # a JSON number too large for a float
        ("9" * 5000, "9" * 5000),
        ("\u0000", [1]),
        ("NaN", {"a": 1}),
        (" ", True),
    ]
    match param.kind:
        case "int" | "float":
            low, high = param.low or 0, param.high or 0
            out = [high + 1, high * 10 + 1, low - 1, -(2**63)]
            if param.low_open:
                out.append(low)
            if param.kind == "int":
                out.append(low + 0.5)
            numbers = st.sampled_from(out).map(
                lambda v: (repr(v) if isinstance(v, float) else str(v), v)
            )
            return numbers | st.sampled_from(junk[:7])
        case "choice":
            return st.sampled_from([("nope", "nope"), ("5", 5), ("center ", "center ")])
        case "colour":
            return st.sampled_from(
                [("fff", "fff"), ("12345", "#12345"), ("gggggg", "gggggg"), ("1234567", 1234567)]
            )
        case "image" | "shape":
            return st.sampled_from([("short", "short"), ("A" * 24, "A" * 26), ("..", "..")])
        case "name":
            return st.sampled_from([("", "-x"), ("a" * 65, "a" * 65), ("a.b", "a b"), ("é", "é")])
    raise AssertionError(param.kind)


@st.composite
def operation_spec(draw: Any, *, render: bool = False, invalid: bool = False) -> Spec:
    """One operation, in URL text and JSON object form, valid unless ``invalid``; to render,
    none that stands for a preset (a render never sees one: see Pipeline.expand)."""
    names = sorted(n for n, op in REGISTRY.items() if not (render and op.expands))
    operation: Operation = REGISTRY[draw(st.sampled_from(names))]
    form = draw(st.sampled_from(operation.forms))
    required = sum(p.required for p in form)
    count = draw(st.integers(required, len(form)))  # optional arguments are trailing
    broken = draw(st.integers(0, count - 1)) if invalid and count else None
    texts, obj, args = [], {"op": draw(_case(operation.name))}, {}
    for index, param in enumerate(form[:count]):
        pair = draw(invalid_value(param) if index == broken else valid_value(param, render))
        texts.append(pair[0])
        obj[param.name] = pair[1]
        args[param.name] = pair[1]
    for param in form[count:]:
        args[param.name] = param.default_for(args)
    valid = broken is None
    if valid:
        valid = operation.check(args) is None  # valid values are typed already (resize's sides)
    name = obj["op"]
    if invalid and broken is None:  # an operation without arguments: spoil its name instead
        name = obj["op"] = name + "x"
        valid = False
    return Spec(":".join([name, *texts]), obj, valid)


def extensions() -> st.SearchStrategy[str]:
    return st.sampled_from(["", *(f".{e}" for e in sorted(EXTENSIONS))])


@st.composite
def pipeline_specs(draw: Any, *, render: bool = False, max_ops: int = 6) -> tuple[list[Spec], bool]:
    """A list of operations, some of them invalid now and then; and whether all are valid."""
    specs = draw(
        st.lists(
            operation_spec(render=render) | operation_spec(invalid=True),
            min_size=1,
            max_size=max_ops,
        )
        if not render
        else st.lists(
            operation_spec(render=True).filter(lambda s: s.valid), min_size=0, max_size=max_ops
        )
    )
    return specs, all(s.valid for s in specs)


def as_url(specs: list[Spec], ext: str) -> str:
    return "/".join(s.text for s in specs) + ext


def as_json_objects(specs: list[Spec]) -> list[dict[str, Any]]:
    """The object form, as the JSON body of a request delivers it (through a JSON round trip)."""
    return json.loads(json.dumps([s.obj for s in specs]))


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value: what a client may send as ``ops``."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
