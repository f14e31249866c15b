"""quality:auto: the SSIM it measures with, and the quality it chooses.

The reference SSIM below is a direct transcription of scikit-image's ``structural_similarity``
with its defaults (7x7 uniform windows, sample covariance, the mean over the windows that fit)
in float64 Python; over the photos and distortions here it gives scikit-image 0.26's figures to
1e-12. Images are compared by size, mode and similarity, never by bytes.
"""

from __future__ import annotations

import io
from unittest import mock

import pytest
from PIL import Image, ImageChops, ImageFilter

from progimage_service.imaging import perceptual
from progimage_service.imaging.cost import estimate
from progimage_service.imaging.encode import DEFAULT_QUALITY, EncodeOptions, Frame, encode
from progimage_service.imaging.formats import EXTENSIONS
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.perceptual import auto_quality, grid, luma, search_for, ssim
from progimage_service.imaging.pipeline import Pipeline, parse_ops, parse_path
from progimage_service.imaging.plan import Source, plan
from progimage_service.imaging.render import render
from tests.images import decode, psnr, sample

LOSSY = ("jpeg", "webp", "avif")


def _thumbnail(relative: str, side: int) -> Image.Image:
    image = decode(sample(relative)).convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


PHOTOS = {
    "landscape": _thumbnail("exif-orientation/Landscape_1.jpg", 160),
    "flower": _thumbnail("formats/flower.jpg", 160),
    "hopper": decode(sample("formats/hopper.png")).convert("RGB"),
}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _values(image: Image.Image) -> list[float]:
    flattened = getattr(image, "get_flattened_data", None)
    return [float(v) for v in (flattened() if flattened else image.getdata())]


def reference_ssim(x: Image.Image, y: Image.Image, window: int = 7) -> float:
    """scikit-image's structural_similarity(x, y, data_range=255) on two grey images."""
    width, height = x.size
    a, b = _values(x), _values(y)

    def integral(values: list[float]) -> list[list[float]]:
        table = [[0.0] * (width + 1) for _ in range(height + 1)]
        for row in range(height):
            running = 0.0
            for col in range(width):
                running += values[row * width + col]
                table[row + 1][col + 1] = table[row][col + 1] + running
        return table

    planes = [
        integral(v)
        for v in (
            a,
            b,
            [p * p for p in a],
            [q * q for q in b],
            [p * q for p, q in zip(a, b, strict=True)],
        )
    ]
    n = window * window
    c1, c2, norm = (0.01 * 255) ** 2, (0.03 * 255) ** 2, n / (n - 1)
    total, count = 0.0, 0
    for top in range(height - window + 1):
        for left in range(width - window + 1):
            bottom, right = top + window, left + window
            mx, my, xx, yy, xy = (
                (t[bottom][right] - t[top][right] - t[bottom][left] + t[top][left]) / n
                for t in planes
            )
            vx, vy, vxy = (xx - mx * mx) * norm, (yy - my * my) * norm, (xy - mx * my) * norm
            total += ((2 * mx * my + c1) * (2 * vxy + c2)) / (
                (mx * mx + my * my + c1) * (vx + vy + c2)
            )
            count += 1
    return total / count


def _encoded(image: Image.Image, fmt: str, quality: int) -> Image.Image:
    return decode(encode([Frame(image, 0)], EXTENSIONS[fmt], EncodeOptions(quality)))


def _noisy(image: Image.Image, sigma: float) -> Image.Image:
    noise = Image.effect_noise(image.size, sigma)
    return ImageChops.add(image, Image.merge("RGB", [noise] * 3), scale=1.0, offset=-128)


DISTORTIONS = {
    "jpeg10": lambda im: _encoded(im, "jpeg", 10),
    "jpeg50": lambda im: _encoded(im, "jpeg", 50),
    "jpeg90": lambda im: _encoded(im, "jpeg", 90),
    "webp50": lambda im: _encoded(im, "webp", 50),
    "avif40": lambda im: _encoded(im, "avif", 40),
    "blur1": lambda im: im.filter(ImageFilter.GaussianBlur(1)),
    "blur3": lambda im: im.filter(ImageFilter.GaussianBlur(3)),
    "noise": lambda im: _noisy(im, 12),
    "same": lambda im: im.copy(),
}


