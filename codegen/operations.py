"""Everything generated from the operation registry, and where it goes.

The registry (functions/progimage_service/imaging/registry.py) is the one definition of every
operation. From its export, ``GRAMMAR.to_json()``, this writes:

- the client's grammar (a copy of the server's grammar.py) and its operation table and builder
  methods (client/src/progimage/_grammar.py, _operations.py);
- the OpenAPI document's pipeline table and operation names (openapi/openapi.yaml);
- the client README's and the API reference's operation tables.

In documents, only the lines between ``BEGIN generated:NAME`` and ``END generated:NAME`` are
written; everything else is prose kept by hand.
"""

from __future__ import annotations

import pprint
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from progimage_service.imaging import grammar
from progimage_service.imaging.registry import GRAMMAR

ROOT = Path(__file__).resolve().parent.parent
HEADER = "# Generated from the server's operation registry by `make generate`: do not edit.\n"
_GRAMMAR_SOURCE = Path(grammar.__file__)


def export() -> dict[str, Any]:
    return GRAMMAR.to_json()


# --- the client ---------------------------------------------------------------------------------


def client_grammar() -> str:
    return (
        HEADER + "# Its source is the server's imaging/grammar.py.\n" + _GRAMMAR_SOURCE.read_text()
    )


_PYTHON_TYPES = {"int": "int", "float": "float", "colour": "Colour", "image": "str", "name": "str"}


def _alias(param: Mapping[str, Any]) -> str:
    return "".join(part.capitalize() for part in param["name"].split("_"))


Aliases = dict[tuple[str, tuple[str, ...]], str]


def _choice_aliases(data: Mapping[str, Any]) -> Aliases:
    """A ``Literal`` alias per parameter name and its choices (``Fit``, ``Gravity``, ``Shape``):
    a name whose choices differ from an earlier operation's gets its operation's name in front
    (watermark's compass-only ``WatermarkGravity``)."""
    aliases: Aliases = {}
    for op in data["operations"]:
        for form in op["forms"]:
            for param in form:
                key = (param["name"], tuple(param.get("choices", ())))
                if key[1] and key not in aliases:
                    taken = any(name == key[0] for name, _ in aliases)
                    aliases[key] = (op["name"].capitalize() if taken else "") + _alias(param)
    return aliases


def _annotation(param: Mapping[str, Any], aliases: Aliases) -> str:
    alias = aliases.get((param["name"], tuple(param.get("choices", ()))), "")
    if param["kind"] == "choice":
        return alias
    if param["kind"] == "shape":
        return f"{alias} | str"
    if param.get("choices"):  # a number that also takes words (quality: auto)
        return f"{_PYTHON_TYPES[param['kind']]} | {alias}"
    return _PYTHON_TYPES[param["kind"]]


@dataclass(frozen=True)
class _Argument:
    """One parameter of a builder method."""

    name: str
    annotation: str
    default: str | None  # its text; None: required
    keyword_only: bool


def _arguments(op: Mapping[str, Any], aliases: Aliases) -> list[_Argument]:
    """A builder method's parameters.

    They follow the last form; an operation of several forms (crop) takes the other forms'
    parameters by keyword only, and its optional arguments default to None, so that the names
    given choose the form, as in the JSON object form. A side that may be 0 while the other is
    not (resize's) defaults to 0.
    """
    forms, several = op["forms"], len(op["forms"]) > 1
    last = {p["name"]: p for p in forms[-1]}
    others = {p["name"]: p for form in forms[:-1] for p in form if p["name"] not in last}
    arguments = []
    for name, param in [*last.items(), *others.items()]:
        annotation = _annotation(param, aliases)
        keyword_only = name in others
        if name in op.get("not_all_zero", ()):
            default = "0"
        elif param.get("required", True) and not keyword_only:
            default = None
        elif several or param.get("default_from") or param.get("default") is None:
            annotation, default = f"{annotation} | None", "None"
        else:
            default = repr(param["default"])
        arguments.append(_Argument(name, annotation, default, keyword_only))
    return arguments


