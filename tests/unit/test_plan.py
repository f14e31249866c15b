"""Every spelling of one canonical form renders one picture.

Two spellings that print the same canonical form share one cache key, so they must render the
same size and the same pixels: output options (quality, maxbytes) written anywhere, the URL form
and the JSON object form. Drawn over random pipelines from the registry, random source sizes
(odd ones too), every EXIF orientation, JPEG and PNG sources, and with and without a reduced
working copy, rendered the way a stored image is (see services/transform.py, render_record).
"""

from __future__ import annotations

import io
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from progimage_service.errors import ProgImageError
from progimage_service.imaging import copies, plan, working_copy
from progimage_service.imaging.copies import Copy
from progimage_service.imaging.formats import EXTENSIONS
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.operations.table import IMPLEMENTATIONS
from progimage_service.imaging.pipeline import Pipeline, parse_ops, parse_path
from progimage_service.imaging.registry import REGISTRY
from progimage_service.imaging.render import render
from tests.hostile.pipelines import (
    MARK_ID,
    MASK_ID,
    Spec,
    as_json_objects,
    operation_spec,
    valid_value,
)
from tests.images import decode, psnr

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

LIMITS = Limits(max_pixels=4_000_000, max_side=4096)
# Working copies are made of pictures over 2048 px a side; here over 96, so that small (fast)
# pictures have them too. The rule that decides whether one serves is the same.
# The working copies, scaled down to the drawn sizes (the real ones are 1024 and 2048 px).
SMALL_COPIES = (Copy(48, 0.5, "1024"), Copy(96, 1.0, ""))
EXAMPLES = 200
OUTPUTS = ("", ".png", ".jpg", ".webp")