@pytest.mark.parametrize("photo", sorted(PHOTOS))
@pytest.mark.parametrize("distortion", sorted(DISTORTIONS))
def test_ssim_agrees_with_the_reference(photo: str, distortion: str) -> None:
    source = PHOTOS[photo]
    x, y = luma(source), luma(DISTORTIONS[distortion](source))
    assert abs(ssim(x, y) - reference_ssim(x, y)) < 1e-4


def test_ssim_orders_distortions_and_is_one_for_the_same_picture() -> None:
    x = luma(PHOTOS["flower"])
    scores = [ssim(x, luma(_encoded(PHOTOS["flower"], "jpeg", q))) for q in (10, 40, 90)]
    assert scores == sorted(scores) and scores[0] < 0.9 < scores[-1] < 1
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-6)


def test_ssim_of_a_large_picture_samples_bands_that_agree_with_the_whole() -> None:
    source = PHOTOS["landscape"]
    x, y = luma(source), luma(_encoded(source, "jpeg", 30))
    whole = ssim(x, y)
    with mock.patch.object(perceptual, "SAMPLE_PIXELS", source.width * 40):
        sampled = ssim(x, y)
    assert sampled != whole and abs(sampled - whole) < 0.01


def test_ssim_refuses_different_sizes_and_rates_a_tiny_picture_one() -> None:
    with pytest.raises(ValueError, match="sizes differ"):
        ssim(Image.new("F", (10, 10)), Image.new("F", (10, 11)))
    assert ssim(Image.new("F", (6, 40)), Image.new("F", (6, 40), 99.0)) == 1.0


def test_luma_flattens_transparency_onto_the_background() -> None:
    clear = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    assert luma(clear, (255, 255, 255)).getpixel((0, 0)) == pytest.approx(255, abs=0.01)
    assert luma(clear, (0, 0, 0)).getpixel((0, 0)) == 0


# --- the search -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", LOSSY)
@pytest.mark.parametrize("photo", ["landscape", "flower"])
def test_auto_chooses_the_lowest_grid_quality_that_meets_the_target(fmt: str, photo: str) -> None:
    image = PHOTOS[photo]
    format_ = EXTENSIONS[fmt]
    chosen = auto_quality([Frame(image, 0)], format_, EncodeOptions())
    target, qualities = search_for(fmt).target, grid(fmt)  # type: ignore[union-attr]
    reference = luma(image)
    output = decode(chosen.data)
    assert output.size == image.size and output.mode in ("RGB", "RGBA")
    score = ssim(reference, luma(output))
    assert score == pytest.approx(chosen.score, abs=1e-9)
    assert chosen.quality in qualities
    if chosen.quality != DEFAULT_QUALITY[fmt]:
        assert score >= target
    below = qualities.index(chosen.quality) - 1
    if below >= 0:  # one step lower misses the target
        assert ssim(reference, luma(_encoded(image, fmt, qualities[below]))) < target
    assert chosen.encodes <= perceptual.most_encodes(fmt)


def test_a_lossless_format_gets_its_default_encode() -> None:
    for ext in ("png", "gif", "tiff", "bmp"):
        frames = [Frame(PHOTOS["hopper"], 0)]
        chosen = auto_quality(frames, EXTENSIONS[ext], EncodeOptions())
        assert (chosen.quality, chosen.encodes, chosen.score) == (None, 1, None)
        assert grid(ext) == [] and perceptual.most_encodes(ext) == 1


def test_any_lossy_format_with_a_default_quality_gets_a_search() -> None:
    with mock.patch.dict(DEFAULT_QUALITY, {"future": 90}):  # a lossy format yet to come
        assert search_for("future") == perceptual.Search(perceptual.FALLBACK_TARGET, 45)
        assert grid("future")[0] == 45 and grid("future")[-1] == 90
    for fmt in LOSSY:
        assert grid(fmt)[-1] == DEFAULT_QUALITY[fmt]


def test_every_frame_of_an_animation_is_encoded_at_the_first_frames_choice() -> None:
    frames = [Frame(PHOTOS["flower"], 100), Frame(PHOTOS["flower"].rotate(180), 100)]
    chosen = auto_quality(frames, EXTENSIONS["webp"], EncodeOptions())
    again = encode(frames, EXTENSIONS["webp"], EncodeOptions(chosen.quality))
    out = Image.open(io.BytesIO(chosen.data))
    assert out.n_frames == 2 and len(again) == len(chosen.data)


# --- through the renderer ---------------------------------------------------------------------

FLOWER_PNG = _png(decode(sample("formats/flower.jpg")).convert("RGB"))


@pytest.mark.parametrize("ext", ["jpg", "webp"])
def test_quality_auto_renders_in_the_url_and_json_forms(ext: str) -> None:
    url = render(FLOWER_PNG, parse_path(f"thumbnail:256/quality:auto.{ext}"), Limits())
    objects = parse_ops([{"op": "thumbnail", "width": 256}, {"op": "quality", "quality": "AUTO"}])
    json_form = render(FLOWER_PNG, Pipeline(objects, EXTENSIONS[ext]), Limits())
    plain = render(FLOWER_PNG, parse_path(f"thumbnail:256.{ext}"), Limits())
    unencoded = decode(render(FLOWER_PNG, parse_path("thumbnail:256.png"), Limits()).data)
    image = decode(url.data)
    assert image.size == unencoded.size == (256, 192)
    assert psnr(image, decode(json_form.data)) == float("inf")
    target = search_for(EXTENSIONS[ext].name).target  # type: ignore[union-attr]
    assert ssim(luma(unencoded), luma(image)) >= target
    assert len(url.data) < len(plain.data)  # this photo needs less than the default


def test_quality_auto_then_maxbytes_lowers_only_when_over() -> None:
    auto = render(FLOWER_PNG, parse_path("thumbnail:256/quality:auto.jpg"), Limits()).data
    roomy = render(
        FLOWER_PNG, parse_path(f"thumbnail:256/quality:auto/maxbytes:{len(auto)}.jpg"), Limits()
    )
    assert len(roomy.data) == len(auto)
    tight = render(
        FLOWER_PNG,
        parse_path(f"quality:auto/thumbnail:256/maxbytes:{len(auto) // 2}.jpg"),
        Limits(),
    )
    assert len(tight.data) <= len(auto) // 2
    assert decode(tight.data).size == (256, 192)


def test_quality_auto_keeps_a_lossless_output_lossless() -> None:
    for ext in ("png", "gif", "tiff", "bmp"):
        auto = decode(
            render(FLOWER_PNG, parse_path(f"thumbnail:64/quality:auto.{ext}"), Limits()).data
        )
        plain = decode(render(FLOWER_PNG, parse_path(f"thumbnail:64.{ext}"), Limits()).data)
        assert (auto.size, auto.mode) == (plain.size, plain.mode)
        assert psnr(auto, plain) == float("inf")


def test_quality_auto_keeps_an_animation() -> None:
    frames = [Image.new("RGB", (40, 30), (i * 40, 90, 200 - i * 40)) for i in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    out = render(buffer.getvalue(), parse_path("quality:auto.webp"), Limits())
    image = Image.open(io.BytesIO(out.data))
    assert image.n_frames == 4 and image.size == (40, 30)


def test_the_cost_model_counts_the_search() -> None:
    source = Source(1000, 800, EXTENSIONS["jpg"])

    def cost(path: str):  # type: ignore[no-untyped-def]
        pipeline = parse_path(path) if path else Pipeline(format=EXTENSIONS["jpg"])
        return estimate(plan(pipeline, source), source)

    plain, auto = cost(""), cost("quality:auto.jpg")
    assert auto.seconds > plain.seconds and auto.peak_bytes > plain.peak_bytes
    assert any(what.startswith("quality:auto jpeg") for what, _ in auto.parts)
    assert not any(what.startswith("quality:auto") for what, _ in cost("quality:auto.png").parts)
    assert cost("quality:auto/maxbytes:9999.jpg").seconds > auto.seconds
