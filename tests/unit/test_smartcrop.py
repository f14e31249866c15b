"""Smart crop, entropy and the focal point: on generated scenes whose subject is known, beside
libvips' own smartcrop on the same pixels; the gravities through the grammar and a render."""

from __future__ import annotations

import hashlib

import pytest
import pyvips
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from progimage_service.errors import InvalidOperation
from progimage_service.imaging import smartcrop
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.operations.table import IMPLEMENTATIONS, RenderState
from progimage_service.imaging.pipeline import parse_path
from progimage_service.imaging.registry import CROP_GRAVITIES, GRAVITIES, REGISTRY
from progimage_service.imaging.render import render
from tests.images import decode, encode
from tests.scenes import Box, iou, kept, scene

LIMITS = Limits()
SIZES = ((900, 600), (600, 900), (700, 700), (1000, 440))
CROPS = ((400, 400), (500, 300), (300, 500), (420, 420))
SCENES = 24
KEPT = 0.9  # a crop keeps the subject when it holds this share of the subject's box


def _case(seed: int) -> tuple[Image.Image, Box, tuple[int, int]]:
    size, crop = SIZES[seed % 4], CROPS[seed % 4]
    made = scene(seed, size)
    return made.image, made.subject, (min(crop[0], size[0]), min(crop[1], size[1]))


def _vips(image: Image.Image) -> pyvips.Image:
    return pyvips.Image.new_from_memory(image.tobytes(), image.width, image.height, 3, "uchar")


def _vips_box(image: Image.Image, crop: tuple[int, int], interesting: str) -> Box:
    out = _vips(image).smartcrop(*crop, interesting=interesting)
    left, top = -out.xoffset, -out.yoffset  # the extract's offsets are negated
    return left, top, left + crop[0], top + crop[1]


def _box(at: tuple[int, int], crop: tuple[int, int]) -> Box:
    return at[0], at[1], at[0] + crop[0], at[1] + crop[1]


@pytest.mark.parametrize(
    ("measure", "interesting", "floor", "agreement"),
    [(smartcrop.attention, "attention", 0.9, 0.8), (smartcrop.entropy, "entropy", 0.85, 0.65)],
)
def test_the_crop_keeps_the_subject_as_often_as_libvips_and_lands_near_it(
    measure, interesting: str, floor: float, agreement: float
) -> None:
    ours, theirs, overlaps = 0, 0, []
    for seed in range(SCENES):
        image, subject, crop = _case(seed)
        box = _box(measure(image, crop), crop)
        peer = _vips_box(image, crop, interesting)
        ours += kept(subject, box) >= KEPT
        theirs += kept(subject, peer) >= KEPT
        overlaps.append(iou(box, peer))
    assert ours / SCENES >= floor
    assert ours >= theirs - 2  # at most two scenes worse than libvips
    assert sum(overlaps) / SCENES >= agreement, overlaps


