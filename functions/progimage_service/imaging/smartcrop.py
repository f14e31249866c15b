"""Where the interesting part of a picture is: smart crops and the focal point.

Two measures, both after libvips' ``smartcrop`` (which adapted them from sharp and
smartcrop.js), both computed on a small sample of the frame, never a full-size pass:

- ``attention``: the picture squeezed to a 32 x 32 grid (libvips' precision), each cell scored
  by its luma edges (a Laplacian), how much its colour looks like skin, and its saturation
  (CIELAB a*), dark cells scoring nothing; the score map blurred over about a tenth of the crop,
  and the crop centred on its maximum, clamped inside the picture.
- ``entropy``: of the two opposite edge slices (about 1/8 of the excess a step), the one whose
  pixels have the lower histogram entropy is cut away, until the crop's size is reached.

The grid is made from a point sample of the frame (``NEAREST``, a few hundred pixels a side,
a fraction of a millisecond at 12 MP) averaged into cells, so the cost does not grow with the
frame. Coordinates come back in the frame's pixels; the focal point as fractions of the picture
(0..1), which are the same at any scale: a working copy and the original agree.
"""

from __future__ import annotations

import math

from PIL import Image

GRID = 32  # cells a side of the attention map: the precision a crop is placed with
SAMPLE = 8  # points sampled a cell a side
ENTROPY_SIDE = 256  # the longest side entropy is measured at
STEPS = 8  # entropy: slices to cut the larger excess in
_SKIN = (0.78, 0.57, 0.44)  # smartcrop.js' skin colour, as a unit XYZ direction
_WHITE = (95.047, 100.0, 108.883)  # D65, as CIELAB is computed from XYZ
_DARK = 5.0  # Y (0..100) below which a cell scores nothing
_LINEAR = [
    100 * (v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4)
    for v in (i / 255 for i in range(256))
]


def _rgb(image: Image.Image) -> Image.Image:
    """Colour without alpha: transparent pixels count as black (premultiplied, as libvips)."""
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        black = Image.new("RGB", rgba.size)
        black.paste(rgba, mask=rgba.getchannel("A"))
        return black
    return image if image.mode == "RGB" else image.convert("RGB")


