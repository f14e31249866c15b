"""BlurHash and ThumbHash encoders: tiny placeholders a client draws while the image loads.

Both are transcriptions of the reference encoders, checked against them on the same pixels
(tests/unit/test_placeholders.py):

- ThumbHash: ``rgbaToThumbHash`` of evanw/thumbhash's js/thumbhash.js (MIT). Its arithmetic is
  JavaScript doubles, done here in the same order, each sum a loop left to right, so the bytes
  are the same. The order matters where the reference's output is rounding noise: a flat channel's
  AC terms (about 1e-17) are divided by their largest before they are quantised. (``sum`` and
  ``math.sumprod`` are compensated and round differently.)
- BlurHash: ``blurHashForPixels`` of woltapp/blurhash's C/encode.c (MIT) and its Swift original
  (the maximum AC value over magnitudes; the TypeScript port takes it over signed values). The
  sums are separable here (along each row, then down), in ``math.sumprod``: 30x faster than the
  reference's per-pixel loop, and the same strings as the C code compiled in double precision,
  since every quantity is quantised on steps of 1e-3 or more and a flat picture's noise is
  quantised to zero. The C code as published sums in single precision: a value within about
  1e-6 of a step's edge may land one step away from ours.
"""

from __future__ import annotations

import math
from itertools import chain, repeat
from operator import mul

from PIL import Image

THUMBHASH_MAX_SIDE = 100  # the reference refuses larger inputs: slower, and no better
BLURHASH_MAX_COMPONENTS = 9
_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def _srgb_to_linear(value: int) -> float:
    v = value / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


LINEAR = [_srgb_to_linear(v) for v in range(256)]


