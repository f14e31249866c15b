"""How far an encoded picture is from what was rendered, and ``quality:auto``: the lowest quality
whose output stays within a perceptual target of the rendered frame.

The measure is SSIM (Wang, Bovik, Sheikh and Simoncelli, 2004) on luma, as scikit-image's
``structural_similarity`` computes it by default: 7x7 uniform windows at every position that
fits inside the picture, sample (co)variances, C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, the
mean over all windows. It runs on Pillow's C operations over 32-bit float images (no numpy):
window sums by shifted crops added by doubling (1, 2, 4, then 4 + 2 + 1), horizontally, then
vertically, over four planes (x, y, x*x + y*y, x*y: the formula needs only the sum of the two
variances), and the SSIM formula as one ImageMath expression. It agrees with scikit-image to
2e-6 on the shared photos and their distortions (JPEG, WebP and AVIF from quality 10 to 95,
Gaussian blur); tests/unit/test_perceptual.py checks it against a direct transcription.

An output larger than SAMPLE_PIXELS is measured on evenly spaced bands of BAND_ROWS rows of
windows that together cover about that many pixels: the mean over a uniform sample of its
windows (within 0.0005 of the whole picture's on the shared landscape at 1800x1200 and its
distortions, at most 0.0003 on the other photos of make bench-quality upscaled twice).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageMath

from .colour import flatten
from .encode import DEFAULT_QUALITY, EncodeOptions, Frame, encode
from .formats import Format

C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2
WINDOW = 7
_N = WINDOW * WINDOW
# Above this many output pixels, SSIM is taken over bands of rows covering this many.
SAMPLE_PIXELS = 1_000_000
BAND_ROWS = 16  # rows of windows in each band


@dataclass(frozen=True)
class Search:
    """quality:auto in one format: the qualities it may choose, ``floor`` to the format's default
    in steps of ``step``, and the SSIM the output must reach."""

    target: float
    floor: int
    step: int = 1


# The targets: the lowest SSIM the format's default quality reaches on the bench's photo set
# at 1024 px (make bench-quality: a detailed landscape, 0.961 in JPEG at 85, 0.958 in WebP at
# 80, 0.948 in AVIF at 60, 0.974 in HEIC at 50, 0.967 in JPEG XL at 85), rounded down to
# 0.005. The default is the contract's idea of good enough for any photo, so that fidelity is
# too: auto brings every photo down to it, which saves 16-22 % of the bytes on the set, and
# keeps the default where the photo needs it. The
# floors keep a picture that SSIM rates highly (flat, or already compressed at that quality)
# from going lower than the eye tolerates on edges and gradients. AVIF's encodes cost 100x a
# JPEG's: its search steps by 2 (one encode fewer).
SEARCH = {
    "jpeg": Search(target=0.96, floor=50),
    "webp": Search(target=0.955, floor=50),
    "avif": Search(target=0.945, floor=30, step=2),
    "heic": Search(target=0.97, floor=25),
    "jxl": Search(target=0.965, floor=45),
}
# A lossy format added without a row here (a quality in encode.DEFAULT_QUALITY): down to half
# its default.
FALLBACK_TARGET = 0.95


def search_for(fmt: str) -> Search | None:
    """The search of a lossy format; None for a lossless one (auto: the default encode)."""
    if fmt not in DEFAULT_QUALITY:
        return None
    return SEARCH.get(fmt) or Search(FALLBACK_TARGET, max(1, DEFAULT_QUALITY[fmt] // 2))


def grid(fmt: str) -> list[int]:
    """The qualities quality:auto may choose in a lossy format, lowest first; the last is the
    format's default."""
    search = search_for(fmt)
    if search is None:
        return []
    default = DEFAULT_QUALITY[fmt]
    return [*range(default, search.floor - 1, -search.step)][::-1]


def most_encodes(fmt: str) -> int:
    """The most encodes (each with a decode and a measure, but the last) auto_quality makes in a
    format: a binary search over the grid, then the default's encode if nothing met the target."""
    qualities = len(grid(fmt))
    return 1 if qualities <= 1 else math.ceil(math.log2(qualities)) + 1


@dataclass(frozen=True)
class Chosen:
    quality: int | None  # None: the format's default encode (a lossless format)
    data: bytes
    score: float | None  # the output's SSIM where it was measured
    encodes: int  # how many encodes the search made


def auto_quality(
    frames: Sequence[Frame],
    fmt: Format,
    options: EncodeOptions,
    encoder: Callable[[Sequence[Frame], Format, EncodeOptions], bytes] = encode,
) -> Chosen:
    """The output at the lowest quality of the format's grid whose first frame, decoded, has
    SSIM at least the format's target against the frame as given to the encoder; the default
    quality where none below it does. Every frame is encoded at that quality. The search is a
    binary search for the first quality that meets the target, so the quality one step below the
    one chosen was measured and missed it (unless it is the floor)."""
    search, qualities = search_for(fmt.name), grid(fmt.name)
    if search is None:
        return Chosen(None, encoder(frames, fmt, options), None, 1)
    reference = luma(frames[0].image, options.background)
    tried: dict[int, tuple[bytes, float]] = {}

    def measured(quality: int) -> tuple[bytes, float]:
        data = encoder(frames, fmt, EncodeOptions(quality, options.background, options.loop))
        tried[quality] = data, ssim(reference, luma(_first(data), options.background))
        return tried[quality]

    low, high = 0, len(qualities) - 1  # the default (high) is the answer if nothing below is
    while low < high:
        middle = (low + high) // 2
        if measured(qualities[middle])[1] >= search.target:
            high = middle
        else:
            low = middle + 1
    quality = qualities[low]
    data, score = tried.get(quality) or measured(quality)
    return Chosen(quality, data, score, len(tried))