def test_the_focal_point_falls_on_the_subject_and_near_libvips_attention_centre() -> None:
    on_subject, near = 0, 0
    for seed in range(SCENES):
        image, subject, _ = _case(seed)
        fx, fy = smartcrop.focal_point(image)
        x, y = fx * image.width, fy * image.height
        on_subject += subject[0] <= x <= subject[2] and subject[1] <= y <= subject[3]
        half = (image.width // 2, image.height // 2)
        _, found = _vips(image).smartcrop(*half, attention_x=True, attention_y=True)
        dx = abs(x - found["attention_x"]) / image.width
        dy = abs(y - found["attention_y"]) / image.height
        near += dx <= 0.1 and dy <= 0.1
    assert on_subject >= SCENES - 2
    assert near >= SCENES - 3


def test_the_focal_point_is_scale_free() -> None:
    """A working copy and the original give (nearly) the same point: one cell of 32 at most."""
    image, _, _ = _case(5)
    small = image.resize((image.width // 4, image.height // 4), Image.Resampling.LANCZOS)
    big, reduced = smartcrop.focal_point(image), smartcrop.focal_point(small)
    assert all(abs(a - b) <= 1 / smartcrop.GRID for a, b in zip(big, reduced, strict=True))


@st.composite
def _frames(draw) -> tuple[Image.Image, tuple[int, int]]:
    width, height = draw(st.integers(1, 200)), draw(st.integers(1, 200))
    mode = draw(st.sampled_from(["RGB", "RGBA", "L", "LA"]))
    image = Image.effect_noise((width, height), draw(st.integers(1, 100))).convert(mode)
    if draw(st.booleans()):
        image.paste(Image.new(mode, (max(1, width // 3), max(1, height // 4)), 200), (0, 0))
    crop = draw(st.integers(1, 250)), draw(st.integers(1, 250))
    return image, crop


@settings(max_examples=150, deadline=None)
@given(_frames(), st.sampled_from(CROP_GRAVITIES))
def test_a_gravity_crop_is_inside_exactly_the_size_asked_and_the_same_every_time(
    case: tuple[Image.Image, tuple[int, int]], gravity: str
) -> None:
    image, (width, height) = case
    crop = IMPLEMENTATIONS["crop"].apply
    first = crop(image, RenderState(LIMITS), width, height, gravity=gravity)
    again = crop(image, RenderState(LIMITS), width, height, gravity=gravity)
    assert first.size == (min(width, image.width), min(height, image.height))
    assert first.tobytes() == again.tobytes()
    for measure in (smartcrop.attention, smartcrop.entropy):
        want = first.size
        x, y = measure(image, want)
        assert 0 <= x <= image.width - want[0] and 0 <= y <= image.height - want[1]


def _coordinates(size: tuple[int, int]) -> bytes:
    """A PNG whose red is x and green is y, each scaled to 0..255 over the picture: a crop's
    place reads off its first pixel."""
    ramp = Image.new("L", (256, 1))
    ramp.putdata(range(256))
    red = ramp.resize(size, Image.Resampling.NEAREST)
    green = ramp.transpose(Image.Transpose.ROTATE_270).resize(size, Image.Resampling.NEAREST)
    return encode(Image.merge("RGB", (red, green, Image.new("L", size))), "PNG")


@pytest.mark.parametrize(
    ("focal", "expected"),
    [
        ((0.25, 0.75), (64 - 32, 192 - 32)),  # centred on the point
        ((0.99, 0.01), (256 - 64, 0)),  # clamped inside
        ((0.0, 1.0), (0, 256 - 64)),
    ],
)
def test_auto_centres_the_box_on_the_focal_point_clamped_inside(
    focal: tuple[float, float], expected: tuple[int, int]
) -> None:
    data = _coordinates((256, 256))
    out = decode(render(data, parse_path("crop:64:64:auto.png"), LIMITS, focal=focal).data)
    assert out.size == (64, 64)
    assert out.convert("RGB").getpixel((0, 0))[:2] == expected


def test_resize_fill_auto_places_the_focal_point_at_the_output_scale() -> None:
    # 512x256 covers 128x128 as 256x128: the box centred on x = 0.75 is at 128 (red 128,
    # where the picture's red is x / 2), at y 0.
    data = _coordinates((512, 256))
    out = decode(
        render(data, parse_path("resize:128:128:fill:auto.png"), LIMITS, focal=(0.75, 0.5)).data
    )
    red, green = out.convert("RGB").getpixel((0, 0))[:2]
    assert out.size == (128, 128)
    assert abs(red - 128) <= 2 and green <= 2


def test_auto_is_smart_without_a_focal_point_and_after_a_step_that_reframes() -> None:
    image, _, _ = _case(3)
    data = encode(image, "PNG")

    def rendered(path: str, focal: tuple[float, float] | None = None) -> bytes:
        return decode(render(data, parse_path(path), LIMITS, focal=focal).data).tobytes()

    assert rendered("crop:300:300:auto.png") == rendered("crop:300:300:smart.png")
    turned = rendered("rotate:90/crop:300:300:auto.png", focal=(0.0, 0.0))
    assert turned == rendered("rotate:90/crop:300:300:smart.png")
    # ...but a step that keeps the whole picture in view keeps the point.
    kept_point = rendered("grayscale/crop:300:300:auto.png", focal=(0.0, 0.0))
    assert kept_point == rendered("grayscale/crop:300:300:northwest.png")


OLD_FORMS = (
    "resize:800:600:fill",
    "resize:800:600",
    "resize:800:0:pad",
    "crop:10:20:100:100",
    "crop:100:100",
    "crop:100:100:north",
    "watermark:0123456789abcdefghijKLMNO",
    "thumbnail:256/rotate:90",
)


@pytest.mark.parametrize("path", OLD_FORMS)
def test_the_canonical_form_and_variant_key_of_an_existing_pipeline_are_unchanged(
    path: str,
) -> None:
    pipeline = parse_path(path + ".webp")
    assert pipeline.canonical() == path
    digest = hashlib.sha256(f"{path}|webp".encode()).hexdigest()
    assert pipeline.variant_name() == f"{digest}.webp"
    assert not pipeline.uses_focal


def test_the_default_gravity_is_left_out_and_the_others_kept() -> None:
    assert parse_path("resize:800:600:fill:center").canonical() == "resize:800:600:fill"
    assert parse_path("resize:800:600:fill:SMART").canonical() == "resize:800:600:fill:smart"
    assert parse_path("crop:100:100:entropy").canonical() == "crop:100:100:entropy"


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(0, 400),
    height=st.integers(0, 400),
    fit=st.sampled_from(["fit", "stretch", "pad"]),
    gravity=st.sampled_from(CROP_GRAVITIES),
)
def test_a_gravity_that_fill_would_use_is_left_out_of_every_other_fit(
    width: int, height: int, fit: str, gravity: str
) -> None:
    # It changes nothing there: printed, it would make a second variant of the same picture.
    if not (width or height):
        width = 1
    plain = parse_path(f"resize:{width}:{height}:{fit}.png")
    placed = parse_path(f"resize:{width}:{height}:{fit}:{gravity}.png")
    assert placed.canonical() == plain.canonical()
    assert placed.variant_name() == plain.variant_name()
    assert not placed.uses_focal
    data = encode(scene(7, (300, 200)).image, "PNG")
    assert (
        decode(render(data, placed, LIMITS, focal=(0.0, 1.0)).data).tobytes()
        == decode(render(data, plain, LIMITS).data).tobytes()
    )


@pytest.mark.parametrize(
    ("path", "uses"),
    [
        ("crop:10:10:auto", True),
        ("thumbnail:500/resize:100:100:fill:auto", True),
        ("crop:10:10:smart", False),
        ("resize:100:100:fill", False),
        ("watermark:0123456789abcdefghijKLMNO:center", False),
    ],
)
def test_uses_focal_says_when_the_variant_depends_on_the_focal_point(path: str, uses: bool) -> None:
    assert parse_path(path).uses_focal is uses


@pytest.mark.parametrize("gravity", ["smart", "entropy", "auto"])
def test_a_watermark_is_placed_by_the_compass_only(gravity: str) -> None:
    with pytest.raises(InvalidOperation, match="gravity must be one of"):
        parse_path(f"watermark:0123456789abcdefghijKLMNO:{gravity}")


def test_the_registry_says_which_gravities_each_operation_takes() -> None:
    def gravities(name: str) -> set[tuple[str, ...]]:
        forms = REGISTRY[name].forms
        return {p.choices for form in forms for p in form if p.name == "gravity"}

    assert gravities("crop") == gravities("resize") == {CROP_GRAVITIES}
    assert gravities("watermark") == {GRAVITIES}
    assert not set(GRAVITIES) & {"smart", "entropy", "auto"}


def test_every_frame_is_cropped_where_the_first_was() -> None:
    first, second = scene(1, (320, 240)).image, scene(2, (320, 240)).image
    crop = (100, 100)
    assert smartcrop.attention(first, crop) != smartcrop.attention(second, crop)
    state = RenderState(LIMITS)
    apply = IMPLEMENTATIONS["crop"].apply
    apply(first, state, *crop, gravity="smart")
    out = apply(second, state, *crop, gravity="smart")
    assert out.tobytes() == second.crop(_box(smartcrop.attention(first, crop), crop)).tobytes()
