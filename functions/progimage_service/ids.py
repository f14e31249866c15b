"""Image ids: 25 base62 characters, time-sortable, with 96 random bits.

The first 48 bits are the creation time in milliseconds and the last 96 are random, encoded as a
fixed-width base62 number in ASCII order, so ids sort by creation time as plain strings and cannot
be guessed.
"""

from __future__ import annotations

import re
import secrets
import time

from .errors import NotFound
from .imaging.grammar import echo
from .imaging.registry import ID_LENGTH, ID_PATTERN

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(ID_PATTERN)


def new_id(now_ms: int | None = None) -> str:
    """A new id for the current (or given) millisecond."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    number = (ms << 96) | secrets.randbits(96)
    chars = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.fullmatch(value))


def unknown(value: str, what: str = "image", param: str = "id") -> NotFound:
    """The one answer for an id that names nothing the caller may see: malformed, unknown,
    deleted, or another tenant's all read alike."""
    return NotFound(f"no {what} with id {echo(value)}", param=param)


def check_id(value: str, what: str = "image", param: str = "id") -> str:
    """Return the id, or raise NotFound for anything that cannot be one (before any AWS call)."""
    if not is_valid_id(value):
        raise unknown(value, what, param)
    return value
