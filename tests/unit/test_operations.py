"""Every operation of the contract, run through `render`, against expectations stated independently.

Expected images come from geometry (sizes, boxes, pixel positions), from pixel arithmetic on small
images, or from plain Pillow calls other than the ones the implementation makes. Images are
compared by size, mode and PSNR, never by their encoded bytes.
"""

from __future__ import annotations

import io
import math
from typing import Any
from unittest import mock

import pytest
from PIL import (
    Image,
    ImageChops,
    ImageEnhance,
    ImageFilter,
    ImageOps,
    ImageSequence,
    ImageStat,
    JpegImagePlugin,
)

from progimage_service.errors import InvalidOperation, ProgImageError, TooLarge, Unprocessable
from progimage_service.imaging.decode import DRAFT_GAP
from progimage_service.imaging.formats import EXTENSIONS
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.operations.table import IMPLEMENTATIONS, RenderState
from progimage_service.imaging.pipeline import Pipeline, parse_ops, parse_path
from progimage_service.imaging.registry import REGISTRY
from progimage_service.imaging.render import render
from tests.images import decode, encode, psnr, sample

LIMITS = Limits()
MARK_ID = "W" * 25
MARK2_ID = "V" * 25
MASK_ID = "M" * 25

BICUBIC = Image.Resampling.BICUBIC
MAGENTA = (255, 0, 255)


def png(image: Image.Image) -> bytes:
    """Lossless bytes of an image, without metadata: render decodes exactly these pixels."""
    clean = image.copy()
    clean.info = {}
    return encode(clean, "PNG")


def run(data: bytes, path: str, images: dict | None = None, limits: Limits = LIMITS):
    return decode(render(data, parse_path(path), limits, images).data)


def pixels(image: Image.Image) -> list:
    """Every pixel value, row by row (``getdata`` is deprecated in newer Pillow)."""
    flattened = getattr(image, "get_flattened_data", None)
    return list(flattened() if flattened else image.getdata())


def near(a, b, tolerance: float) -> bool:
    a, b = (a,) if isinstance(a, int) else a, (b,) if isinstance(b, int) else b
    return len(a) == len(b) and all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


FLOWER = decode(sample("formats/flower.jpg")).convert("RGB")  # 480x360, 4:3
FLOWER_PNG = png(FLOWER)
PORTRAIT = FLOWER.transpose(Image.Transpose.TRANSPOSE)  # 360x480
HOPPER = decode(sample("formats/hopper.png")).convert("RGB")  # 128x128
HOPPER_PNG = png(HOPPER)
GREY = decode(sample("formats/hopper_gray.jpg"))  # 128x128, mode L
GREY_PNG = png(GREY)


def six_pixels() -> Image.Image:
    """A 3x2 image whose every pixel differs: positions can be followed exactly."""
    image = Image.new("RGB", (3, 2))
    for i, (x, y) in enumerate((x, y) for y in range(2) for x in range(3)):
        image.putpixel((x, y), (40 * i, 255 - 40 * i, (90 * i) % 256))
    return image


# --- resize --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("resize:240:240", (240, 180)),  # fit inside: the width decides
        ("resize:240:100", (133, 100)),  # fit inside: the height decides (480 * 100/360)
        ("resize:0:90", (120, 90)),
        ("resize:100:0", (100, 75)),
        ("resize:960:960", (960, 720)),  # fit may enlarge
        ("resize:200:200:fill", (200, 200)),
        ("resize:100:300:fill", (100, 300)),
        ("resize:300:100:fill", (300, 100)),
        ("resize:200:200:stretch", (200, 200)),
        ("resize:50:300:stretch", (50, 300)),
        ("resize:200:200:pad", (200, 200)),
        ("resize:30:500:pad", (30, 500)),
        ("resize:200:0:fill", (200, 150)),  # one side 0: keep the aspect, whatever the mode
        ("resize:0:90:stretch", (120, 90)),
        ("resize:0:90:pad", (120, 90)),
        ("resize:480:360", (480, 360)),
    ],
)
def test_resize_sizes_from_a_landscape_source(path: str, size: tuple[int, int]) -> None:
    out = run(FLOWER_PNG, path + ".png")
    assert out.size == size


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("resize:100:100", (75, 100)),
        ("resize:0:240", (180, 240)),
        ("resize:100:100:fill", (100, 100)),
        ("resize:100:100:pad", (100, 100)),
        ("resize:90:60:stretch", (90, 60)),
    ],
)
def test_resize_sizes_from_a_portrait_source(path: str, size: tuple[int, int]) -> None:
    assert run(png(PORTRAIT), path + ".png").size == size


def test_resize_never_makes_a_side_zero() -> None:
    strip = png(Image.new("RGB", (1000, 10), (9, 9, 9)))
    assert run(strip, "resize:100:0.png").size == (100, 1)
    assert run(strip, "resize:10:0.png").size == (10, 1)
    assert run(strip, "resize:0:1.png").size == (100, 1)


@pytest.mark.parametrize(
    ("path", "size"),
    [("resize:240:240", (240, 180)), ("resize:100:0", (100, 75)), ("resize:960:0", (960, 720))],
)
def test_resize_fit_is_the_scaled_picture(path: str, size: tuple[int, int]) -> None:
    out = run(FLOWER_PNG, path + ".png")
    assert out.mode == "RGB"
    assert psnr(out, FLOWER.resize(size, BICUBIC)) > 30


def test_resize_stretch_ignores_the_aspect() -> None:
    out = run(FLOWER_PNG, "resize:50:300:stretch.png")
    assert psnr(out, FLOWER.resize((50, 300), BICUBIC)) > 30


@pytest.mark.parametrize(
    ("path", "box", "wrong_box"),
    [
        # 480x360 covering 200x200 is 267x200: the centred 360x360 square of the source
        ("resize:200:200:fill", (60, 0, 420, 360), (0, 0, 360, 360)),
        # covering 100x300 is 400x300: a centred 120 px wide band
        ("resize:100:300:fill", (180, 0, 300, 360), (0, 0, 120, 360)),
        # covering 300x100 is 300x225: a centred 160 px high band
        ("resize:300:100:fill", (0, 100, 480, 260), (0, 0, 480, 160)),
    ],
)
def test_resize_fill_is_centre_cropped(path: str, box, wrong_box) -> None:
    out = run(FLOWER_PNG, path + ".png")
    expected = FLOWER.crop(box).resize(out.size, BICUBIC)
    score = psnr(out, expected)
    assert score > 30
    # the test tells crops apart: an off-centre crop scores clearly lower
    assert psnr(out, FLOWER.crop(wrong_box).resize(out.size, BICUBIC)) < score - 8


def test_resize_pad_keeps_borders_transparent_in_png() -> None:
    out = run(FLOWER_PNG, "resize:200:200:pad.png")
    assert (out.size, out.mode) == ((200, 200), "RGBA")
    # 480x360 fits as 200x150, centred: rows 25..174 hold the picture
    assert out.getchannel("A").getbbox() == (0, 25, 200, 175)
    assert out.getchannel("A").getextrema() == (0, 255)
    assert psnr(out.crop((0, 25, 200, 175)), FLOWER.resize((200, 150), BICUBIC)) > 30


def test_resize_pad_centres_a_portrait_horizontally() -> None:
    out = run(png(PORTRAIT), "resize:200:200:pad.png")
    assert out.getchannel("A").getbbox() == (25, 0, 175, 200)
    assert psnr(out.crop((25, 0, 175, 200)), PORTRAIT.resize((150, 200), BICUBIC)) > 30