def _parameters(arguments: list[_Argument], *, typed: bool) -> list[str]:
    parts = []
    for argument in arguments:
        if argument.keyword_only and "*" not in parts:
            parts.append("*")
        text = f"{argument.name}: {argument.annotation}" if typed else argument.name
        if argument.default is not None:
            text += f" = {argument.default}" if typed else f"={argument.default}"
        parts.append(text)
    return parts


def _bounds(param: Mapping[str, Any]) -> str:
    low, high = param.get("low"), param.get("high")
    if low is None and high is None:
        return ""
    left = f"{_number(low)} <" if param.get("low_open") else f"{_number(low)} ≤"
    return f"{left} {param['name']} ≤ {_number(high)}"


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _describe(param: Mapping[str, Any]) -> str:
    """One parameter in words: bounds or choices, default, and its note."""
    kind = param["kind"]
    if kind in ("int", "float"):
        text = _bounds(param) + "".join(f" or {word}" for word in param.get("choices", ()))
        if param.get("pixels"):
            text += " px (× dpr)"
    elif kind == "choice":
        text = f"{param['name']}: {', '.join(param['choices'])}"
    elif kind == "colour":
        text = f"{param['name']}: RRGGBB or RRGGBBAA"
    elif kind == "image":
        text = f"{param['name']}: an image id"
    elif kind == "name":
        text = f"{param['name']}: a preset's name"
    else:
        text = f"{param['name']}: {', '.join(param['choices'])} or an image id"
    if param.get("default_from"):
        text += f" (default: the {param['default_from']})"
    elif not param.get("required", True) and param.get("default") is not None:
        text += f" (default {param['default']})"
    if param.get("doc"):
        text += f"; {param['doc']}"
    return text


def _docstring(op: Mapping[str, Any]) -> list[str]:
    summary = op["summary"]
    lines = [f'"""{summary[0].upper()}{summary[1:]}.', "", f"``{op['usage']}``"]
    described = {}
    for form in op["forms"]:
        for param in form:
            described.setdefault(param["name"], _describe(param))
    if described:
        lines.append("")
        lines += [f"- {text}" for text in described.values()]
    lines.append('"""')
    return [wrapped for line in lines for wrapped in (_wrap(line) if line[:2] == "- " else [line])]


def _method(op: Mapping[str, Any], aliases: Aliases) -> list[str]:
    arguments = _arguments(op, aliases)
    parameters = "".join(f", {p}" for p in _parameters(arguments, typed=True))
    call = "".join(f", {a.name}={a.name}" for a in arguments)
    return [
        f"def {op['name']}(self: _P{parameters}) -> _P:",
        *(f"    {line}" if line else "" for line in _docstring(op)),
        f"    return self._then({op['name']!r}{call})",
    ]


def _wrap(line: str, width: int = 88) -> list[str]:
    """A docstring's list item cut into lines of at most ``width``, continued indented."""
    lines, current = [], ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = "  " + word
        else:
            current = f"{current} {word}" if current else word
    return [*lines, current]


def client_operations() -> str:
    data = export()
    aliases = _choice_aliases(data)
    table = pprint.pformat(data, width=92, sort_dicts=False, compact=True)
    out = [
        HEADER.rstrip("\n"),
        '"""The operation table and builder methods, one per operation of the registry."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any, Literal, TypeVar",
        "",
        "from ._grammar import Grammar",
        "",
        "GRAMMAR = Grammar.from_json(",
        *(f"    {line}" for line in table.splitlines()),
        ")",
        "",
        "Colour = str | tuple[int, int, int] | tuple[int, int, int, int]",
        '"""``"ff8800"``, ``"#FF8800"``, ``"ff880080"`` (with alpha), or ``(255, 136, 0[, 128])``.'
        '"""',
        *(
            f"{alias} = Literal[{', '.join(repr(c) for c in choices)}]"
            for (_, choices), alias in aliases.items()
        ),
        "",
        '_P = TypeVar("_P", bound="Operations")',
        "",
        "",
        "class Operations:",
        '    """One method per operation; each returns a new pipeline with that step added."""',
        "",
        "    def _then(self: _P, name: str, **args: Any) -> _P:",
        "        raise NotImplementedError",
    ]
    for op in data["operations"]:
        out += ["", *(f"    {line}" if line else "" for line in _method(op, aliases))]
    return _formatted("\n".join(out) + "\n")


