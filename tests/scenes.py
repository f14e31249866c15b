"""Generated scenes with a known subject: a textured, skin-toned or saturated blob on a flat or
smooth background, placed at random (from a seed). Smart-crop tests and the bench share them."""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageOps

Box = tuple[int, int, int, int]  # left, top, right, bottom
# Subject colours: skin tones (dark and light), and saturated ones (red, orange, magenta).
SUBJECTS = ((141, 85, 36), (224, 172, 105), (255, 219, 172), (200, 30, 40), (240, 120, 20))
SUBJECTS += ((190, 40, 150),)
BACKGROUNDS = ((110, 130, 150), (150, 160, 140), (200, 205, 210), (70, 80, 90))


@dataclass(frozen=True)
class Scene:
    image: Image.Image
    subject: Box


def scene(seed: int, size: tuple[int, int], subject_share: float = 0.22) -> Scene:
    """A ``size`` picture whose subject (about ``subject_share`` of the shorter side) is where
    the seed puts it, on a background that is flat or a gentle gradient with little noise."""
    rng = random.Random(seed)
    width, height = size
    top_colour, bottom_colour = rng.sample(BACKGROUNDS, 2)
    background = ImageOps.colorize(
        Image.linear_gradient("L").resize(size), top_colour, bottom_colour
    )
    if rng.random() < 0.3:
        background = Image.new("RGB", size, top_colour)
    grain = Image.effect_noise(size, 4)
    background = Image.blend(background, Image.merge("RGB", [grain] * 3), 0.04)
    side = max(8, round(min(size) * subject_share * rng.uniform(0.8, 1.2)))
    w, h = side, round(side * rng.uniform(0.8, 1.3))
    left, top = rng.randrange(0, width - w + 1), rng.randrange(0, height - h + 1)
    base = rng.choice(SUBJECTS)
    dark = tuple(max(0, c - 70) for c in base)
    texture = Image.effect_noise((w, h), 60).filter(ImageFilter.GaussianBlur(1))
    subject = ImageOps.colorize(texture, dark, base)
    mask = Image.new("L", (w, h))
    ImageDraw.Draw(mask).ellipse((0, 0, w - 1, h - 1), fill=255)
    background.paste(subject, (left, top), mask)
    return Scene(background, (left, top, left + w, top + h))


def kept(subject: Box, crop: Box) -> float:
    """The share of the subject's box inside the crop's box."""
    w = max(0, min(subject[2], crop[2]) - max(subject[0], crop[0]))
    h = max(0, min(subject[3], crop[3]) - max(subject[1], crop[1]))
    return w * h / ((subject[2] - subject[0]) * (subject[3] - subject[1]))


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union