def _first(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def luma(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """The picture's luma (ITU-R 601, as Pillow's L) as 32-bit floats, transparency flattened
    onto ``background``."""
    if image.mode in ("LA", "RGBA", "PA", "P"):
        image = image.convert("RGBA")
    image = flatten(image, background)
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return image.convert("F")


def ssim(x: Image.Image, y: Image.Image) -> float:
    """Mean SSIM of two same-size luma images (mode F, see ``luma``); 1.0 for a picture smaller
    than one window."""
    if x.size != y.size:
        raise ValueError(f"sizes differ: {x.size} != {y.size}")
    width, height = x.size
    if width < WINDOW or height < WINDOW:
        return 1.0
    windows_high = height - WINDOW + 1
    if width * height <= SAMPLE_PIXELS or windows_high <= BAND_ROWS:
        total, count = _ssim_sum(x, y)
        return total / count
    # Evenly spaced bands, each BAND_ROWS rows of windows, together about SAMPLE_PIXELS.
    bands = max(1, min(windows_high // BAND_ROWS, SAMPLE_PIXELS // (width * BAND_ROWS)))
    spacing = (windows_high - BAND_ROWS) / max(1, bands - 1)
    total = count = 0.0
    for index in range(bands):
        top = round(index * spacing)
        box = (0, top, width, top + BAND_ROWS + WINDOW - 1)
        part, windows = _ssim_sum(x.crop(box), y.crop(box))
        total += part
        count += windows
    return total / count


def _ssim_sum(x: Image.Image, y: Image.Image) -> tuple[float, float]:
    """The sum of SSIM over every window of the pair, and how many windows there are.

    With the window sums S (n pixels, means S / n) and c = n / (n - 1), SSIM multiplied
    through by n^2 is (2 Sx Sy + n^2 C1) (2c (n Sxy - Sx Sy) + n^2 C2) over
    (Sx^2 + Sy^2 + n^2 C1) (c (n (Sxx + Syy) - Sx^2 - Sy^2) + n^2 C2). Each term that only
    scales and shifts one plane is one ``point`` (ImageMath would fill an image per constant).
    """
    sx, sy = _window_sums(x), _window_sums(y)
    squares = _window_sums(_eval(lambda a, b: a * a + b * b, a=x, b=y))
    products = _window_sums(_eval(lambda a, b: a * b, a=x, b=y))
    n = float(_N)
    c, a, b = n / (n - 1), n * n * C1, n * n * C2
    both = _eval(lambda p, q: p * q, p=sx, q=sy)
    each = _eval(lambda p, q: p * p + q * q, p=sx, q=sy)
    scores = _eval(
        lambda both2, sp, mean2, sq, each, eachc: (both2 * (sp - mean2)) / (each * (sq - eachc)),
        both2=both.point(lambda v: v * 2 + a),
        sp=products.point(lambda v: v * 2 * c * n + b),
        mean2=both.point(lambda v: v * 2 * c),
        sq=squares.point(lambda v: v * c * n + b),
        each=each.point(lambda v: v + a),
        eachc=each.point(lambda v: v * c),
    )
    width, height = scores.size
    return _mean(scores) * width * height, float(width * height)


def _mean(image: Image.Image) -> float:
    """The mean of a float image, accumulated in C (Image.reduce to one pixel)."""
    return float(image.reduce(image.size).getpixel((0, 0)))  # type: ignore[arg-type]


def _eval(expression: Callable[..., object], **images: Image.Image) -> Image.Image:
    names = list(images)
    return ImageMath.lambda_eval(lambda a: expression(*(a[k] for k in names)), **images)  # type: ignore[return-value]


def _window_sums(image: Image.Image) -> Image.Image:
    """Sums over every WINDOW x WINDOW window that fits: WINDOW - 1 pixels smaller each way."""
    return _sums(_sums(image, across=True), across=False)


def _sums(image: Image.Image, across: bool) -> Image.Image:
    """Sums of 7 neighbouring columns (or rows), by doubling: s2 = s1 + s1>>1, s4 = s2 + s2>>2,
    s7 = s4 + s2>>4 + s1>>6 (``>>k``: from the k-th column or row on)."""
    width, height = image.size
    length = width if across else height

    def part(source: Image.Image, start: int, count: int) -> Image.Image:
        if across:
            return source.crop((start, 0, start + count, height))
        return source.crop((0, start, width, start + count))

    s2 = _eval(lambda a, b: a + b, a=part(image, 0, length - 1), b=part(image, 1, length - 1))
    s4 = _eval(lambda a, b: a + b, a=part(s2, 0, length - 3), b=part(s2, 2, length - 3))
    out = length - WINDOW + 1
    return _eval(
        lambda a, b, c: a + b + c, a=part(s4, 0, out), b=part(s2, 4, out), c=part(image, 6, out)
    )
