"""Untrusted text into values, one rule each: decimals, JSON documents, and input echoed back.

Python's own parsers accept more than an API should and fail in ways that are not client
errors: ``int()`` takes ``+5``, `` 5``, ``1_0`` and non-ASCII digits (``str.isdigit()`` takes
``²``, which ``int()`` then refuses) and raises ``ValueError`` beyond 4,300 digits; ``json.loads``
raises ``RecursionError`` on deep nesting, takes ``NaN`` and ``1e999``, and refuses long integers
with a plain ``ValueError``. Everything here answers a 400 instead, naming the parameter.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .errors import BadRequest

# How an error message quotes a client's input is the pipeline grammar's rule, which the client
# ships a copy of; every server message quotes input with it too.
from .imaging.grammar import echo

__all__ = ["MAX_JSON_DEPTH", "MAX_NUMBER_DIGITS", "decimal", "echo", "json_document", "utf8"]

_DECIMAL = re.compile(r"-?[0-9]{1,18}")  # ASCII digits only; 18 fit any 64-bit quantity
MAX_JSON_DEPTH = 32
MAX_NUMBER_DIGITS = 30


def decimal(raw: str) -> int | None:
    """The integer written as plain ASCII decimal digits (optionally negative), else None."""
    return int(raw) if _DECIMAL.fullmatch(raw) else None


def utf8(text: str) -> bytes:
    """Text as bytes, lone surrogates included (a JSON event may carry them as escapes)."""
    return text.encode("utf-8", "surrogatepass")


class _Refused(ValueError):
    """A number or constant this API does not take in JSON."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _Refused(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _real(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or len(text) > 2 * MAX_NUMBER_DIGITS:
        raise _Refused(f"the number {echo(text)} is out of range")
    return value


def _constant(name: str) -> float:
    raise _Refused(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest (iteratively: no recursion on hostile input)."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest, stack = 1, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        for child in item:
            if isinstance(child, (dict, list)):
                deepest = max(deepest, level + 1)
                stack.append((child, level + 1))
    return deepest


def json_document(data: bytes, param: str = "body") -> Any:
    """Parse a JSON body: UTF-8, finite numbers of at most 30 digits, nested at most 32 deep."""
    try:
        value = json.loads(data, parse_int=_integer, parse_float=_real, parse_constant=_constant)
    except RecursionError:
        raise BadRequest(
            f"{param} nests more than {MAX_JSON_DEPTH} levels deep", param=param
        ) from None
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError and _Refused among them
        message = str(error) if isinstance(error, _Refused) else echo(str(error))
        raise BadRequest(f"{param} is not valid JSON: {message}", param=param) from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise BadRequest(f"{param} nests more than {MAX_JSON_DEPTH} levels deep", param=param)
    return value