def test_resize_pad_borders_are_white_or_the_background_in_jpeg() -> None:
    white = run(FLOWER_PNG, "resize:200:200:pad.jpg")
    red = run(FLOWER_PNG, "resize:200:200:pad/background:ff0000.jpg")
    for out, colour in ((white, (255, 255, 255)), (red, (255, 0, 0))):
        assert (out.size, out.mode) == ((200, 200), "RGB")
        for point in ((100, 5), (100, 194), (5, 10), (195, 190)):
            assert near(out.getpixel(point), colour, 12), (point, out.getpixel(point))
        assert (
            psnr(
                out.crop((0, 28, 200, 172)),
                FLOWER.resize((200, 150), BICUBIC).crop((0, 3, 200, 147)),
            )
            > 25
        )


def test_resize_pad_of_a_grey_image() -> None:
    out = run(GREY_PNG, "resize:128:64:pad.png")
    assert (out.size, out.mode) == ((128, 64), "LA")
    assert out.getchannel("A").getbbox() == (32, 0, 96, 64)
    assert psnr(out.crop((32, 0, 96, 64)), GREY.resize((64, 64), BICUBIC)) > 30


# --- thumbnail -----------------------------------------------------------------------------------


def test_thumbnail_never_enlarges() -> None:
    for path in ("thumbnail:256", "thumbnail:128", "thumbnail:1000:130"):
        out = run(HOPPER_PNG, path + ".png")
        assert out.size == (128, 128), path
        assert psnr(out, HOPPER) == math.inf, path


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("thumbnail:100", (100, 75)),
        ("thumbnail:100:50", (67, 50)),
        ("thumbnail:1000:100", (133, 100)),
        ("thumbnail:479", (479, 359)),
        ("thumbnail:480:16384", (480, 360)),
    ],
)
def test_thumbnail_fits_inside(path: str, size: tuple[int, int]) -> None:
    out = run(FLOWER_PNG, path + ".png")
    assert out.size == size
    assert psnr(out, FLOWER.resize(size, BICUBIC)) > 30


def test_thumbnail_height_defaults_to_the_width() -> None:
    one = run(FLOWER_PNG, "thumbnail:100.png")
    two = run(FLOWER_PNG, "thumbnail:100:100.png")
    assert one.size == two.size == (100, 75)
    assert psnr(one, two) == math.inf
    assert run(png(PORTRAIT), "thumbnail:100.png").size == (75, 100)


