"""What the operations' implementations share: the state a render hands them, the table that
binds each to its registry entry, and the helpers of more than one family."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from PIL import Image

from ...errors import TooLarge
from ..decode import Box
from ..grammar import Colour
from ..limits import Limits
from ..registry import REGISTRY

TRANSPARENT: Colour = (0, 0, 0, 0)
T = TypeVar("T")


@dataclass(frozen=True)
class Given:
    """What the first pixel step receives besides its frame (see plan.py)."""

    # The size of the picture the pipeline was asked of: the frame may be a reduced decode of
    # it, or of its working copy, and the first step sizes its result from this, so the variant
    # comes out exactly as it would from the original at full size.
    size: tuple[int, int]
    # The part of the (reduced) decoded frame that holds the picture; None: all of it.
    box: Box | None = None


@dataclass(frozen=True)
class RenderState:
    """What an operation is given besides its frame and arguments while a pipeline runs."""

    limits: Limits
    images: Mapping[str, Image.Image] = field(default_factory=dict)  # referenced by id, decoded
    given: Given | None = None  # the first pixel step's only
    # The picture's focal point, as fractions (0..1) of its width and height, while the frame
    # still shows the whole picture (see Implementation.reframes); None: unknown.
    focal: tuple[float, float] | None = None
    # What the step decided from the first frame (a box found in the pixels), which every
    # other frame of an animation follows: one step's own (render.execute gives each its own).
    decided: dict[str, Any] = field(default_factory=dict)

    def once(self, decide: Callable[[], T]) -> T:
        """The step's decision: made on the first frame, the same for the others."""
        if "value" not in self.decided:
            self.decided["value"] = decide()
        return self.decided["value"]

    def size_of(self, image: Image.Image) -> tuple[int, int]:
        """The size to compute from: the picture's (first pixel step only), else the image's."""
        return self.given.size if self.given else image.size

    def box_of(self) -> Box | None:
        """The part of the frame to resample from (first pixel step only; None: all of it)."""
        return self.given.box if self.given else None


Apply = Callable[..., "Image.Image"]
Draft = Callable[[Mapping[str, Any], int, int], tuple[int, int]]
Size = Callable[[Mapping[str, Any], int, int], tuple[int, int]]
# (arguments, frame's width and height, the referenced image's) -> the size it is fitted to
Fitted = Callable[[Mapping[str, Any], int, int, tuple[int, int]], tuple[int, int]]
Reframes = Callable[[Mapping[str, Any]], bool]


def always(args: Mapping[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class Implementation:
    """The pixels of one registry entry, and what the render plan needs to know of them."""

    apply: Apply  # (frame, state, **arguments) -> frame
    # The smallest decoded size this operation needs from a (w, h) picture, for a JPEG's
    # reduced decode and the working copy; None: the whole picture.
    draft: Draft | None = None
    # Keeps the picture's size although it has a draft (its decoding scale only): a reduced
    # working copy, which cannot give that size back, is no source for it.
    full_size: bool = False
    # The size of its result from a (w, h) picture, known before any pixel (the cost model
    # reads it); None: the same size.
    size: Size | None = None
    # A larger frame made on the way to its result, if any (resize's fill covers, then crops).
    interim: Size | None = None
    # The size the image it names (its ``image`` argument) is resized to on a (w, h) frame,
    # where that depends on the named image's own size (a watermark keeps its aspect ratio).
    fitted: Fitted | None = None
    # Whether, with these arguments, its result shows other than the whole picture, scaled
    # (a crop, a turn): a focal point in fractions of the picture no longer holds after it.
    reframes: Reframes | None = None

    def result_size(self, args: Mapping[str, Any], width: int, height: int) -> tuple[int, int]:
        return self.size(args, width, height) if self.size else (width, height)


IMPLEMENTATIONS: dict[str, Implementation] = {}


def implements(
    name: str,
    *,
    draft: Draft | None = None,
    full_size: bool = False,
    size: Size | None = None,
    interim: Size | None = None,
    fitted: Fitted | None = None,
    reframes: Reframes | None = None,
) -> Callable[[Apply], Apply]:
    """Bind a function to the registry's operation ``name`` (each exactly once)."""
    operation = REGISTRY[name]
    if operation.output_only:
        raise TypeError(f"{name} is an output option: the encoder takes it, not a function")

    def register(apply: Apply) -> Apply:
        if name in IMPLEMENTATIONS:
            raise TypeError(f"{name} is implemented twice")
        IMPLEMENTATIONS[name] = Implementation(
            apply, draft, full_size, size, interim, fitted, reframes
        )
        return apply

    return register


def check_output(width: int, height: int, limits: Limits) -> None:
    """Refuse (413) a result over the configured size, before it is made."""
    if width > limits.max_side or height > limits.max_side:
        raise TooLarge(
            f"the result would be {width}x{height}; the limit is {limits.max_side} per side",
            param="ops",
        )
    limits.check_dimensions(width, height)


_GRAVITY_OFFSETS = {
    "center": (0.5, 0.5),
    "north": (0.5, 0.0),
    "south": (0.5, 1.0),
    "east": (1.0, 0.5),
    "west": (0.0, 0.5),
    "northeast": (1.0, 0.0),
    "northwest": (0.0, 0.0),
    "southeast": (1.0, 1.0),
    "southwest": (0.0, 1.0),
}


def place(
    outer: tuple[int, int], inner: tuple[int, int], gravity: str, margin: int = 0
) -> tuple[int, int]:
    """Where an ``inner`` box goes in an ``outer`` one by gravity, ``margin`` from the edges."""
    fx, fy = _GRAVITY_OFFSETS[gravity]
    x = round((outer[0] - inner[0] - 2 * margin) * fx) + margin
    y = round((outer[1] - inner[1] - 2 * margin) * fy) + margin
    return x, y


def with_alpha(mode: str) -> str:
    return "LA" if mode in ("L", "LA") else "RGBA"


def colour_only(image: Image.Image, change: Callable[[Image.Image], Image.Image]) -> Image.Image:
    """Apply a change to the colour bands and keep any alpha band as it was."""
    if image.mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
        result = change(image.convert(image.mode[:-1]))
        result = result.convert(with_alpha(result.mode))
        result.putalpha(alpha)
        return result
    return change(image)


def rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")