def _picture(size: tuple[int, int], seed: int) -> Image.Image:
    """Gradients and a hard edge in every band, so that resampling differences show."""
    w, h = size
    across = Image.linear_gradient("L").resize((w, h)).rotate(90 + seed % 360)
    down = Image.linear_gradient("L").resize((w, h))
    round_ = Image.radial_gradient("L").resize((w, h))
    image = Image.merge("RGB", (across, down, round_))
    image.paste((255, 0, 0), (w // 3, h // 3, max(w // 3 + 1, w // 2), max(h // 3 + 1, h // 2)))
    return image


def _encoded(image: Image.Image, fmt: str, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    params: dict[str, Any] = {"quality": 90} if fmt == "JPEG" else {}
    image.save(buffer, format=fmt, exif=exif.tobytes(), **params)
    return buffer.getvalue()


IMAGES = {
    MASK_ID: _encoded(Image.radial_gradient("L").resize((30, 20)), "PNG", 1),
    MARK_ID: _encoded(_picture((24, 12), 7).convert("RGBA"), "PNG", 1),
}


@st.composite
def _spec(draw: Any, name: str) -> Spec:
    """One valid operation named ``name``, in URL text and JSON object form."""
    operation = REGISTRY[name]
    form = draw(st.sampled_from(operation.forms))
    count = draw(st.integers(sum(p.required for p in form), len(form)))
    pairs = [draw(valid_value(param, render=True)) for param in form[:count]]
    args = {p.name: v for p, (_, v) in zip(form, pairs, strict=False)}
    for param in form[count:]:
        args[param.name] = param.default_for(args)
    assume(operation.check(args) is None)
    obj = {"op": name, **{p.name: v for p, (_, v) in zip(form, pairs, strict=False)}}
    return Spec(":".join([name, *(t for t, _ in pairs)]), obj, True)


def _url(specs: list[Spec], ext: str) -> Pipeline:
    text = "/".join(s.text for s in specs)
    return parse_path(text + ext) if text else Pipeline((), EXTENSIONS[ext[1:]] if ext else None)


@st.composite
def spellings(draw: Any) -> tuple[list[Spec], list[list[Spec]]]:
    """Pixel steps from the registry and output options, and several orders of them that keep
    the pixel steps' order and each option's order among its own kind (the last one wins)."""
    pixel_ops = sorted(n for n, op in REGISTRY.items() if not (op.output_only or op.expands))
    option_ops = sorted(n for n, op in REGISTRY.items() if op.output_only)
    # Half the time the first pixel step is one that reduces the decode (the rule at stake).
    drafting = sorted(n for n in pixel_ops if IMPLEMENTATIONS[n].draft is not None)
    first = st.sampled_from(drafting) | st.sampled_from(pixel_ops)
    valid = operation_spec(render=True).filter(lambda s: s.valid)
    specs = [draw(first.flatmap(_spec)), *draw(st.lists(valid, max_size=2))]
    pixels = [s for s in specs if s.obj["op"].lower() in pixel_ops]
    options = [s for s in specs if s.obj["op"].lower() in option_ops]
    options += draw(st.lists(st.sampled_from(option_ops).flatmap(_spec), min_size=1, max_size=2))
    orders = []
    for _ in range(3):
        order, after = list(pixels), 0
        for option in options:  # each after the one before it (the last one written wins)
            position = draw(st.integers(after, len(order)))
            order.insert(position, option)
            after = position + 1
        orders.append(order)
    return pixels + options, orders


def _outcome(data: bytes, pipeline: Pipeline, made: tuple[working_copy.WorkingCopy, ...], info):
    """What a stored image answers: from the working copy the plan picks, if any."""
    size = (info.width, info.height)
    kind = plan.serving_copy(pipeline, size, tuple(c.kind for c in made))
    try:
        if kind is not None:
            (copy,) = (c for c in made if c.kind == kind)
            source = {"source_size": size, "source_format": info.format}
            rendered = render(copy.data, pipeline, LIMITS, IMAGES, **source, copy_reach=kind.reach)
        else:
            rendered = render(data, pipeline, LIMITS, IMAGES)
    except ProgImageError as error:
        return (error.status, error.message)
    return decode(rendered.data)


def _same(a: Any, b: Any, what: str) -> None:
    if not isinstance(a, Image.Image) or not isinstance(b, Image.Image):
        assert a == b, what
        return
    assert a.size == b.size, f"{what}: {a.size} != {b.size}"
    assert a.mode == b.mode, what
    assert a.tobytes() == b.tobytes() or psnr(a, b) >= 50, f"{what}: {psnr(a, b):.1f} dB"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    spellings(),
    st.tuples(st.integers(1, 300), st.integers(1, 300)),
    st.integers(1, 8),
    st.sampled_from(["JPEG", "PNG"]),
    st.sampled_from(OUTPUTS),
    st.integers(0, 359),
)
def test_every_spelling_of_one_canonical_form_renders_alike(
    drawn: tuple[list[Spec], list[list[Spec]]],
    size: tuple[int, int],
    orientation: int,
    source_format: str,
    ext: str,
    seed: int,
) -> None:
    canonical_specs, orders = drawn
    data = _encoded(_picture(size, seed), source_format, orientation)
    with (
        mock.patch.object(copies, "COPIES", SMALL_COPIES),
        mock.patch.object(plan, "COPIES", SMALL_COPIES),
    ):
        info, made, _ = working_copy.admit(data, LIMITS)
        canonical = _url(canonical_specs, ext)
        again = Pipeline(parse_ops(canonical.canonical()), canonical.format)
        reference = _outcome(data, again, made, info)
        fmt = canonical.format
        for order in orders:
            url = _url(order, ext)
            objects = Pipeline(parse_ops(as_json_objects(order)), fmt)
            for name, pipeline in (("url", url), ("objects", objects)):
                assert pipeline.canonical() == canonical.canonical()
                spelled = "/".join(s.text for s in order) + ext
                what = f"{name} {spelled!r} vs {canonical.canonical()!r}, copies={len(made)}"
                _same(_outcome(data, pipeline, made, info), reference, what)


@pytest.mark.parametrize(
    ("size", "ops", "expected"),
    [
        ((1428, 1667), "resize:510:0", (510, 595)),  # 1667 x 510 / 1428 = 595.4
        ((3001, 2003), "resize:1000:0", (1000, 667)),  # 2003 x 1000 / 3001 = 667.4
    ],
)
@pytest.mark.parametrize("option", ["quality:80", "maxbytes:10000000"])
def test_an_output_option_written_first_takes_no_part_in_the_geometry(
    size: tuple[int, int], ops: str, expected: tuple[int, int], option: str
) -> None:
    data = _encoded(_picture(size, 0), "JPEG", 1)
    for spelling in (f"{ops}/{option}.png", f"{option}/{ops}.png"):
        out = decode(render(data, parse_path(spelling), Limits(), {}).data)
        assert out.size == expected, spelling


@settings(max_examples=300, deadline=None)
@given(spellings(), st.tuples(st.integers(1, 20_000), st.integers(1, 20_000)))
def test_the_copy_read_serves_the_pipeline_and_is_the_one_a_miss_opens_where_it_can_be(
    drawn: tuple[list[Spec], list[list[Spec]]], size: tuple[int, int]
) -> None:
    """A miss opens ``likely_copy`` before it knows the picture; the render reads the copy
    ``serving_copy`` picks. That copy was made for the picture, its reduction is within its
    reach, and it is the opened one whenever the opened one serves (else the smallest)."""
    pipeline = _url(drawn[0], "")
    made = copies.copies_made(size, 1)
    chosen = plan.serving_copy(pipeline, size, made)
    serving = [
        c
        for c in made
        if plan.geometry(pipeline, size, copies.copy_size(size, c), c.reach).from_copy
    ]
    likely = plan.likely_copy(pipeline)
    assert chosen == (likely if likely in serving else next(iter(serving), None))
    if chosen is not None:
        draft = plan.geometry(pipeline, size).draft
        assert draft is not None
        covered = copies.copy_size(size, chosen)
        assert all(d <= c * chosen.reach for d, c in zip(draft, covered, strict=True))
