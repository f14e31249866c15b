"""What an image record says of the picture's looks, read once at upload from one decoded frame
(the smallest working copy, or the upright first frame of a picture too small for one): its
perceptual hash (phash.py), placeholders and colours (summary.py) and the focal point that
gravity ``auto`` centres on (smartcrop.focal_point) until its owner sets another."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from .phash import phash
from .smartcrop import focal_point
from .summary import Summary, summarise

FOCAL_DECIMALS = 4  # a ten-thousandth of a side: finer than any crop of a 16384 px side needs


@dataclass(frozen=True)
class Looks:
    phash: str
    summary: Summary
    focal_point: tuple[float, float]  # fractions of the width and height


def look_at(image: Image.Image) -> Looks:
    x, y = focal_point(image)
    return Looks(
        phash(image), summarise(image), (round(x, FOCAL_DECIMALS), round(y, FOCAL_DECIMALS))
    )
