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

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

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

MAX_OPERATIONS = 20
MAX_SIDE = 16384

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
Gravity = Literal[
    "center",
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
]
Fit = Literal["fit", "fill", "stretch", "pad"]
Shape = Literal["circle", "ellipse", "rounded"]

# Output formats by URL extension, to the canonical extension (``jpeg`` prints as ``jpg``).
FORMATS: dict[str, str] = {
    "jpg": "jpg",
    "jpeg": "jpg",
    "png": "png",
    "webp": "webp",
    "avif": "avif",
    "gif": "gif",
    "tiff": "tiff",
    "tif": "tiff",
    "bmp": "bmp",
    "heic": "heic",
}

Colour = str | tuple[int, int, int] | tuple[int, int, int, int]
"""``"ff8800"``, ``"#FF8800"``, ``"ff880080"`` (with alpha) or ``(255, 136, 0[, 128])``."""

_HEX = re.compile(r"[0-9a-fA-F]{6}([0-9a-fA-F]{2})?")
# Ids are opaque, but URL-safe and of at least 96 random bits (16 characters of base64url).
_ID = re.compile(r"[0-9A-Za-z_-]{16,}")


def normalize_format(fmt: str) -> str:
    """The canonical extension of an output format: ``"JPEG"`` and ``".jpg"`` give ``"jpg"``."""
    if not isinstance(fmt, str):
        raise TypeError(f"a format is a string such as 'webp', got {fmt!r}")
    key = fmt.lower().removeprefix(".")
    if key not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(sorted(set(FORMATS)))}")
    return FORMATS[key]


# --- parameters ---------------------------------------------------------------------------


def _float_text(value: float) -> str:
    """The shortest text that reads back as the same number (``1.0`` prints as ``1``)."""
    return repr(float(value)).removesuffix(".0")