@pytest.mark.parametrize("side", [100, 200, 300, 600])
def test_thumbnail_of_a_jpeg_decoded_at_reduced_size_matches_a_full_decode(
    side: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = sample("exif-orientation/Landscape_1.jpg")
    full = decode(data)  # every pixel decoded
    assert full.size == (1800, 1200)
    drafts: list[tuple[int, int]] = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(image, mode, size):
        drafts.append(size)
        return draft(image, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    out = run(data, f"thumbnail:{side}.png")
    size = (side, round(side * 2 / 3))
    # The fast path was taken: decoded at 1/2, 1/4 or 1/8, with a margin left for the filter.
    assert drafts == [(round(size[0] * DRAFT_GAP), round(size[1] * DRAFT_GAP))]
    assert out.size == size
    assert psnr(out, full.resize(size, BICUBIC)) >= 35


def test_thumbnail_at_reduced_size_respects_exif_orientation() -> None:
    reference = decode(sample("exif-orientation/Landscape_1.jpg")).resize((300, 200), BICUBIC)
    for n in (3, 6, 8):  # upside down, and stored turned a quarter each way (1200x1800)
        out = run(sample(f"exif-orientation/Landscape_{n}.jpg"), "thumbnail:300.png")
        assert out.size == (300, 200), n
        # separately compressed photos: the right orientation scores about 31 dB, a wrong one < 10
        assert psnr(out, reference) > 25, n


# --- crop ----------------------------------------------------------------------------------------


def test_crop_by_box() -> None:
    out = run(HOPPER_PNG, "crop:10:20:30:40.png")
    assert out.size == (30, 40)
    assert psnr(out, HOPPER.crop((10, 20, 40, 60))) == math.inf


@pytest.mark.parametrize(
    ("path", "box"),
    [
        ("crop:100:90:50:50", (100, 90, 128, 128)),
        ("crop:0:0:1000:1000", (0, 0, 128, 128)),
        ("crop:127:127:16384:16384", (127, 127, 128, 128)),
    ],
)
def test_crop_box_is_clamped_to_the_image(path: str, box) -> None:
    out = run(HOPPER_PNG, path + ".png")
    assert out.size == (box[2] - box[0], box[3] - box[1])
    assert psnr(out, HOPPER.crop(box)) == math.inf


@pytest.mark.parametrize(
    "path", ["crop:128:0:10:10", "crop:0:128:10:10", "crop:500:500:10:10", "crop:16384:0:1:1"]
)
def test_crop_box_entirely_outside_is_unprocessable(path: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        run(HOPPER_PNG, path + ".png")
    assert raised.value.status == 422
    assert "128x128" in raised.value.message


@pytest.mark.parametrize(
    ("gravity", "x", "y"),
    [
        ("northwest", 0, 0),
        ("north", 190, 0),
        ("northeast", 380, 0),
        ("west", 0, 140),
        ("center", 190, 140),
        ("east", 380, 140),
        ("southwest", 0, 280),
        ("south", 190, 280),
        ("southeast", 380, 280),
    ],
)
def test_crop_by_gravity_takes_the_expected_region(gravity: str, x: int, y: int) -> None:
    out = run(FLOWER_PNG, f"crop:100:80:{gravity}.png")
    assert out.size == (100, 80)
    assert psnr(out, FLOWER.crop((x, y, x + 100, y + 80))) == math.inf


def test_crop_gravity_defaults_to_the_centre_and_clamps_to_the_image() -> None:
    assert psnr(run(FLOWER_PNG, "crop:100:80.png"), FLOWER.crop((190, 140, 290, 220))) == math.inf
    wide = run(FLOWER_PNG, "crop:1000:50:south.png")
    assert wide.size == (480, 50)
    assert psnr(wide, FLOWER.crop((0, 310, 480, 360))) == math.inf
    assert run(FLOWER_PNG, "crop:16384:16384.png").size == (480, 360)


# --- rotate and flip -----------------------------------------------------------------------------


def _moved(mapping) -> None:
    source = six_pixels()
    for angle, where in mapping:
        out = run(png(source), f"rotate:{angle}.png")
        w, h = source.size
        assert out.size == ((h, w) if abs(angle) % 180 == 90 else (w, h)), angle
        for y in range(h):
            for x in range(w):
                assert out.getpixel(where(x, y, w, h)) == source.getpixel((x, y)), (angle, x, y)


def test_rotate_quarter_turns_clockwise_move_every_pixel_exactly() -> None:
    _moved(
        [
            # clockwise: the top-left corner goes to the top-right
            *((a, lambda x, y, w, h: (h - 1 - y, x)) for a in (90, -270, 450, 810)),
            *((a, lambda x, y, w, h: (w - 1 - x, h - 1 - y)) for a in (180, -180, 540)),
            *((a, lambda x, y, w, h: (y, w - 1 - x)) for a in (270, -90, 630)),
            *((a, lambda x, y, w, h: (x, y)) for a in (0, 360, -360, 720)),
        ]
    )


@pytest.mark.parametrize(
    ("angle", "method"),
    [
        (90, Image.Transpose.ROTATE_270),
        (180, Image.Transpose.ROTATE_180),
        (270, Image.Transpose.ROTATE_90),
        (-90, Image.Transpose.ROTATE_90),
        (450, Image.Transpose.ROTATE_270),
    ],
)
def test_rotate_quarter_turns_are_exact_on_a_photo(angle: float, method) -> None:
    out = run(FLOWER_PNG, f"rotate:{angle}.png")
    expected = FLOWER.transpose(method)
    assert (out.size, out.mode) == (expected.size, "RGB")
    assert psnr(out, expected) == math.inf


def _bounding(w: int, h: int, degrees: float) -> tuple[float, float]:
    c, s = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    return w * c + h * s, w * s + h * c


@pytest.mark.parametrize("angle", [30, -30, 45, 22.5, 100, 359])
def test_rotate_any_angle_expands_to_the_bounding_box(angle: float) -> None:
    out = run(FLOWER_PNG, f"rotate:{angle}.png")
    width, height = _bounding(480, 360, angle)
    assert abs(out.width - width) <= 2 and abs(out.height - height) <= 2, (out.size, width, height)
    assert out.mode == "RGBA"
    alpha = out.getchannel("A")
    w, h = out.size
    for corner in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
        assert alpha.getpixel(corner) == 0, corner
    assert alpha.getpixel((w // 2, h // 2)) == 255


def test_rotate_turns_clockwise_about_the_centre() -> None:
    """A dark mark above the centre moves right (clockwise on screen, y down)."""
    image = Image.new("RGB", (200, 100), (255, 255, 255))
    image.paste((0, 0, 0), (97, 10, 103, 16))  # centred on (100, 13): 37 px above the centre
    out = run(png(image), "rotate:30.png")
    dark = [
        (x, y)
        for y in range(out.height)
        for x in range(out.width)
        if (p := out.getpixel((x, y)))[3] == 255 and sum(p[:3]) < 300
    ]
    cx = sum(x for x, _ in dark) / len(dark) + 0.5
    cy = sum(y for _, y in dark) / len(dark) + 0.5
    theta = math.radians(30)
    dx, dy = 0, -37  # the mark, from the centre
    expected = (
        out.width / 2 + dx * math.cos(theta) - dy * math.sin(theta),
        out.height / 2 + dx * math.sin(theta) + dy * math.cos(theta),
    )
    assert abs(cx - expected[0]) <= 1.5 and abs(cy - expected[1]) <= 1.5, ((cx, cy), expected)


def test_rotate_fills_corners_with_white_or_the_colour_without_alpha() -> None:
    white = run(FLOWER_PNG, "rotate:30.jpg")
    red = run(FLOWER_PNG, "rotate:30:ff0000.jpg")
    for out, colour in ((white, (255, 255, 255)), (red, (255, 0, 0))):
        assert out.mode == "RGB"
        w, h = out.size
        for corner in ((1, 1), (w - 2, 1), (1, h - 2), (w - 2, h - 2)):
            assert near(out.getpixel(corner), colour, 12), (corner, out.getpixel(corner))
    green = run(FLOWER_PNG, "rotate:30:00ff00.png").convert("RGBA")
    assert green.getpixel((0, 0)) == (0, 255, 0, 255)
    half = run(FLOWER_PNG, "rotate:30:0000ff80.png").convert("RGBA")
    assert half.getpixel((0, 0)) == (0, 0, 255, 128)


def test_rotate_a_grey_image_by_any_angle() -> None:
    transparent = run(GREY_PNG, "rotate:45.png")
    assert transparent.mode == "LA"
    assert transparent.getchannel("A").getpixel((0, 0)) == 0
    assert transparent.getchannel("A").getpixel((90, 90)) == 255
    white = run(GREY_PNG, "rotate:45.jpg")
    assert white.mode == "L" and white.getpixel((1, 1)) > 245
    red = run(GREY_PNG, "rotate:45:ff0000.jpg")  # the colour survives a grey source
    assert red.mode == "RGB" and near(red.getpixel((1, 1)), (255, 0, 0), 12)
    centre = red.getpixel((red.width // 2, red.height // 2))
    assert max(centre) - min(centre) <= 12  # the picture itself stays grey


def test_rotate_keeps_transparency_on_quarter_turns() -> None:
    image = Image.new("RGBA", (4, 2), (0, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    out = run(png(image), "rotate:90.png")
    assert out.mode == "RGBA" and out.size == (2, 4)
    assert out.getpixel((1, 0)) == (255, 0, 0, 255)
    assert out.getchannel("A").getextrema() == (0, 255)


def test_flip_mirrors_exactly() -> None:
    source = six_pixels()
    h = run(png(source), "flip:h.png")
    v = run(png(source), "flip:v.png")
    for y in range(2):
        for x in range(3):
            assert h.getpixel((2 - x, y)) == source.getpixel((x, y))
            assert v.getpixel((x, 1 - y)) == source.getpixel((x, y))
    assert psnr(run(FLOWER_PNG, "flip:h.png"), ImageOps.mirror(FLOWER)) == math.inf
    assert psnr(run(FLOWER_PNG, "flip:v.png"), ImageOps.flip(FLOWER)) == math.inf
    assert psnr(run(FLOWER_PNG, "flip:h/flip:h.png"), FLOWER) == math.inf


# --- colour filters ------------------------------------------------------------------------------


def _luma(pixel) -> float:
    r, g, b = pixel[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b  # ITU-R 601


def test_grayscale_is_the_601_luma() -> None:
    out = run(HOPPER_PNG, "grayscale.png")
    assert (out.mode, out.size) == ("L", HOPPER.size)
    worst = max(abs(o - _luma(p)) for o, p in zip(pixels(out), pixels(HOPPER), strict=True))
    assert worst <= 1


def test_grayscale_keeps_alpha_and_gives_grey_jpeg() -> None:
    image = HOPPER.convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize(HOPPER.size))
    out = run(png(image), "grayscale.png")
    assert out.mode == "LA"
    assert psnr(out.getchannel("A"), image.getchannel("A")) == math.inf
    assert run(HOPPER_PNG, "grayscale.jpg").mode == "L"


SEPIA = ((0.393, 0.769, 0.189), (0.349, 0.686, 0.168), (0.272, 0.534, 0.131))


def test_sepia_follows_the_sepia_matrix() -> None:
    colours = [(200, 100, 50), (10, 20, 30), (255, 255, 255), (0, 0, 0), (120, 200, 40)]
    image = Image.new("RGB", (len(colours), 1))
    for x, colour in enumerate(colours):
        image.putpixel((x, 0), colour)
    out = run(png(image), "sepia.png")
    assert out.mode == "RGB"
    for x, colour in enumerate(colours):
        expected = tuple(
            min(255, round(sum(k * c for k, c in zip(row, colour, strict=True)))) for row in SEPIA
        )
        assert near(out.getpixel((x, 0)), expected, 1), (colour, out.getpixel((x, 0)), expected)


def test_invert_is_255_minus_each_value() -> None:
    out = run(HOPPER_PNG, "invert.png")
    for o, p in zip(pixels(out), pixels(HOPPER), strict=True):
        assert o == tuple(255 - v for v in p)
    image = HOPPER.convert("RGBA")
    image.putalpha(77)
    out = run(png(image), "invert.png")
    assert out.getchannel("A").getextrema() == (77, 77)
    assert out.getpixel((5, 5))[:3] == tuple(255 - v for v in HOPPER.getpixel((5, 5)))


def _squashed(image: Image.Image, low: int, scale: float) -> Image.Image:
    return image.point(lambda v: low + int(v * scale))


def test_equalize_makes_the_cumulative_histogram_roughly_linear() -> None:
    source = _squashed(FLOWER.convert("L"), 80, 0.25)  # only levels 80..143
    out = run(png(source), "equalize.png")
    assert out.mode == "L"
    histogram = out.histogram()
    total = sum(histogram)
    cumulative = 0
    worst = 0.0
    for level, count in enumerate(histogram):
        cumulative += count
        worst = max(worst, abs(cumulative / total - (level + 1) / 256))
    assert worst < 0.1, worst
    # the source's own cumulative histogram is nowhere near linear
    source_cdf_at_127 = sum(source.histogram()[:128]) / total
    assert abs(source_cdf_at_127 - 0.5) > 0.3


def test_autocontrast_stretches_each_channel_to_the_full_range() -> None:
    source = _squashed(FLOWER, 60, 0.4)
    out = run(png(source), "autocontrast.png")
    assert out.getextrema() == ((0, 255), (0, 255), (0, 255))
    bands = []
    for band, (low, high) in zip(source.split(), source.getextrema(), strict=True):
        bands.append(
            band.point(lambda v, low=low, high=high: round((v - low) * 255 / (high - low)))
        )
    assert psnr(out, Image.merge("RGB", bands)) > 40


# --- blur and sharpen ----------------------------------------------------------------------------


def _edge_energy(image: Image.Image) -> float:
    grey = image.convert("L")
    return ImageStat.Stat(ImageChops.difference(grey, ImageChops.offset(grey, 1, 0))).mean[0]


def test_blur_reduces_variance_and_more_sigma_blurs_more() -> None:
    energies = [_edge_energy(FLOWER)]
    for sigma in (0.5, 2, 8):
        out = run(FLOWER_PNG, f"blur:{sigma}.png")
        assert out.size == FLOWER.size
        energies.append(_edge_energy(out))
    assert energies == sorted(energies, reverse=True)
    assert energies[-1] < energies[0] / 4
    blurred = run(FLOWER_PNG, "blur:4.png").convert("L")
    assert ImageStat.Stat(blurred).var[0] < ImageStat.Stat(FLOWER.convert("L")).var[0]


@pytest.mark.parametrize("sigma", [1, 2.5, 6, 12])
def test_blur_sigma_is_the_standard_deviation_of_the_spread(sigma: float) -> None:
    """A one-pixel line blurs into a profile whose standard deviation is sigma."""
    line = Image.new("L", (201, 9), 0)
    line.paste(255, (100, 0, 101, 9))
    out = run(png(line), f"blur:{sigma}.png")
    row = [out.getpixel((x, 4)) for x in range(201)]
    total = sum(row)
    mean = sum(x * v for x, v in enumerate(row)) / total
    spread = math.sqrt(sum((x - mean) ** 2 * v for x, v in enumerate(row)) / total)
    assert abs(mean - 100) < 0.5
    assert abs(spread - sigma) < 0.1 * sigma + 0.1, spread
    assert abs(total - 255) < 12  # the line's brightness is spread, not lost


@pytest.mark.parametrize("sigma", [3, 4, 5.5, 9, 40])
@pytest.mark.parametrize("size", [None, (333, 251)])
def test_blur_matches_pillows_gaussian_blur(sigma: float, size: tuple[int, int] | None) -> None:
    """From sigma 4 the blur is computed on a reduced copy: still the same picture (odd sizes
    too, where the reduction is not a whole number)."""
    source = FLOWER if size is None else FLOWER.resize(size)
    out = run(png(source), f"blur:{sigma}.png")
    assert out.size == source.size
    assert psnr(out, source.filter(ImageFilter.GaussianBlur(sigma))) > 42


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("sigma", [2, 4, 10])
def test_blur_of_a_jpeg_decoded_reduced_is_the_full_size_blur(
    orientation: int, sigma: float
) -> None:
    """A JPEG is decoded at the blur's working scale (1/2 to 1/8): the result is the blur of
    the full decode, upright, at the picture's size."""
    data = sample(f"exif-orientation/Landscape_{orientation}.jpg")
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    out = run(data, f"blur:{sigma}.png")
    assert out.size == upright.size
    assert psnr(out, upright.filter(ImageFilter.GaussianBlur(sigma))) > 42


def test_blur_does_not_darken_the_edge_of_a_transparent_shape() -> None:
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (10, 10, 30, 30))
    out = run(png(image), "blur:3.png")
    assert out.mode == "RGBA"
    for x in range(4, 12):  # across the edge, where the alpha fades out
        r, g, b, a = out.getpixel((x, 20))
        if a > 20:
            assert r >= 245 and g <= 10 and b <= 10, (x, (r, g, b, a))
    assert 0 < out.getpixel((9, 20))[3] < 255


def _step() -> Image.Image:
    image = Image.new("L", (40, 20), 100)
    image.paste(150, (20, 0, 40, 20))
    return image


def test_sharpen_increases_edge_contrast() -> None:
    overshoot = []
    for path in ("sharpen", "sharpen:3"):
        out = run(png(_step()), path + ".png")
        row = [out.getpixel((x, 10)) for x in range(40)]
        assert min(row) < 100 and max(row) > 150, (path, row)
        assert row[0] == 100 and row[39] == 150  # far from the edge: unchanged
        overshoot.append(max(row) - min(row))
    assert overshoot[1] > overshoot[0]
    assert _edge_energy(run(FLOWER_PNG, "sharpen.png")) > _edge_energy(FLOWER)


@pytest.mark.parametrize("path", ["sharpen", "sharpen:2:0.7", "sharpen:1:9", "blur:1.5"])
def test_filters_applied_in_bands_are_pillows_exactly(path: str) -> None:
    """Sharpen (and a blur below sigma 2) run band by band on a tall image: every pixel is
    what Pillow's filter gives on the whole."""
    tall = FLOWER.resize((2000, 2400))  # over 4 MP: filtered in bands
    expected = {
        "sharpen": ImageFilter.UnsharpMask(2, 100, 0),
        "sharpen:2:0.7": ImageFilter.UnsharpMask(0.7, 200, 0),
        "sharpen:1:9": ImageFilter.UnsharpMask(9, 100, 0),
        "blur:1.5": ImageFilter.GaussianBlur(1.5),
    }[path]
    assert psnr(run(png(tall), f"{path}.png"), tall.filter(expected)) == math.inf


def test_sharpen_with_amount_zero_changes_nothing() -> None:
    assert psnr(run(FLOWER_PNG, "sharpen:0.png"), FLOWER) == math.inf


# --- adjustments and effects ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["brightness", "contrast", "saturation"])
def test_adjustments_at_one_leave_the_image_unchanged(name: str) -> None:
    assert psnr(run(FLOWER_PNG, f"{name}:1.png"), FLOWER) >= 50


@pytest.mark.parametrize("name", ["brightness", "contrast", "saturation"])
@pytest.mark.parametrize("factor", [0.3, 1.7, 4])
def test_adjustments_match_pillows_image_enhance(name: str, factor: float) -> None:
    """One table or colour matrix gives what ImageEnhance's blend with a full-size copy does."""
    enhancer = {"brightness": "Brightness", "contrast": "Contrast", "saturation": "Color"}[name]
    expected = getattr(ImageEnhance, enhancer)(FLOWER).enhance(factor)
    assert psnr(run(FLOWER_PNG, f"{name}:{factor}.png"), expected) > 45


def test_saturation_zero_is_grey() -> None:
    out = run(FLOWER_PNG, "saturation:0.png")
    assert max(max(p) - min(p) for p in pixels(out)) <= 1
    assert psnr(out.convert("L"), FLOWER.convert("L")) > 40  # the same luminance


def test_brightness_zero_is_black_and_scales_values() -> None:
    assert run(FLOWER_PNG, "brightness:0.png").getextrema() == ((0, 0), (0, 0), (0, 0))
    image = png(Image.new("RGB", (4, 4), (50, 60, 70)))
    assert near(run(image, "brightness:2.png").getpixel((1, 1)), (100, 120, 140), 1)
    assert near(run(image, "brightness:0.5.png").getpixel((1, 1)), (25, 30, 35), 1)


def test_contrast_scales_around_the_mean_grey() -> None:
    image = Image.new("RGB", (20, 10), (50, 50, 50))
    image.paste((150, 150, 150), (10, 0, 20, 10))  # mean grey 100
    out = run(png(image), "contrast:2.png")
    assert near(out.getpixel((2, 2)), (0, 0, 0), 1)
    assert near(out.getpixel((15, 2)), (200, 200, 200), 1)
    flat = run(png(image), "contrast:0.png")
    assert near(flat.getpixel((2, 2)), (100, 100, 100), 1)
    assert near(flat.getpixel((15, 2)), (100, 100, 100), 1)


def test_saturation_scales_away_from_the_grey() -> None:
    image = png(Image.new("RGB", (4, 4), (100, 150, 200)))
    grey = _luma((100, 150, 200))
    expected = tuple(min(255, max(0, round(grey + 2 * (v - grey)))) for v in (100, 150, 200))
    assert near(run(image, "saturation:2.png").getpixel((1, 1)), expected, 2)


def test_pixelate_makes_uniform_blocks_of_the_mean_colour() -> None:
    out = run(FLOWER_PNG, "pixelate:8.png")  # 480x360: 60x45 blocks of 8x8
    assert out.size == FLOWER.size
    for by in range(45):
        for bx in range(60):
            box = (bx * 8, by * 8, bx * 8 + 8, by * 8 + 8)
            block = out.crop(box)
            assert all(low == high for low, high in block.getextrema()), box
            if (bx + by) % 7 == 0:
                mean = ImageStat.Stat(FLOWER.crop(box)).mean
                assert near(block.getpixel((0, 0)), mean, 1.5), box
    assert psnr(run(FLOWER_PNG, "pixelate:1.png"), FLOWER) == math.inf


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_posterize_keeps_two_to_the_bits_levels(bits: int) -> None:
    out = run(FLOWER_PNG, f"posterize:{bits}.png")
    step = 256 >> bits
    for band in out.split():
        levels = {v for v, n in enumerate(band.histogram()) if n}
        assert len(levels) <= 2**bits
        assert all(level % step == 0 for level in levels), levels
    assert psnr(run(FLOWER_PNG, "posterize:8.png"), FLOWER) == math.inf


def test_tint_turns_white_into_the_colour_and_keeps_black() -> None:
    image = Image.new("RGBA", (3, 1))
    image.putdata([(255, 255, 255, 255), (0, 0, 0, 255), (128, 128, 128, 100)])
    out = run(png(image), "tint:ff8000.png")
    assert near(out.getpixel((0, 0)), (255, 128, 0, 255), 1)
    assert near(out.getpixel((1, 0)), (0, 0, 0, 255), 1)
    assert near(out.getpixel((2, 0)), (128, 64, 0, 100), 1)


# --- masks ---------------------------------------------------------------------------------------


def _inside_circle(x: int, y: int) -> float:
    """Signed distance in pixels from the 480x360 image's centred circle (negative inside)."""
    return math.hypot(x + 0.5 - 240, y + 0.5 - 180) - 180


def _inside_ellipse(x: int, y: int) -> float:
    return math.hypot((x + 0.5 - 240) / 240, (y + 0.5 - 180) / 180) - 1


def _inside_rounded(x: int, y: int, radius: int = 40) -> float:
    cx = min(max(x + 0.5, radius), 480 - radius)
    cy = min(max(y + 0.5, radius), 360 - radius)
    return math.hypot(x + 0.5 - cx, y + 0.5 - cy) - radius


@pytest.mark.parametrize(
    ("path", "distance", "margin"),
    [
        ("mask:circle", _inside_circle, 2),
        ("mask:ellipse", _inside_ellipse, 0.02),
        ("mask:rounded:40", _inside_rounded, 2),
    ],
)
def test_mask_shapes_make_the_outside_transparent(path: str, distance, margin: float) -> None:
    out = run(FLOWER_PNG, path + ".png")
    assert (out.size, out.mode) == ((480, 360), "RGBA")
    alpha = out.getchannel("A")
    for y in range(0, 360, 6):
        for x in range(0, 480, 6):
            d = distance(x, y)
            if d < -margin:
                assert alpha.getpixel((x, y)) == 255, (x, y)
            elif d > margin:
                assert alpha.getpixel((x, y)) == 0, (x, y)
    # the colour inside is the picture's
    assert out.getpixel((240, 180))[:3] == FLOWER.getpixel((240, 180))


def test_mask_circle_of_a_large_image_keeps_a_smooth_exact_edge() -> None:
    """Above 1 MP the mask is drawn at 2x instead of 4x (to bound its memory): the circle's
    area and its anti-aliased edge stay."""
    size = (1600, 1000)
    out = run(png(Image.new("RGB", size, (200, 100, 50))), "mask:circle.png")
    alpha = out.getchannel("A")
    area = sum(v * n for v, n in enumerate(alpha.histogram())) / 255
    assert abs(area - math.pi * 500**2) < 0.001 * math.pi * 500**2
    edge = [alpha.getpixel((x, 140 + x - 440)) for x in range(440, 454)]  # across it, at 45°
    assert edge[0] == 0 and edge[-1] == 255
    assert any(0 < v < 255 for v in edge), edge


def test_mask_circle_is_the_largest_centred_circle_of_a_portrait() -> None:
    alpha = run(png(PORTRAIT), "mask:circle.png").getchannel("A")
    assert alpha.getbbox() == (0, 60, 360, 420)


def test_mask_rounded_without_radius_is_the_whole_rectangle() -> None:
    out = run(FLOWER_PNG, "mask:rounded.png")
    assert out.getchannel("A").getextrema() == (255, 255)


@pytest.mark.parametrize("ext", ["webp", "avif"])
def test_mask_transparency_survives_other_formats_with_alpha(ext: str) -> None:
    out = run(FLOWER_PNG, f"mask:circle.{ext}").convert("RGBA")
    assert out.getpixel((0, 0))[3] <= 5
    assert out.getpixel((479, 359))[3] <= 5
    assert out.getpixel((240, 180))[3] >= 250


def test_mask_outside_is_white_or_the_background_in_jpeg() -> None:
    white = run(FLOWER_PNG, "mask:circle.jpg")
    black = run(FLOWER_PNG, "mask:circle/background:000000.jpg")
    blue = run(FLOWER_PNG, "mask:ellipse/background:0000ff.png")
    for out, colour in ((white, (255, 255, 255)), (black, (0, 0, 0)), (blue, (0, 0, 255))):
        assert out.mode == "RGB"
        for corner in ((2, 2), (477, 2), (2, 357), (477, 357)):
            assert near(out.getpixel(corner), colour, 12), (corner, out.getpixel(corner))
        assert near(out.getpixel((240, 180)), FLOWER.getpixel((240, 180)), 16)


def test_mask_by_image_uses_its_luminance_as_alpha() -> None:
    gradient = Image.linear_gradient("L").rotate(90).resize((480, 360))  # dark left, light right
    out = run(FLOWER_PNG, f"mask:{MASK_ID}.png", images={MASK_ID: png(gradient)})
    alpha = out.getchannel("A")
    for x in range(0, 480, 37):
        for y in (0, 180, 359):
            assert abs(alpha.getpixel((x, y)) - gradient.getpixel((x, y))) <= 2, (x, y)
    assert out.getpixel((240, 180))[:3] == FLOWER.getpixel((240, 180))


def test_mask_by_image_is_scaled_to_fit() -> None:
    small = Image.new("L", (48, 36), 0)
    small.paste(255, (24, 0, 48, 36))  # left half black, right half white
    alpha = run(FLOWER_PNG, f"mask:{MASK_ID}.png", images={MASK_ID: png(small)}).getchannel("A")
    # away from the edge at x = 240 (where the scaled-up mask's resampling rings a little)
    assert alpha.crop((0, 0, 200, 360)).getextrema() == (0, 0)
    assert alpha.crop((280, 0, 480, 360)).getextrema() == (255, 255)
    assert alpha.getpixel((230, 180)) < 32 and alpha.getpixel((250, 180)) > 223


@pytest.mark.parametrize("colour", [(255, 0, 0), (0, 255, 0), (0, 0, 255), (200, 150, 50)])
def test_mask_by_a_coloured_image_uses_luminance_not_a_channel(colour) -> None:
    mask = png(Image.new("RGB", (10, 10), colour))
    alpha = run(FLOWER_PNG, f"mask:{MASK_ID}.png", images={MASK_ID: mask}).getchannel("A")
    assert near(alpha.getpixel((240, 180)), round(_luma(colour)), 1)


def test_mask_keeps_existing_transparency() -> None:
    image = FLOWER.convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 240, 360))  # left half already transparent
    alpha = run(png(image), "mask:circle.png").getchannel("A")
    assert alpha.getpixel((200, 180)) == 0  # inside the circle, but was transparent
    assert alpha.getpixel((280, 180)) == 255
    assert alpha.getpixel((479, 0)) == 0


# --- watermark -----------------------------------------------------------------------------------

MARK = png(Image.new("RGB", (100, 50), MAGENTA))
MARK2 = png(Image.new("RGB", (40, 40), (0, 255, 0)))


def _changed(out: Image.Image, box=None):
    diff = ImageChops.difference(out.convert("RGB"), FLOWER)
    return (diff.crop(box) if box else diff).getbbox()


@pytest.mark.parametrize(
    ("gravity", "fx", "fy"),
    [
        ("northwest", 0, 0),
        ("north", 0.5, 0),
        ("northeast", 1, 0),
        ("west", 0, 0.5),
        ("center", 0.5, 0.5),
        ("east", 1, 0.5),
        ("southwest", 0, 1),
        ("south", 0.5, 1),
        ("southeast", 1, 1),
    ],
)
def test_watermark_appears_at_the_gravity_and_nowhere_else(gravity: str, fx, fy) -> None:
    out = run(FLOWER_PNG, f"watermark:{MARK_ID}:{gravity}:1.png", images={MARK_ID: MARK})
    assert out.size == FLOWER.size
    x0, y0, x1, y1 = _changed(out)
    # the default scale: a quarter of the width (120 px), keeping the mark's 2:1 aspect
    assert abs((x1 - x0) - 120) <= 1 and abs((y1 - y0) - 60) <= 1, (x0, y0, x1, y1)
    for f, low, high, side in ((fx, x0, x1, 480), (fy, y0, y1, 360)):
        if f == 0:
            assert low <= side * 0.05
        elif f == 1:
            assert high >= side * 0.95
        else:
            assert abs((low + high) / 2 - side / 2) <= 1
    assert out.getpixel(((x0 + x1) // 2, (y0 + y1) // 2))[:3] == MAGENTA


def test_watermark_defaults_southeast_half_opacity_quarter_width() -> None:
    out = run(FLOWER_PNG, f"watermark:{MARK_ID}.png", images={MARK_ID: MARK})
    x0, y0, x1, y1 = _changed(out)
    assert x0 > 240 and y0 > 180
    assert abs((x1 - x0) - 120) <= 1
    centre = ((x0 + x1) // 2, (y0 + y1) // 2)
    underneath = FLOWER.getpixel(centre)
    expected = tuple((m + u) / 2 for m, u in zip(MAGENTA, underneath, strict=True))
    assert near(out.getpixel(centre), expected, 2)


def test_watermark_scale_is_a_fraction_of_the_width() -> None:
    out = run(FLOWER_PNG, f"watermark:{MARK_ID}:center:1:0.5.png", images={MARK_ID: MARK})
    x0, y0, x1, y1 = _changed(out)
    assert (abs(x1 - x0 - 240) <= 1, abs(y1 - y0 - 120) <= 1) == (True, True)


def test_watermark_with_opacity_zero_changes_nothing() -> None:
    out = run(FLOWER_PNG, f"watermark:{MARK_ID}:center:0:1.png", images={MARK_ID: MARK})
    assert psnr(out, FLOWER) == math.inf


def test_two_watermarks_both_appear() -> None:
    out = run(
        FLOWER_PNG,
        f"watermark:{MARK_ID}:northwest:1/watermark:{MARK2_ID}:southeast:1.png",
        images={MARK_ID: MARK, MARK2_ID: MARK2},
    )
    assert _changed(out, (0, 0, 240, 180)) is not None
    assert _changed(out, (240, 180, 480, 360)) is not None
    assert _changed(out, (240, 0, 480, 180)) is None
    assert _changed(out, (0, 180, 240, 360)) is None
    assert MAGENTA in {p[:3] for p in pixels(out.crop((0, 0, 240, 180)))}
    assert (0, 255, 0) in {p[:3] for p in pixels(out.crop((240, 180, 480, 360)))}


def test_watermark_keeps_its_own_transparency() -> None:
    mark = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    mark.paste((255, 0, 255, 255), (40, 40, 60, 60))  # a small opaque square in a clear tile
    out = run(FLOWER_PNG, f"watermark:{MARK_ID}:center:1.png", images={MARK_ID: png(mark)})
    x0, y0, x1, y1 = _changed(out)
    assert x1 - x0 <= 30 and y1 - y0 <= 30  # only the square (24 px at this scale) shows


# --- background, quality, maxbytes ---------------------------------------------------------------


def test_background_flattens_transparency_onto_the_colour() -> None:
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    image.paste((10, 200, 30, 255), (0, 0, 20, 20))
    image.putpixel((30, 10), (0, 0, 255, 128))
    out = run(png(image), "background:ff0000.png")
    assert out.mode == "RGB"
    assert out.getpixel((5, 10)) == (10, 200, 30)
    assert out.getpixel((35, 5)) == (255, 0, 0)
    assert near(out.getpixel((30, 10)), (127, 0, 128), 2)
    assert psnr(run(FLOWER_PNG, "background:000000.png"), FLOWER) == math.inf


def _size(data: bytes, path: str) -> int:
    return len(render(data, parse_path(path), LIMITS).data)


@pytest.mark.parametrize(("ext", "default"), [("jpg", 85), ("webp", 80), ("avif", 60)])
def test_quality_changes_lossy_size_monotonically(ext: str, default: int) -> None:
    sizes = [_size(FLOWER_PNG, f"quality:{q}.{ext}") for q in (5, 30, 60, 90, 100)]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), sizes
    plain = len(render(FLOWER_PNG, Pipeline(format=EXTENSIONS[ext]), LIMITS).data)
    below, above = (
        _size(FLOWER_PNG, f"quality:{default - 10}.{ext}"),
        _size(FLOWER_PNG, f"quality:{default + 10}.{ext}"),
    )
    assert below < plain < above  # the contract's default quality lies between


def test_higher_quality_is_closer_to_the_source() -> None:
    low = run(FLOWER_PNG, "quality:5.jpg")
    high = run(FLOWER_PNG, "quality:95.jpg")
    assert psnr(high, FLOWER) > psnr(low, FLOWER) + 8


def test_quality_does_not_change_lossless_output() -> None:
    assert psnr(run(FLOWER_PNG, "quality:1.png"), FLOWER) == math.inf
    assert _size(FLOWER_PNG, "quality:1.png") == _size(FLOWER_PNG, "quality:100.png")


@pytest.mark.parametrize("ext", ["jpg", "webp"])
@pytest.mark.parametrize("limit", [5000, 9000, 20000])
def test_maxbytes_output_never_exceeds_the_limit(ext: str, limit: int) -> None:
    data = render(FLOWER_PNG, parse_path(f"maxbytes:{limit}.{ext}"), LIMITS).data
    assert len(data) <= limit
    out = decode(data)
    assert out.size == FLOWER.size
    assert psnr(out, FLOWER) > 20  # still the picture


@pytest.mark.parametrize("ext", ["jpg", "webp"])
def test_maxbytes_picks_the_best_quality_that_fits(ext: str) -> None:
    lowest = _size(FLOWER_PNG, f"quality:1.{ext}")
    plain = len(render(FLOWER_PNG, Pipeline(format=EXTENSIONS[ext]), LIMITS).data)
    middle = (lowest + plain) // 2
    fitted = _size(FLOWER_PNG, f"maxbytes:{middle}.{ext}")
    assert lowest < fitted <= middle
    # room enough: the default quality, untouched
    assert _size(FLOWER_PNG, f"maxbytes:{plain}.{ext}") == plain
    # never above a quality asked for
    assert _size(FLOWER_PNG, f"quality:40/maxbytes:{plain}.{ext}") == _size(
        FLOWER_PNG, f"quality:40.{ext}"
    )


@pytest.mark.parametrize(
    "path", ["maxbytes:100.jpg", "maxbytes:100.webp", "maxbytes:1000.png", "maxbytes:1000.gif"]
)
def test_maxbytes_impossible_is_unprocessable(path: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        render(FLOWER_PNG, parse_path(path), LIMITS)
    assert raised.value.status == 422
    assert "maxbytes" in raised.value.message


def test_maxbytes_is_met_by_a_lossless_format_when_it_fits() -> None:
    size = _size(HOPPER_PNG, "grayscale.png")
    assert _size(HOPPER_PNG, f"grayscale/maxbytes:{size}.png") == size


# --- animation -----------------------------------------------------------------------------------


def _frames(data: bytes) -> list[tuple[Image.Image, int]]:
    image = Image.open(io.BytesIO(data))
    frames = []
    for frame in ImageSequence.Iterator(image):
        frame.load()
        frames.append((frame.convert("RGBA"), frame.info.get("duration", 0)))
    return frames


ANIMATED = sample("formats/dispose_bgnd_rgba.gif")  # 100x100, 5 frames with transparency


@pytest.mark.parametrize("ext", ["gif", "webp"])
def test_animation_keeps_every_frame_and_duration_through_operations(ext: str) -> None:
    source = _frames(ANIMATED)
    assert len(source) == 5
    path = f"resize:50:50/rotate:90/grayscale.{ext}"
    out = _frames(render(ANIMATED, parse_path(path), LIMITS).data)
    assert len(out) == len(source)
    assert [d for _, d in out] == [d for _, d in source]
    for frame, _ in out:
        assert frame.size == (50, 50)
        assert all(max(p[:3]) - min(p[:3]) <= 8 for p in pixels(frame))  # grey


def _half_and_turned(image: Image.Image) -> Image.Image:
    return image.resize((50, 50), BICUBIC).transpose(Image.Transpose.ROTATE_270)


@pytest.mark.parametrize(
    ("ext", "path", "expected"),
    [
        ("webp", "resize:50:50/rotate:90/grayscale", lambda im: _half_and_turned(im).convert("LA")),
        ("webp", "resize:50:50/rotate:90", _half_and_turned),
        ("gif", "rotate:90/flip:v", lambda im: im.transpose(Image.Transpose.TRANSVERSE)),
        # Resampled edges are semi-transparent: GIF output thresholds them (one transparent
        # palette entry), rather than turning whole frames opaque.
        ("gif", "resize:50:50/rotate:90", _half_and_turned),
    ],
)
def test_animation_frames_are_the_source_frames_transformed(ext: str, path: str, expected) -> None:
    source = _frames(ANIMATED)
    out = _frames(render(ANIMATED, parse_path(f"{path}.{ext}"), LIMITS).data)
    for (frame, _), (original, _) in zip(out, source, strict=True):
        assert psnr(frame, expected(original)) > 20  # GIF has 256 colours; WebP is lossy


def test_grey_images_keep_their_transparency_in_gif() -> None:
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    image.paste((200, 100, 50, 255), (0, 0, 20, 20))
    out = run(png(image), "grayscale.gif").convert("RGBA")
    assert out.getpixel((5, 10))[3] == 255
    assert out.getpixel((30, 10))[3] == 0


@pytest.mark.parametrize("ext", ["gif", "webp"])
def test_animation_with_different_frame_durations_keeps_them(ext: str) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (40, 20), c) for c in colours]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "GIF", save_all=True, append_images=frames[1:], duration=[40, 80, 120], loop=0
    )
    out = _frames(render(buffer.getvalue(), parse_path(f"rotate:90.{ext}"), LIMITS).data)
    assert [d for _, d in out] == [40, 80, 120]
    for (frame, _), colour in zip(out, colours, strict=True):
        assert frame.size == (20, 40)
        assert near(frame.getpixel((10, 20))[:3], colour, 12)


# --- bounds --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "resize:-1:10",
        "resize:10:-1",
        "resize:16385:10",
        "resize:10:16385",
        "resize:0:0",
        "resize:10.5:10",
        "resize:1e3:10",
        "resize:nan:10",
        "resize:" + "9" * 400 + ":10",
        "thumbnail:0",
        "thumbnail:16385",
        "thumbnail:-5",
        "crop:-1:0:10:10",
        "crop:0:0:0:10",
        "crop:0:0:16385:10",
        "crop:0:0:10:99999999999",
        "crop:16385:0:10:10",
        "crop:10:10:up",
        "rotate:nan",
        "rotate:inf",
        "rotate:-inf",
        "rotate:3601",
        "rotate:1e308",
        "rotate:90:fff",
        "flip:x",
        "blur:0",
        "blur:101",
        "blur:-1",
        "blur:nan",
        "blur:inf",
        "blur:1e-400",
        "sharpen:1:0",
        "sharpen:11",
        "sharpen:-1",
        "sharpen:1:101",
        "brightness:-0.1",
        "brightness:10.1",
        "contrast:inf",
        "saturation:nan",
        "pixelate:0",
        "pixelate:1025",
        "posterize:0",
        "posterize:9",
        "tint:gg0000",
        "tint:fff",
        "mask:square",
        "mask:rounded:-1",
        "mask:rounded:16385",
        "watermark:" + "A" * 24,
        f"watermark:{MARK_ID}:middle",
        f"watermark:{MARK_ID}:southeast:1.5",
        f"watermark:{MARK_ID}:southeast:-0.1",
        f"watermark:{MARK_ID}:southeast:0.5:0",
        f"watermark:{MARK_ID}:southeast:0.5:1.01",
        "background:transparent",
        "quality:0",
        "quality:101",
        "quality:50.5",
        "maxbytes:99",
        "maxbytes:-1",
        "maxbytes:1e12",
    ],
)
def test_out_of_range_arguments_are_refused_before_any_pixel(path: str) -> None:
    with pytest.raises(InvalidOperation) as raised:
        parse_path(path)
    assert raised.value.status == 400
    assert raised.value.param == "ops[0]"


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "blur", "sigma": 10**400}],
        [{"op": "resize", "width": 10**400, "height": 1}],
        [{"op": "resize", "width": 1e300, "height": 1}],
        [{"op": "rotate", "angle": float("nan")}],
        [{"op": "rotate", "angle": float("inf")}],
        [{"op": "quality", "quality": True}],
        [{"op": "pixelate", "size": "8px"}],
    ],
)
def test_out_of_range_json_values_are_refused(ops: list) -> None:
    with pytest.raises(InvalidOperation):
        parse_ops(ops)


