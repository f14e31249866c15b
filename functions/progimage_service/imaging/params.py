"""Typed, bounded operation arguments: parsed from URL text or JSON values, printed canonically.

Every value is checked here, before any of it reaches Pillow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..ids import is_valid_id
from ..inputs import echo

GRAVITIES = (
    "center",
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
)

Colour = tuple[int, int, int, int]  # RGBA
_HEX = re.compile(r"[0-9a-fA-F]{6}([0-9a-fA-F]{2})?")


class ArgumentError(ValueError):
    """An argument that does not fit its parameter; the parser adds which operation."""


@dataclass(frozen=True)
class Param:
    """One named argument: its type, bounds and default.

    ``default`` may be a function of the arguments before it (thumbnail's height is its width).
    """

    name: str
    kind: str  # int, float, choice, colour, image, shape
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is excluded
    choices: Sequence[str] = ()
    default: Any = None
    required: bool = True
    doc: str = ""

    def default_for(self, earlier: Mapping[str, Any]) -> Any:
        return self.default(earlier) if callable(self.default) else self.default

    def parse(self, raw: Any) -> Any:
        """Check and convert one value (a URL string, or any JSON value)."""
        match self.kind:
            case "int":
                return self._bounded(self._number(raw, integral=True))
            case "float":
                return self._bounded(self._number(raw, integral=False))
            case "choice":
                return self._choice(raw)
            case "colour":
                return self._colour(raw)
            case "image":
                if isinstance(raw, str) and is_valid_id(raw):
                    return raw
                raise ArgumentError(f"{self.name} must be an image id, got {echo(raw)}")
            case "shape":
                if isinstance(raw, str) and (raw.lower() in self.choices or is_valid_id(raw)):
                    return raw.lower() if raw.lower() in self.choices else raw
                raise ArgumentError(
                    f"{self.name} must be one of {', '.join(self.choices)} or an image id, "
                    f"got {echo(raw)}"
                )
        raise AssertionError(self.kind)

    def format(self, value: Any) -> str:
        """The canonical text of a value."""
        if value is None:
            return ""
        if self.kind == "float":
            return _float_text(value)
        if self.kind == "colour":
            return "".join(f"{c:02x}" for c in (value if value[3] != 255 else value[:3]))
        return str(value)

    def usage(self) -> str:
        return f":{self.name.upper()}" if self.required else f"[:{self.name.upper()}]"

    def _number(self, raw: Any, *, integral: bool) -> float:
        kind = "an integer" if integral else "a number"
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
            raise ArgumentError(f"{self.name} must be in {low}, {high}, got {_num(value)}")
        return value

    def _choice(self, raw: Any) -> str:
        value = raw.lower() if isinstance(raw, str) else raw
        if value not in self.choices:
            raise ArgumentError(
                f"{self.name} must be one of {', '.join(self.choices)}, got {echo(raw)}"
            )
        return value

    def _colour(self, raw: Any) -> Colour:
        text = raw.removeprefix("#") if isinstance(raw, str) else ""
        if not _HEX.fullmatch(text):
            raise ArgumentError(f"{self.name} must be a colour RRGGBB or RRGGBBAA, got {echo(raw)}")
        values = [int(text[i : i + 2], 16) for i in range(0, len(text), 2)]
        return (values[0], values[1], values[2], values[3] if len(values) == 4 else 255)


def _float_text(value: float) -> str:
    """The shortest text that reads back as the same number (so 1.0 and 1 print alike)."""
    text = repr(float(value))
    return text.removesuffix(".0")


def _num(value: float) -> str:
    return _float_text(value) if isinstance(value, float) else echo(value)


def integer(name: str, low: int, high: int, **kw: Any) -> Param:
    return Param(name, "int", low, high, **kw)


def number(name: str, low: float, high: float, **kw: Any) -> Param:
    return Param(name, "float", low, high, **kw)


def choice(name: str, choices: Sequence[str], **kw: Any) -> Param:
    return Param(name, "choice", choices=tuple(choices), **kw)


def colour(name: str, **kw: Any) -> Param:
    return Param(name, "colour", **kw)


def image_id(name: str, **kw: Any) -> Param:
    return Param(name, "image", **kw)


def optional(default: Any | Callable[[Mapping[str, Any]], Any]) -> dict[str, Any]:
    """Keyword arguments making a parameter optional with this default."""
    return {"required": False, "default": default}
