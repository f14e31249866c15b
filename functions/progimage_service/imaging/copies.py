"""The kinds of reduced working copy an upload gets (see working_copy.py); pure, no Pillow.

Which copy serves a pipeline is the render plan's to say (plan.serving_copy).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Copy:
    """A kind of reduced working copy made at upload (see working_copy.py)."""

    side: int  # its longest side
    # It serves a first step that reduces to at most this share of its size: resampling a
    # copy by less than 2x loses more against the original's render than a larger copy does.
    reach: float
    name: str  # tells its key apart from the other copies'


# Smallest first. `make bench-copies` on 12 and 24 MP photos (baseline and progressive) and a
# 2400 px RGBA PNG, PSNR of a variant made from a copy to the one made from the original: the
# 1024 px copy gives 45.9-47.4 dB at 256 px and below for the photos (the 2048 px copy
# 46.9-48.2), and 41.2-44.6 dB at 512 px, its reach (44.8-49.0), all above the contract's 40;
# it renders a 256 px thumbnail in 13-18 ms against 21-30 and is 304-336 KB to read against
# 1.0-1.2 MB. Beyond 2x it loses more: 40.0-41.1 dB at 1024 px.
COPIES = (Copy(1024, 0.5, "1024"), Copy(2048, 1.0, ""))


def copy_size(size: tuple[int, int], copy: Copy) -> tuple[int, int]:
    """The size of a picture's working copy of this kind."""
    width, height = size
    scale = copy.side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def copies_made(size: tuple[int, int], frames: int) -> tuple[Copy, ...]:
    """The working copies an upload of a still picture of ``size`` gets: those it is larger
    than. An animation gets none (its frames are rendered from the original)."""
    return tuple(c for c in COPIES if frames == 1 and max(size) > c.side)