def test_the_largest_arguments_are_accepted_by_the_grammar() -> None:
    for path in (
        "resize:16384:16384:stretch",
        "crop:16384:16384:16384:16384",
        "rotate:3600",
        "rotate:-3600",
        "blur:100",
        "sharpen:10:100",
        "brightness:10",
        "pixelate:1024",
        "quality:100",
        "maxbytes:1000000000",
    ):
        parse_path(path)


@pytest.mark.parametrize(
    ("path", "max_side"),
    [
        ("resize:1001:10:stretch", 1000),
        ("resize:10:1001:stretch", 1000),
        ("resize:2000:0", 1000),
        ("resize:1000:1000:fill", 1000),  # covering 1000x1000 makes 1333x1000 first
        ("resize:400:1200:pad", 1000),  # the padded canvas is what is too large
        ("rotate:45", 500),  # 480x360 turned 45 degrees is 594x594
        ("grayscale/resize:600:0/rotate:10", 600),
    ],
)
def test_an_output_over_the_configured_side_is_too_large(path: str, max_side: int) -> None:
    with pytest.raises(TooLarge) as raised:
        run(FLOWER_PNG, path + ".png", limits=Limits(max_side=max_side))
    assert raised.value.status == 413


def test_outputs_within_the_configured_side_are_made() -> None:
    limits = Limits(max_side=1000)
    assert run(FLOWER_PNG, "resize:1000:10:stretch.png", limits=limits).size == (1000, 10)
    assert run(FLOWER_PNG, "resize:400:1000:pad.png", limits=limits).size == (400, 1000)
    assert run(FLOWER_PNG, "thumbnail:5000.png", limits=limits).size == (480, 360)