def _sampled(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """A point sample of the frame at ``size`` (or the frame, if not larger), in RGB."""
    if image.width > size[0] or image.height > size[1]:
        size = (min(size[0], image.width), min(size[1], image.height))
        image = image.resize(size, Image.Resampling.NEAREST)
    return _rgb(image)


def _f(t: float) -> float:
    return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116


def _cell_scores(cells: Image.Image) -> list[list[float]]:
    """Each cell's attention before blurring: edges + skin + saturation, as libvips sums them."""
    width, height = cells.size
    pixels = cells.get_flattened_data()
    xyz, luma = [], []
    for r, g, b in pixels:
        lr, lg, lb = _LINEAR[r], _LINEAR[g], _LINEAR[b]
        x = 0.4124 * lr + 0.3576 * lg + 0.1805 * lb
        y = 0.2126 * lr + 0.7152 * lg + 0.0722 * lb
        z = 0.0193 * lr + 0.1192 * lg + 0.9505 * lb
        xyz.append((x, y, z))
        luma.append(y)
    scores = []
    for row in range(height):
        line = []
        for col in range(width):
            i = row * width + col
            y = luma[i]
            # A 4-neighbour Laplacian, the edge repeated beyond the border; x5, as libvips.
            up = luma[i - width] if row else y
            down = luma[i + width] if row < height - 1 else y
            left = luma[i - 1] if col else y
            right = luma[i + 1] if col < width - 1 else y
            score = 5 * abs(4 * y - up - down - left - right)
            if y > _DARK:
                x, _, z = xyz[i]
                norm = math.sqrt(x * x + y * y + z * z)
                distance = math.dist((x / norm, y / norm, z / norm), _SKIN)
                score += 100 - 100 * distance  # skin
                score += 500 * (_f(x / _WHITE[0]) - _f(y / _WHITE[1]))  # saturation: a*
            line.append(score)
        scores.append(line)
    return scores


def _kernel(sigma: float) -> list[float]:
    """A normalised Gaussian, out to where it falls under 0.2 of its peak (libvips' min_ampl)."""
    radius = max(1, math.ceil(sigma * math.sqrt(2 * math.log(5))))
    weights = [math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(-radius, radius + 1)]
    total = sum(weights)
    return [w / total for w in weights]


def _blur_rows(rows: list[list[float]], kernel: list[float]) -> list[list[float]]:
    radius = len(kernel) // 2
    blurred = []
    for row in rows:
        padded = [row[0]] * radius + row + [row[-1]] * radius
        out = [0.0] * len(row)
        for tap, weight in enumerate(kernel):
            out = [o + weight * v for o, v in zip(out, padded[tap : tap + len(row)], strict=True)]
        blurred.append(out)
    return blurred


def _transposed(rows: list[list[float]]) -> list[list[float]]:
    return [list(column) for column in zip(*rows, strict=True)]


def attention_centre(image: Image.Image, crop: tuple[int, int]) -> tuple[float, float]:
    """Where attention peaks for a crop of ``crop`` pixels, as fractions (0..1) of the frame."""
    cells = _sampled(image, (GRID * SAMPLE, GRID * SAMPLE))
    cells = cells.resize((GRID, GRID), Image.Resampling.BOX)
    # The blur spans about a tenth of the crop, measured in cells.
    sigma = max(1.0, math.hypot(crop[0] * GRID / image.width, crop[1] * GRID / image.height) / 10)
    kernel = _kernel(sigma)
    blurred = _transposed(_blur_rows(_transposed(_blur_rows(_cell_scores(cells), kernel)), kernel))
    best = max(
        (value, -row, -col) for row, line in enumerate(blurred) for col, value in enumerate(line)
    )
    row, col = -best[1], -best[2]
    return (col + 0.5) / GRID, (row + 0.5) / GRID


def centred(
    size: tuple[int, int], crop: tuple[int, int], at: tuple[float, float]
) -> tuple[int, int]:
    """The top left of a ``crop`` box centred on ``at`` (fractions of ``size``), kept inside."""
    return tuple(  # type: ignore[return-value]
        min(max(0, round(fraction * side - want / 2)), side - want)
        for fraction, side, want in zip(at, size, crop, strict=True)
    )


def attention(image: Image.Image, crop: tuple[int, int]) -> tuple[int, int]:
    """The top left of the ``crop`` box (at most the frame's size) attention places."""
    return centred(image.size, crop, attention_centre(image, crop))


def entropy(image: Image.Image, crop: tuple[int, int]) -> tuple[int, int]:
    """The top left of the ``crop`` box left by cutting away low-entropy edge slices."""
    scale = min(1.0, ENTROPY_SIDE / max(image.size))
    small = _sampled(
        image, (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    )
    sx, sy = small.width / image.width, small.height / image.height
    target_w = min(small.width, max(1, round(crop[0] * sx)))
    target_h = min(small.height, max(1, round(crop[1] * sy)))
    left, top, width, height = 0, 0, small.width, small.height
    step = max(math.ceil((width - target_w) / STEPS), math.ceil((height - target_h) / STEPS))
    while width > target_w or height > target_h:
        cut = min(width - target_w, step)
        if cut > 0:
            first = small.crop((left, top, left + cut, top + height)).entropy()
            last = small.crop((left + width - cut, top, left + width, top + height)).entropy()
            width -= cut
            if first < last:
                left += cut
        cut = min(height - target_h, step)
        if cut > 0:
            first = small.crop((left, top, left + width, top + cut)).entropy()
            last = small.crop((left, top + height - cut, left + width, top + height)).entropy()
            height -= cut
            if first < last:
                top += cut
    centre = ((left + width / 2) / small.width, (top + height / 2) / small.height)
    return centred(image.size, crop, centre)


def focal_point(image: Image.Image) -> tuple[float, float]:
    """Where attention centres in the whole picture, as fractions (0..1) of its width and
    height: the peak of the attention map blurred as for a crop of half of each side."""
    return attention_centre(image, (image.width // 2 or 1, image.height // 2 or 1))