@dataclass(frozen=True)
class _Param:
    name: str
    kind: str  # int, float, choice, colour, image, shape
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    required: bool = True
    default: Any = None  # a value, or a function of the earlier arguments

    def default_for(self, earlier: Mapping[str, Any]) -> Any:
        return self.default(earlier) if callable(self.default) else self.default

    def usage(self) -> str:
        return f":{self.name.upper()}" if self.required else f"[:{self.name.upper()}]"

    def check(self, raw: Any) -> Any:
        """The value as the server will read it back from its canonical text, or ValueError."""
        if self.kind == "int":
            return self._bounded(self._integer(raw))
        if self.kind == "float":
            return self._bounded(self._number(raw))
        if self.kind == "choice":
            value = raw.lower() if isinstance(raw, str) else raw
            if value not in self.choices:
                raise ValueError(
                    f"{self.name} must be one of {', '.join(self.choices)}, got {raw!r}"
                )
            return value
        if self.kind == "colour":
            return _colour(self.name, raw)
        if self.kind == "image":
            return _image_id(self.name, raw)
        if self.kind == "shape":
            if isinstance(raw, str) and raw.lower() in self.choices:
                return raw.lower()
            if isinstance(raw, str) and _ID.fullmatch(raw):
                return raw
            raise ValueError(
                f"{self.name} must be one of {', '.join(self.choices)} or an image id, got {raw!r}"
            )
        raise AssertionError(self.kind)

    def text(self, value: Any) -> str:
        if value is None:
            return ""
        if self.kind == "float":
            return _float_text(value)
        if self.kind == "colour":
            return "".join(f"{c:02x}" for c in (value if value[3] != 255 else value[:3]))
        return str(value)

    def _integer(self, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ValueError(f"{self.name} must be an integer, got {raw!r}")
        try:
            value = float(raw) if isinstance(raw, float) else int(raw)
        except (ValueError, OverflowError):
            raise ValueError(f"{self.name} must be an integer, got {raw!r}") from None
        if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
            raise ValueError(f"{self.name} must be an integer, got {raw!r}")
        return int(value)

    def _number(self, raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ValueError(f"{self.name} must be a number, got {raw!r}")
        try:
            value = float(raw)
        except (ValueError, OverflowError):
            raise ValueError(f"{self.name} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"{self.name} must be a finite number, got {raw!r}")
        return value

    def _bounded(self, value: float) -> Any:
        too_low = self.low is not None and (
            value < self.low or (self.low_open and value == self.low)
        )
        too_high = self.high is not None and value > self.high
        if too_low or too_high:
            low = "" if self.low is None else ("(" if self.low_open else "[") + f"{self.low:g}"
            high = "" if self.high is None else f"{self.high:g}]"
            raise ValueError(f"{self.name} must be in {low}, {high}, got {self.text(value)}")
        return value


def _colour(name: str, raw: Any) -> tuple[int, int, int, int]:
    if isinstance(raw, tuple) and len(raw) in (3, 4):
        if all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in raw):
            return (raw[0], raw[1], raw[2], raw[3] if len(raw) == 4 else 255)
    elif isinstance(raw, str):
        text = raw.removeprefix("#")
        if _HEX.fullmatch(text):
            values = [int(text[i : i + 2], 16) for i in range(0, len(text), 2)]
            return (values[0], values[1], values[2], values[3] if len(values) == 4 else 255)
    raise ValueError(
        f"{name} must be a colour RRGGBB or RRGGBBAA (or an (r, g, b[, a]) tuple), got {raw!r}"
    )


def _image_id(name: str, raw: Any) -> str:
    if isinstance(raw, str) and _ID.fullmatch(raw):
        return raw
    raise ValueError(f"{name} must be an image id, got {raw!r}")


def _int(name: str, low: int, high: int, **kw: Any) -> _Param:
    return _Param(name, "int", low, high, **kw)


def _num(name: str, low: float, high: float, **kw: Any) -> _Param:
    return _Param(name, "float", low, high, **kw)


def _choice(name: str, choices: Sequence[str], **kw: Any) -> _Param:
    return _Param(name, "choice", choices=tuple(choices), **kw)


def _optional(default: Any) -> dict[str, Any]:
    return {"required": False, "default": default}


@dataclass(frozen=True)
class _Operation:
    name: str
    forms: tuple[tuple[_Param, ...], ...]
    output_only: bool = False
    check: Callable[[Mapping[str, Any]], str | None] | None = None

    def usage(self) -> str:
        return " or ".join(self.name + "".join(p.usage() for p in form) for form in self.forms)


def _one_side(args: Mapping[str, Any]) -> str | None:
    return "width and height cannot both be 0" if not args["width"] and not args["height"] else None


def _operations() -> dict[str, _Operation]:
    ops = [
        _Operation(
            "resize",
            (
                (
                    _int("width", 0, MAX_SIDE),
                    _int("height", 0, MAX_SIDE),
                    _choice("fit", ("fit", "fill", "stretch", "pad"), **_optional("fit")),
                ),
            ),
            check=_one_side,
        ),
        _Operation(
            "thumbnail",
            (
                (
                    _int("width", 1, MAX_SIDE),
                    _int("height", 1, MAX_SIDE, **_optional(lambda args: args["width"])),
                ),
            ),
        ),
        _Operation(
            "crop",
            (
                (
                    _int("x", 0, MAX_SIDE),
                    _int("y", 0, MAX_SIDE),
                    _int("width", 1, MAX_SIDE),
                    _int("height", 1, MAX_SIDE),
                ),
                (
                    _int("width", 1, MAX_SIDE),
                    _int("height", 1, MAX_SIDE),
                    _choice("gravity", GRAVITIES, **_optional("center")),
                ),
            ),
        ),
        _Operation(
            "rotate",
            ((_num("angle", -3600, 3600), _Param("background", "colour", **_optional(None))),),
        ),
        _Operation("flip", ((_choice("direction", ("h", "v")),),)),
        _Operation("grayscale", ((),)),
        _Operation("sepia", ((),)),
        _Operation("invert", ((),)),
        _Operation("equalize", ((),)),
        _Operation("autocontrast", ((),)),
        _Operation("blur", ((_num("sigma", 0, 100, low_open=True),),)),
        _Operation(
            "sharpen",
            (
                (
                    _num("amount", 0, 10, **_optional(1.0)),
                    _num("radius", 0, 100, low_open=True, **_optional(2.0)),
                ),
            ),
        ),
        _Operation("brightness", ((_num("factor", 0, 10),),)),
        _Operation("contrast", ((_num("factor", 0, 10),),)),
        _Operation("saturation", ((_num("factor", 0, 10),),)),
        _Operation("pixelate", ((_int("size", 1, 1024),),)),
        _Operation("posterize", ((_int("bits", 1, 8),),)),
        _Operation("tint", ((_Param("colour", "colour"),),)),
        _Operation(
            "mask",
            (
                (
                    _Param("shape", "shape", choices=("circle", "ellipse", "rounded")),
                    _int("radius", 0, MAX_SIDE, **_optional(0)),
                ),
            ),
        ),
        _Operation(
            "watermark",
            (
                (
                    _Param("image", "image"),
                    _choice("gravity", GRAVITIES, **_optional("southeast")),
                    _num("opacity", 0, 1, **_optional(0.5)),
                    _num("scale", 0, 1, low_open=True, **_optional(0.25)),
                ),
            ),
        ),
        _Operation("background", ((_Param("colour", "colour"),),)),
        _Operation("quality", ((_int("quality", 1, 100),),), output_only=True),
        _Operation("maxbytes", ((_int("bytes", 100, 1_000_000_000),),), output_only=True),
    ]
    return {op.name: op for op in ops}


_OPS = _operations()
OPERATIONS: tuple[str, ...] = tuple(sorted(_OPS))
"""The names of the operations this client knows (the server may know more)."""


# --- steps and pipelines ------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    operation: _Operation
    form: tuple[_Param, ...]
    values: tuple[Any, ...]

    @property
    def args(self) -> dict[str, Any]:
        return {p.name: v for p, v in zip(self.form, self.values, strict=True)}

    def canonical(self) -> str:
        texts = [p.text(v) for p, v in zip(self.form, self.values, strict=True)]
        args = self.args
        while texts:
            param = self.form[len(texts) - 1]
            if param.required or args[param.name] != param.default_for(args):
                break
            texts.pop()
        return ":".join([self.operation.name, *texts])

    def to_json(self) -> dict[str, Any]:
        """The JSON object form, ``{"op": "resize", "width": 800, ...}`` (defaults left out)."""
        obj: dict[str, Any] = {"op": self.operation.name}
        args = self.args
        for param, value in zip(self.form, self.values, strict=True):
            if not param.required and value == param.default_for(args):
                continue
            obj[param.name] = param.text(value) if param.kind == "colour" else value
        return obj


def _build(name: str, values: Sequence[Any], form_index: int | None = None) -> _Step:
    """A step from positional values (``None`` or missing: the default), checked."""
    operation = _OPS.get(name.lower()) if isinstance(name, str) else None
    if operation is None:
        raise ValueError(f"unknown operation {name!r}; valid: {', '.join(OPERATIONS)}")
    if form_index is None:
        candidates = [
            form
            for form in operation.forms
            if sum(p.required for p in form) <= len(values) <= len(form)
        ]
        if not candidates:
            raise ValueError(
                f"{operation.name}: wrong number of arguments ({len(values)}); "
                f"usage: {operation.usage()}"
            )
        form = candidates[0]
    else:
        form = operation.forms[form_index]
    args: dict[str, Any] = {}
    try:
        for index, param in enumerate(form):
            given = values[index] if index < len(values) else None
            if given is None or given == "":
                if param.required:
                    raise ValueError(f"{param.name} is required")
                args[param.name] = param.default_for(args)
            else:
                args[param.name] = param.check(given)
        problem = operation.check(args) if operation.check else None
        if problem:
            raise ValueError(problem)
    except ValueError as error:
        raise ValueError(f"{operation.name}: {error}; usage: {operation.usage()}") from None
    return _Step(operation, form, tuple(args[p.name] for p in form))


_P = TypeVar("_P", bound="Pipeline")


class Pipeline:
    """An immutable, ordered list of operations and an optional output format.

    Build one with the methods below (each returns a new pipeline), or parse the URL form with
    :meth:`parse`. ``str(pipeline)`` is the URL form with the extension
    (``"thumbnail:256.webp"``); :meth:`canonical` is the operations alone, exactly as the
    server prints its canonical form.
    """

    __slots__ = ("_format", "_steps")

    def __init__(self) -> None:
        self._steps: tuple[_Step, ...] = ()
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
        segments = text.split("/") if text else []
        if segments:
            head, dot, ext = segments[-1].rpartition(".")
            if dot and re.fullmatch(r"[A-Za-z]{3,4}", ext) and ext.lower() in FORMATS:
                segments[-1] = head
                pipeline = pipeline.format(ext)
        if len(segments) > MAX_OPERATIONS:
            raise ValueError(
                f"a pipeline has at most {MAX_OPERATIONS} operations, got {len(segments)}"
            )
        for segment in segments:
            name, *raw = segment.split(":") if segment else [""]
            if not name:
                raise ValueError(f"unknown operation: an empty segment in {text!r}")
            pipeline = pipeline._add(_build(name, raw))
        return pipeline

    def _copy(self: _P, steps: tuple[_Step, ...], fmt: str | None) -> _P:
        new = object.__new__(type(self))
        new._steps, new._format = steps, fmt
        return new

    def _add(self: _P, step: _Step) -> _P:
        steps = self._steps
        if step.operation.output_only:  # the last one given wins
            steps = tuple(s for s in steps if s.operation is not step.operation)
        steps = (*steps, step)
        if len(steps) > MAX_OPERATIONS:
            raise ValueError(f"a pipeline has at most {MAX_OPERATIONS} operations")
        return self._copy(steps, self._format)

    def then(self: _P, other: Pipeline) -> _P:
        """This pipeline followed by another's operations; the other's format wins if set."""
        result = self
        for step in other._steps:
            result = result._add(step)
        return result._copy(result._steps, other._format or self._format)

    __add__ = then

    # -- geometry ------------------------------------------------------------------------

    def resize(self: _P, width: int = 0, height: int = 0, fit: Fit = "fit") -> _P:
        """Resize to ``width`` x ``height``; 0 keeps the aspect ratio from the other side.

        ``fit``: ``"fit"`` inside the box, ``"fill"`` cover it and centre-crop to exactly that
        size, ``"stretch"`` to exactly that size, ``"pad"`` fit then pad to the box.
        """
        return self._add(_build("resize", (width, height, fit)))

    def thumbnail(self: _P, width: int, height: int | None = None) -> _P:
        """Shrink to fit inside ``width`` x ``height`` (a square if no height); never enlarge."""
        return self._add(_build("thumbnail", (width, height)))

    def crop(
        self: _P,
        width: int,
        height: int,
        gravity: Gravity | None = None,
        *,
        x: int | None = None,
        y: int | None = None,
    ) -> _P:
        """Crop ``width`` x ``height`` at ``x``, ``y``, or placed by ``gravity`` (the centre)."""
        if (x is None) != (y is None):
            raise ValueError("crop: give both x and y, or neither")
        if x is not None:
            if gravity is not None:
                raise ValueError("crop: give either x and y or a gravity, not both")
            return self._add(_build("crop", (x, y, width, height), form_index=0))
        return self._add(_build("crop", (width, height, gravity), form_index=1))

    def rotate(self: _P, angle: float, background: Colour | None = None) -> _P:
        """Rotate clockwise by ``angle`` degrees; other angles than multiples of 90 expand the
        canvas, filled with ``background`` (transparent, or white where there is no alpha)."""
        return self._add(_build("rotate", (angle, background)))

    def flip(self: _P, direction: Literal["h", "v"]) -> _P:
        """Mirror horizontally (``"h"``) or vertically (``"v"``)."""
        return self._add(_build("flip", (direction,)))

    # -- colour --------------------------------------------------------------------------

    def grayscale(self: _P) -> _P:
        return self._add(_build("grayscale", ()))

    def sepia(self: _P) -> _P:
        return self._add(_build("sepia", ()))

    def invert(self: _P) -> _P:
        return self._add(_build("invert", ()))

    def equalize(self: _P) -> _P:
        return self._add(_build("equalize", ()))

    def autocontrast(self: _P) -> _P:
        return self._add(_build("autocontrast", ()))

    def blur(self: _P, sigma: float) -> _P:
        """Gaussian blur, standard deviation ``sigma`` pixels (0 < sigma <= 100)."""
        return self._add(_build("blur", (sigma,)))

    def sharpen(self: _P, amount: float = 1.0, radius: float = 2.0) -> _P:
        """Unsharp mask: ``amount`` (1 = 100 %) at ``radius`` pixels."""
        return self._add(_build("sharpen", (amount, radius)))

    def brightness(self: _P, factor: float) -> _P:
        """Brightness times ``factor`` (0 to 10, 1 = unchanged)."""
        return self._add(_build("brightness", (factor,)))

    def contrast(self: _P, factor: float) -> _P:
        """Contrast times ``factor`` (0 to 10, 1 = unchanged)."""
        return self._add(_build("contrast", (factor,)))

    def saturation(self: _P, factor: float) -> _P:
        """Saturation times ``factor`` (0 to 10, 1 = unchanged, 0 = grey)."""
        return self._add(_build("saturation", (factor,)))

    def pixelate(self: _P, size: int) -> _P:
        """Blocks of ``size`` x ``size`` pixels."""
        return self._add(_build("pixelate", (size,)))

    def posterize(self: _P, bits: int) -> _P:
        """Keep ``bits`` (1 to 8) bits per colour channel."""
        return self._add(_build("posterize", (bits,)))

    def tint(self: _P, colour: Colour) -> _P:
        """Multiply by a colour, like a coloured filter."""
        return self._add(_build("tint", (colour,)))

    # -- masks, overlays, output -----------------------------------------------------------

    def mask(self: _P, shape: Shape | str, radius: int | None = None) -> _P:
        """Make pixels outside a shape transparent: ``"circle"``, ``"ellipse"``, ``"rounded"``
        (corners of ``radius`` pixels), or the id of a stored image whose luminance is the mask."""
        return self._add(_build("mask", (shape, radius)))

    def watermark(
        self: _P,
        image_id: str,
        gravity: Gravity = "southeast",
        opacity: float = 0.5,
        scale: float = 0.25,
    ) -> _P:
        """Overlay another stored image, ``scale`` of the width, at ``gravity``, with
        ``opacity``."""
        return self._add(_build("watermark", (image_id, gravity, opacity, scale)))

    def background(self: _P, colour: Colour) -> _P:
        """Flatten transparency onto a colour."""
        return self._add(_build("background", (colour,)))

    def quality(self: _P, quality: int) -> _P:
        """Compression level for lossy formats, 1 to 100."""
        return self._add(_build("quality", (quality,)))

    def maxbytes(self: _P, limit: int) -> _P:
        """The best quality whose output is at most ``limit`` bytes."""
        return self._add(_build("maxbytes", (limit,)))

    def format(self: _P, fmt: str | None) -> _P:
        """The output format (``"webp"``, ``"png"``, ``"jpg"``...); ``None``: the source's."""
        return self._copy(self._steps, None if fmt is None else normalize_format(fmt))

    # -- output --------------------------------------------------------------------------

    @property
    def output_format(self) -> str | None:
        """The canonical extension of the output format, or None (the source's format)."""
        return self._format

    def _ordered(self) -> list[_Step]:
        pixels = [s for s in self._steps if not s.operation.output_only]
        options = {s.operation.name: s for s in self._steps if s.operation.output_only}
        return pixels + [options[name] for name in sorted(options)]

    def canonical(self) -> str:
        """The operations in the API's canonical form, without the format."""
        return "/".join(step.canonical() for step in self._ordered())

    def to_path(self) -> str:
        """The URL form: the canonical operations and the format's extension."""
        ext = f".{self._format}" if self._format else ""
        return self.canonical() + ext

    def to_json(self) -> list[dict[str, Any]]:
        """The operations as the API's JSON object form."""
        return [step.to_json() for step in self._ordered()]

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
        return (step.canonical() for step in self._ordered())


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
            head, dot, tail = text.rpartition(".")
            if dot and re.fullmatch(r"[A-Za-z]{3,4}", tail) and tail.lower() in FORMATS:
                ops, ext = head, FORMATS[tail.lower()]
            else:
                ops = text
    elif pipeline is not None:
        raise TypeError(f"a pipeline is a Pipeline or a string, got {pipeline!r}")
    if fmt is not None:
        ext = normalize_format(fmt)
    return ops, ext