def test_an_output_over_the_pixel_limit_is_refused_before_it_is_allocated() -> None:
    strip = png(Image.new("RGB", (1000, 10), (9, 9, 9)))
    made: list[tuple[int, int]] = []  # every size a canvas or a resize was asked for
    new, resize = Image.new, Image.Image.resize

    def recording_new(mode: str, size: tuple[int, int], *args: Any) -> Image.Image:
        made.append(size)
        return new(mode, size, *args)

    def recording_resize(image: Image.Image, size: tuple[int, int], *args: Any, **kw: Any):
        made.append(size)
        return resize(image, size, *args, **kw)

    with (
        mock.patch.object(Image, "new", recording_new),
        mock.patch.object(Image.Image, "resize", recording_resize),
    ):
        for path in ("resize:16384:16384:pad", "resize:16384:16384:stretch", "resize:0:16384"):
            with pytest.raises(TooLarge):
                run(strip, path + ".png")
        with pytest.raises(TooLarge):
            run(FLOWER_PNG, "resize:1000:1000:stretch.png", limits=Limits(max_pixels=999_999))
    assert all(w * h <= Limits().max_pixels for w, h in made), made  # none over the limit made


# --- every operation on every working mode -------------------------------------------------------

SAME_SIZE = [
    "flip:h",
    "grayscale",
    "sepia",
    "invert",
    "equalize",
    "autocontrast",
    "blur:2",
    "sharpen",
    "brightness:1.3",
    "contrast:0.7",
    "saturation:1.5",
    "pixelate:4",
    "posterize:3",
    "tint:ff8800",
    "mask:circle",
    "mask:ellipse",
    "mask:rounded:5",
    f"mask:{MASK_ID}",
    f"watermark:{MARK_ID}",
    f"watermark:{MARK_ID}:north:1:1",
    "background:00ff00",
    "quality:20",
    "quality:auto",
    "maxbytes:100000",
    "rotate:180",
    "resize:40:20:pad",
    "crop:100:100",
    "thumbnail:40",
    "trim",  # the top-left patch's colour borders nothing: the whole picture stays
]
OTHER_SIZE = {
    "resize:30:30": (30, 15),
    "resize:30:30:fill": (30, 30),
    "resize:30:30:stretch": (30, 30),
    "resize:30:30:pad": (30, 30),
    "crop:10:5:north": (10, 5),
    "crop:10:5:smart": (10, 5),
    "crop:10:5:entropy": (10, 5),
    "crop:10:5:auto": (10, 5),
    "resize:30:30:fill:smart": (30, 30),
    "crop:1:2:3:4": (3, 4),
    "rotate:90": (20, 40),
    "rotate:45": (43, 43),
    "rotate:45:ff0000": (43, 43),
    "rotate:45:ff000080": (43, 43),
    "rotate:45:00000000": (43, 43),
    "dpr:2/resize:15:15": (30, 15),
}
MODES = {"L": 100, "LA": (100, 128), "RGB": (10, 200, 30), "RGBA": (10, 200, 30, 128)}