def linear_to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[value // 83 ** (length - 1 - i) % 83] for i in range(length))


def _js_round(x: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round goes to even)."""
    floor = math.floor(x)
    return floor + 1 if x - floor >= 0.5 else floor


def _rows(values: list[float], width: int) -> list[float]:
    """Each value of a column repeated along its row: a picture-sized list."""
    return list(chain.from_iterable(repeat(v, width) for v in values))


def blurhash_components(width: int, height: int) -> tuple[int, int]:
    """Components across and down for a picture of this aspect: 3 along the shorter side and
    3 x the aspect ratio (rounded, at most 9) along the longer: 4x3 for 4:3 (what BlurHash's
    authors usually use), 3x3 for a square, 5x3 for 16:9, 9x3 from 2.83:1."""
    ratio = max(width, height) / min(width, height)
    longer = min(BLURHASH_MAX_COMPONENTS, _js_round(3 * ratio))
    return (longer, 3) if width >= height else (3, longer)


def blurhash(image: Image.Image, x_components: int, y_components: int) -> str:
    """The BlurHash of an RGB image (every pixel counts: reduce it first)."""
    if image.mode != "RGB":
        raise ValueError(f"blurhash needs an RGB image, not {image.mode}")
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("BlurHash has 1 to 9 components in each direction")
    width, height = image.size
    rows = [
        [[LINEAR[v] for v in data[y * width : (y + 1) * width]] for y in range(height)]
        for data in (band.tobytes() for band in image.split())
    ]
    # Separably: each row's sum along x for every x component, then those down the columns
    along_x = []
    for xc in range(x_components):
        cos_x = [math.cos(math.pi * xc * x / width) for x in range(width)]
        along_x.append([[math.sumprod(cos_x, row) for row in channel] for channel in rows])
    factors: list[list[float]] = []
    for yc in range(y_components):
        cos_y = [math.cos(math.pi * yc * y / height) for y in range(height)]
        for xc in range(x_components):
            scale = (1 if xc == 0 and yc == 0 else 2) / (width * height)
            factors.append([math.sumprod(cos_y, sums) * scale for sums in along_x[xc]])
    dc, ac = factors[0], factors[1:]
    parts = [_base83(x_components - 1 + (y_components - 1) * 9, 1)]
    if ac:
        actual = max(abs(v) for factor in ac for v in factor)
        quantised = int(max(0, min(82, math.floor(actual * 166 - 0.5))))
        maximum = (quantised + 1) / 166
    else:
        quantised, maximum = 0, 1.0
    parts.append(_base83(quantised, 1))
    r, g, b = (linear_to_srgb(v) for v in dc)
    parts.append(_base83((r << 16) + (g << 8) + b, 4))
    for factor in ac:
        q = [_quantise_ac(v / maximum) for v in factor]
        parts.append(_base83(q[0] * 19 * 19 + q[1] * 19 + q[2], 2))
    return "".join(parts)


def _quantise_ac(value: float) -> int:
    signed_root = math.copysign(abs(value) ** 0.5, value)
    return int(max(0, min(18, math.floor(signed_root * 9 + 9.5))))


def thumbhash(image: Image.Image) -> bytes:
    """The ThumbHash of an RGBA image (straight alpha) of at most 100 px a side."""
    if image.mode != "RGBA":
        raise ValueError(f"thumbhash needs an RGBA image, not {image.mode}")
    w, h = image.size
    if w > THUMBHASH_MAX_SIDE or h > THUMBHASH_MAX_SIDE:
        raise ValueError(f"{w}x{h} doesn't fit in 100x100")
    red, green, blue, alpha_band = (band.tobytes() for band in image.split())
    alpha = [a / 255 for a in alpha_band]
    weight = [a / 255 for a in alpha]  # the reference's alpha / 255 * channel

    # The average colour, weighted by alpha
    avg_a = avg_r = avg_g = avg_b = 0.0
    for a, k, r_, g_, b_ in zip(alpha, weight, red, green, blue, strict=True):
        avg_r += k * r_
        avg_g += k * g_
        avg_b += k * b_
        avg_a += a
    if avg_a:
        avg_r, avg_g, avg_b = avg_r / avg_a, avg_g / avg_a, avg_b / avg_a
    has_alpha = avg_a < w * h
    l_limit = 5 if has_alpha else 7  # fewer luminance bits when there is alpha
    lx = max(1, _js_round(l_limit * w / max(w, h)))
    ly = max(1, _js_round(l_limit * h / max(w, h)))

    # RGBA to LPQA, composited over the average colour
    r = [avg_r * (1 - a) + k * v for a, k, v in zip(alpha, weight, red, strict=True)]
    g = [avg_g * (1 - a) + k * v for a, k, v in zip(alpha, weight, green, strict=True)]
    b = [avg_b * (1 - a) + k * v for a, k, v in zip(alpha, weight, blue, strict=True)]
    lum = [(r_ + g_ + b_) / 3 for r_, g_, b_ in zip(r, g, b, strict=True)]
    p = [(r_ + g_) / 2 - b_ for r_, g_, b_ in zip(r, g, b, strict=True)]
    q = [r_ - g_ for r_, g_ in zip(r, g, strict=True)]

    l_dc, l_ac, l_scale = _dct(lum, w, h, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _dct(p, w, h, 3, 3)
    q_dc, q_ac, q_scale = _dct(q, w, h, 3, 3)

    # The constants
    landscape = w > h
    header24 = (
        _js_round(63 * l_dc)
        | _js_round(31.5 + 31.5 * p_dc) << 6
        | _js_round(31.5 + 31.5 * q_dc) << 12
        | _js_round(31 * l_scale) << 18
        | has_alpha << 23
    )
    header16 = (
        (ly if landscape else lx)
        | _js_round(63 * p_scale) << 3
        | _js_round(63 * q_scale) << 9
        | landscape << 15
    )
    out = [header24 & 255, header24 >> 8 & 255, header24 >> 16, header16 & 255, header16 >> 8]
    acs = [l_ac, p_ac, q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _dct(alpha, w, h, 5, 5)
        out.append(_js_round(15 * a_dc) | _js_round(15 * a_scale) << 4)
        acs.append(a_ac)

    # The varying factors, two to a byte, low nibble first
    nibbles = [_js_round(15 * f) for f in chain.from_iterable(acs)]
    nibbles += [0] * (len(nibbles) % 2)
    out += [low | high << 4 for low, high in zip(nibbles[::2], nibbles[1::2], strict=True)]
    return bytes(out)


def _dct(
    channel: list[float], w: int, h: int, nx: int, ny: int
) -> tuple[float, list[float], float]:
    """The reference's encodeChannel: the DC term, the AC terms mapped into 0..1, their scale."""
    dc, ac, scale = 0.0, [], 0.0
    weighted: dict[int, list[float]] = {}  # channel x cos along x, per cx: shared by every cy
    for cy in range(ny):
        fy = _rows([math.cos(math.pi / h * cy * (y + 0.5)) for y in range(h)], w)
        cx = 0
        while cx * ny < nx * (ny - cy):
            if cx not in weighted:
                fx = [math.cos(math.pi / w * cx * (x + 0.5)) for x in range(w)]
                weighted[cx] = list(map(mul, channel, fx * h))
            f = 0.0
            for value, row_cos in zip(weighted[cx], fy, strict=True):
                f += value * row_cos
            f /= w * h
            if cx or cy:
                ac.append(f)
                scale = max(scale, abs(f))
            else:
                dc = f
            cx += 1
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale
