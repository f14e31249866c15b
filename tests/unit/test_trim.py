"""trim[:TOLERANCE]: constructed borders, noisy within or beyond the tolerance; a picture all of
border; animations; and what the plan and the cost model assume of a size known only later."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from progimage_service.imaging import cost, plan
from progimage_service.imaging.copies import COPIES
from progimage_service.imaging.formats import FORMATS
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import parse_path
from progimage_service.imaging.render import render
from tests.images import decode, encode

LIMITS = Limits()
Box = tuple[int, int, int, int]


def _bordered(
    size: tuple[int, int], content: Box, border: tuple[int, ...], noise: int, seed: int = 0
) -> Image.Image:
    """A ``border``-coloured picture, each pixel off by up to ``noise`` per channel, with a
    solid contrasting block at ``content``."""
    rng = random.Random(seed)
    mode = "RGBA" if len(border) == 4 else "RGB"
    image = Image.new(mode, size, border)
    pixels = image.load()
    for y in range(size[1]):
        for x in range(size[0]):
            if (x, y) != (0, 0):  # the corner is the reference colour itself
                pixels[x, y] = tuple(
                    min(255, max(0, c + rng.randint(-noise, noise))) for c in border
                )
    far = tuple(255 - c if abs(255 - 2 * c) > 60 else (c + 128) % 256 for c in border)
    image.paste(far, content)
    return image


def _trimmed(image: Image.Image, path: str = "trim") -> Image.Image:
    return decode(render(encode(image, "PNG"), parse_path(path + ".png"), LIMITS).data)


def test_a_noisy_border_within_the_tolerance_is_removed_to_the_content() -> None:
    image = _bordered((120, 90), (30, 20, 70, 65), (240, 240, 235), noise=8)
    out = _trimmed(image, "trim:10")
    assert out.size == (40, 45)
    assert out.convert("RGB").tobytes() == image.crop((30, 20, 70, 65)).tobytes()


def test_noise_beyond_the_tolerance_stops_the_trim_where_it_is() -> None:
    image = _bordered((120, 90), (30, 20, 70, 65), (240, 240, 235), noise=0)
    image.putpixel((5, 80), (200, 240, 235))  # 40 off in one channel
    assert _trimmed(image, "trim:30").size == (70 - 5, 81 - 20)
    assert _trimmed(image, "trim:40").size == (40, 45)  # within 40: border


def test_the_default_tolerance_is_ten() -> None:
    image = _bordered((100, 100), (40, 40, 60, 60), (20, 30, 40), noise=10, seed=3)
    assert _trimmed(image).size == (20, 20)
    assert _trimmed(image, "trim:9").size != (20, 20)


def test_a_transparent_border_is_trimmed() -> None:
    image = Image.new("RGBA", (80, 60), (0, 0, 0, 0))
    image.paste((10, 200, 30, 255), (10, 5, 50, 45))
    out = _trimmed(image)
    assert out.size == (40, 40) and out.mode == "RGBA"


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA"])
def test_a_picture_all_of_border_is_left_as_it_is(mode: str) -> None:
    image = Image.new(mode, (64, 48), 128)
    assert _trimmed(image, "trim:0").size == (64, 48)
    noisy = _bordered((64, 48), (0, 0, 0, 0), (128, 128, 128), noise=5)
    assert _trimmed(noisy, "trim:5").size == (64, 48)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 60),
    st.integers(2, 60),
    st.data(),
    st.tuples(*[st.integers(0, 255)] * 3),
    st.integers(0, 40),
)
def test_trim_finds_the_content_box_whatever_the_border_and_tolerance(
    width: int, height: int, data: st.DataObject, border: tuple[int, ...], tolerance: int
) -> None:
    left = data.draw(st.integers(0, width - 1))
    top = data.draw(st.integers(0, height - 1))
    right = data.draw(st.integers(left + 1, width))
    bottom = data.draw(st.integers(top + 1, height))
    image = _bordered((width, height), (left, top, right, bottom), border, tolerance // 2)
    if (left, top) == (0, 0):  # the content is then the reference colour: nothing is border
        return
    out = _trimmed(image, f"trim:{tolerance}")
    assert out.size == (right - left, bottom - top)


def test_every_frame_of_an_animation_is_trimmed_to_the_first_frame_box() -> None:
    frames = []
    for step in range(3):
        frame = Image.new("RGB", (100, 80), "white")
        frame.paste((200, 0, 0), (10 + 10 * step, 10, 40 + 20 * step, 50))
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    for ext in ("gif", "webp"):
        out = Image.open(
            io.BytesIO(render(buffer.getvalue(), parse_path(f"trim.{ext}"), LIMITS).data)
        )
        assert out.n_frames == 3 and out.size == (30, 40)


def test_a_trim_first_reads_the_whole_original_never_a_reduced_copy() -> None:
    """Its result's size depends on the pixels: nothing reduced can stand in for the
    picture, so it takes no draft and no working copy, whatever follows it."""
    large = (6000, 4000)
    for path in ("trim", "trim/thumbnail:100", "trim:0/resize:64:64:fill"):
        pipeline = parse_path(path)
        geometry = plan.geometry(pipeline, large, (2048, 1365), 1.0)
        assert geometry.draft is None and not geometry.from_copy
        assert plan.serving_copy(pipeline, large, COPIES) is None
    # After a reducing step it works on that step's result, which a copy serves.
    assert plan.serving_copy(parse_path("thumbnail:100/trim"), large, COPIES) is not None


def test_the_cost_model_counts_trim_as_keeping_the_size_an_upper_bound() -> None:
    image = _bordered((300, 200), (100, 50, 180, 150), (250, 250, 250), noise=0)
    data = encode(image, "PNG")
    pipeline = parse_path("trim/rotate:45.png")
    source = plan.Source(300, 200, FORMATS["png"])
    estimate = cost.estimate(plan.plan(pipeline, source), source)
    out = decode(render(data, pipeline, LIMITS).data)
    assert out.width <= estimate.output[0] and out.height <= estimate.output[1]
    assert out.size != estimate.output  # the trim did shrink it
    untrimmed = cost.estimate(plan.plan(parse_path("rotate:45.png"), source), source)
    assert estimate.seconds > untrimmed.seconds and estimate.peak_bytes >= untrimmed.peak_bytes