def test_every_operation_is_exercised_here() -> None:
    used = {parse_path(path).steps[0].operation.name for path in [*SAME_SIZE, *OTHER_SIZE]}
    assert used == {name for name, op in REGISTRY.items() if not op.expands}  # presets: expanded


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "gif"])
def test_every_operation_works_on_every_working_mode(mode: str, ext: str) -> None:
    image = Image.new(mode, (40, 20), MODES[mode])
    image.paste(MODES[mode][0] if mode != "L" else 30, (0, 0, 10, 10))
    data = png(image)
    images = {MASK_ID: png(Image.new("L", (8, 8), 200)), MARK_ID: MARK}
    for path, size in [*((p, (40, 20)) for p in SAME_SIZE), *OTHER_SIZE.items()]:
        out = run(data, f"{path}.{ext}", images=images)
        assert abs(out.width - size[0]) <= 1 and abs(out.height - size[1]) <= 1, (path, out.size)


def test_operations_called_directly() -> None:
    state = RenderState(LIMITS)
    resize = IMPLEMENTATIONS["resize"].apply
    assert resize(FLOWER, state, width=120, height=0, fit="fit", gravity="center").size == (120, 90)
    crop = IMPLEMENTATIONS["crop"].apply
    assert crop(FLOWER, state, width=10, height=20, gravity="center").size == (10, 20)
    background = IMPLEMENTATIONS["background"].apply
    assert background(FLOWER, state, colour=(1, 2, 3, 255)).size == FLOWER.size
    with pytest.raises(ProgImageError) as raised:
        IMPLEMENTATIONS["rotate"].apply(
            FLOWER, RenderState(Limits(max_side=100)), angle=10, background=None
        )
    assert raised.value.status == 413