def _formatted(source: str) -> str:
    """Python source as the repository's formatter prints it."""
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), "format", "--stdin-filename", "generated.py", "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


# --- documents ----------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def pipeline_table() -> list[str]:
    """The URL form's usage and summary of every operation (the OpenAPI pipeline parameter)."""
    return [
        "| operation | what it does |",
        "|---|---|",
        *(f"| `{_cell(op['usage'])}` | {_cell(op['summary'])} |" for op in export()["operations"]),
    ]


def reference_table() -> list[str]:
    """Every operation's arguments, bounds and details (the API reference)."""
    rows = ["| operation | arguments | details |", "|---|---|---|"]
    for op in export()["operations"]:
        args = {p["name"]: _describe(p) for form in op["forms"] for p in form}
        details = op["summary"] + (f"; {op['notes']}" if op.get("notes") else "")
        arguments = "; ".join(args.values()) or "—"
        rows.append(f"| `{_cell(op['usage'])}` | {_cell(arguments)} | {_cell(details)} |")
    return rows


def client_table() -> list[str]:
    """The client's builder methods beside the URL form they print."""
    rows = ["| method | URL form | what it does |", "|---|---|---|"]
    data = export()
    aliases = _choice_aliases(data)
    for op in data["operations"]:
        params = ", ".join(_parameters(_arguments(op, aliases), typed=False))
        rows.append(
            f"| `{op['name']}({params})` | `{_cell(op['usage'])}` | {_cell(op['summary'])} |"
        )
    return rows


def operation_names() -> list[str]:
    return [f"- {op['name']}" for op in export()["operations"]]


def replace_block(text: str, name: str, lines: list[str]) -> str:
    """``text`` with the lines between the markers of block ``name`` replaced, each indented
    like the BEGIN marker."""
    pattern = re.compile(
        rf"^(?P<indent>[ \t]*)[^\n]*BEGIN generated:{name}\b[^\n]*\n(?P<body>.*?)"
        rf"^(?P<end>[^\n]*END generated:{name}\b)",
        re.M | re.S,
    )
    match = pattern.search(text)
    if match is None:
        raise ValueError(f"no block {name!r} (BEGIN/END generated:{name})")
    indent = match["indent"]
    body = "".join(f"{indent}{line}\n" if line else "\n" for line in lines)
    return text[: match.start("body")] + body + text[match.start("end") :]


def _document(blocks: Mapping[str, Callable[[], list[str]]]) -> Callable[[str], str]:
    def render(text: str) -> str:
        for name, lines in blocks.items():
            text = replace_block(text, name, lines())
        return text

    return render


# Each generated file: its path from the root, and how its new text follows from its old one.
TARGETS: dict[str, Callable[[str], str]] = {
    "client/src/progimage/_grammar.py": lambda _: client_grammar(),
    "client/src/progimage/_operations.py": lambda _: client_operations(),
    "client/README.md": _document({"operations": client_table}),
    "openapi/openapi.yaml": _document(
        {"operations": pipeline_table, "operation-names": operation_names}
    ),
    "docs/API.md": _document({"operations": reference_table}),
}


def _read(path: str) -> str:
    file = ROOT / path
    return file.read_text() if file.exists() else ""


def stale() -> list[str]:
    """The generated files that differ from what the registry generates now."""
    return [path for path, render in TARGETS.items() if _read(path) != render(_read(path))]


def write() -> list[str]:
    """Regenerate every target; the paths that changed."""
    changed = stale()
    for path in changed:
        (ROOT / path).write_text(TARGETS[path](_read(path)))
    return changed
