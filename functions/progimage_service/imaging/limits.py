"""Input limits, and the header-only checks that enforce them before any pixel is decoded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ..errors import TooLarge, Unprocessable


@dataclass(frozen=True)
class Limits:
    """What the service accepts; every value is configurable (see config)."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000  # decoded, per frame
    max_side: int = 16384  # of an output, and of any input side
    max_frames: int = 500
    # All frames of an animation together (the contract bounds only each frame): every output
    # frame is held in memory until encoded, so this is what bounds an animation's memory.
    max_animation_pixels: int = 100_000_000
    # One render's budget, estimated before decoding (cost.py): CPU seconds on one core, within
    # API Gateway's 30 s with room for the estimate's error and the storage calls; and the
    # bytes it may hold, what the function's memory leaves beside the runtime (see config).
    max_seconds: float = 20.0
    max_memory: int = 2_800 * 2**20
    # A progressive JPEG's scans: encoders write up to about ten; thousands make decoding slow.
    max_scans: int = 100

    def check_bytes(self, size: int) -> None:
        if size > self.max_bytes:
            raise TooLarge(f"image is {size} bytes; the limit is {self.max_bytes}", param="bytes")

    def check_dimensions(self, width: int, height: int) -> None:
        if width * height > self.max_pixels:
            raise TooLarge(
                f"image is {width}x{height} = {width * height} pixels; the limit is "
                f"{self.max_pixels} per frame",
                param="pixels",
            )
        if max(width, height) > self.max_side:
            raise TooLarge(
                f"image is {width}x{height}; the limit is {self.max_side} pixels per side",
                param="pixels",
            )

    def charge(self, seconds: float, param: str = "ops") -> None:
        """Charge estimated work to the budget the request's items share (a POST /batch's, a
        multipart upload's), refusing it (naming ``param``) if it does not fit in what is
        left."""
        shared = _SHARED.get()
        if shared is None:
            return
        if seconds > shared.left:
            raise Unprocessable(
                f"this item would take about {seconds:.1f} s of work, and {shared.left:.1f} s "
                f"are left of the {shared.total:g} s the request's items share; send the items "
                "that do not fit in another request (POST /jobs and presigned uploads give each "
                "item its own budget)",
                param=param,
                code="work_budget",
            )
        shared.left -= seconds

    def check_scans(self, scans: int) -> None:
        if scans > self.max_scans:
            raise Unprocessable(
                f"this progressive JPEG has {scans} scans, more than any encoder writes (the "
                f"limit is {self.max_scans}); re-encode it",
                param="scans",
                code="too_many_scans",
            )

    def check_frames(self, frames: int, width: int = 0, height: int = 0) -> None:
        if frames > self.max_frames:
            raise TooLarge(
                f"image has more than {self.max_frames} frames, the limit", param="frames"
            )
        if frames > 1 and frames * width * height > self.max_animation_pixels:
            raise TooLarge(
                f"animation is {frames} frames of {width}x{height}, "
                f"{frames * width * height} pixels in all; the limit is "
                f"{self.max_animation_pixels}",
                param="frames",
            )


@dataclass
class _Shared:
    left: float
    total: float


_SHARED: ContextVar[_Shared | None] = ContextVar("progimage_shared_budget", default=None)


@contextmanager
def shared_budget(seconds: float) -> Iterator[None]:
    """The work estimated within this block (one request's items) shares ``seconds``."""
    token = _SHARED.set(_Shared(seconds, seconds))
    try:
        yield
    finally:
        _SHARED.reset(token)
