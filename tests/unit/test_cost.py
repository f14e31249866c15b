"""The cost model: every request's time and memory known before a pixel is decoded.

The estimates themselves are compared with measured renders in ``make bench-budget`` (a timing
has no place in a test on a loaded machine); here, what must hold for every input: the model
covers every operation and format, it refuses the costly classes before decoding anything, and
a render it accepts never fails a size check after decoding.
"""

from __future__ import annotations

import io
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from progimage_service.errors import InvalidOperation, ProgImageError, TooLarge
from progimage_service.imaging import cost, render
from progimage_service.imaging.formats import FORMATS
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import parse_path
from progimage_service.imaging.registry import REGISTRY
from tests.hostile.pipelines import IDS, operation_spec
from tests.images import decode

MARK = "0123456789abcdefghijKLMNO"


def _jpeg(size: tuple[int, int], **params: Any) -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize(size).convert("RGB").save(buffer, "JPEG", **params)
    return buffer.getvalue()


def _gif(frames: int, size: tuple[int, int]) -> bytes:
    images = [Image.new("RGB", size, (index * 5, 255 - index * 5, 0)) for index in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=50)
    return buffer.getvalue()


def test_every_operation_and_format_has_its_costs() -> None:
    rendered = {n for n, op in REGISTRY.items() if not (op.output_only or op.expands)}
    assert set(cost.STEP) == rendered
    for table in (cost.DECODE, cost.ENCODE, cost.ENCODER):
        assert set(table) == set(FORMATS)


@pytest.fixture
def nothing_decoded() -> Any:
    """Fails the test if a frame is decoded: a refusal must come from the headers."""
    with mock.patch.object(render, "frames", side_effect=AssertionError("a frame was decoded")):
        yield


@pytest.mark.parametrize(
    ("data", "path", "status", "code"),
    [
        # The costliest classes, scaled to a test's sizes.
        (
            _jpeg((2400, 1600)),
            "/".join(["rotate:0.01", "rotate:-0.01"] * 9) + "/quality:100/maxbytes:200000.avif",
            422,
            "work_budget",
        ),
        (_gif(40, (2, 2)), "resize:5000:5000:stretch.gif", 413, "too_large"),
        (_jpeg((100, 100)), "resize:16384:100:stretch.webp", 413, "too_large"),
        (_jpeg((300, 200), progressive=True), "thumbnail:50.png", 422, "too_many_scans"),
    ],
)
def test_costly_requests_are_refused_before_decoding(
    nothing_decoded: Any, data: bytes, path: str, status: int, code: str
) -> None:
    with pytest.raises(ProgImageError) as raised:
        render.render(data, parse_path(path), Limits(max_scans=3))
    assert (raised.value.status, raised.value.code) == (status, code)


def test_a_refusal_names_the_costliest_steps_and_the_budget(nothing_decoded: Any) -> None:
    with pytest.raises(ProgImageError) as raised:
        render.render(
            _jpeg((2400, 1600)), parse_path("rotate:30/rotate:30.avif"), Limits(max_seconds=2)
        )
    message = raised.value.message
    assert "over the 2 s a request may use" in message
    assert "rotate:30" in message and "encode avif" in message


def test_a_memory_refusal_is_a_413_naming_the_budget(nothing_decoded: Any) -> None:
    with pytest.raises(TooLarge, match=r"over the 64 MB a request may use"):
        render.render(
            _jpeg((2400, 1600)), parse_path("rotate:30.png"), Limits(max_memory=64 * 2**20)
        )


def test_more_named_images_than_allowed_is_a_400() -> None:
    ids = [c * 25 for c in "ABCDE"]
    with pytest.raises(InvalidOperation, match="at most 4 other images, got 5"):
        parse_path("/".join(f"watermark:{i}" for i in ids) + ".png")


def test_a_named_image_is_decoded_reduced_to_what_the_render_uses() -> None:
    named: dict[str, tuple[int, int]] = {}
    real = render.execute

    def spy(
        planned: Any, opened: Any, limits: Limits, images: dict[str, Image.Image], *rest: Any
    ) -> Any:
        named.update({k: v.size for k, v in images.items()})
        return real(planned, opened, limits, images, *rest)

    with mock.patch.object(render, "execute", spy):
        out = render.render(
            _jpeg((1200, 800)),
            parse_path(f"thumbnail:100/watermark:{MARK}:center:1:1.png"),
            Limits(),
            {MARK: _jpeg((2000, 1600))},
        )
    assert decode(out.data).size == (100, 67)
    assert named[MARK][0] <= 2000 // 4  # 1/8 would not cover the 1200x800 decode margin
    assert named[MARK][0] >= 100


# --- accepted means it fits -------------------------------------------------------------------

EXAMPLES = 300
TIGHT = Limits(max_pixels=60_000, max_side=400, max_animation_pixels=120_000, max_frames=20)


@settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
@given(
    st.lists(operation_spec(render=True).filter(lambda s: s.valid), min_size=1, max_size=4),
    st.tuples(st.integers(1, 240), st.integers(1, 240)),
    st.sampled_from(["JPEG", "PNG", "GIF"]),
    st.sampled_from([".png", ".jpg", ".webp", ".gif"]),
    st.tuples(st.integers(1, 240), st.integers(1, 240)),
)
def test_a_render_the_model_accepts_never_fails_a_size_check_after_decoding(
    specs: list[Any], size: tuple[int, int], kind: str, ext: str, mark: tuple[int, int]
) -> None:
    """Every size limit is checked from the plan: once decoding starts, only the input's own
    faults (none here) can stop a render. The images it names have any shape (a watermark
    keeps its own aspect ratio)."""
    data = _gif(3, size) if kind == "GIF" else _encoded(size, kind)
    text = "/".join(s.text for s in specs)
    marks = {i: _encoded(mark, "PNG") for i in IDS}
    started = []
    real = render.execute

    def watched(*args: Any) -> Any:
        started.append(True)
        return real(*args)

    with mock.patch.object(render, "execute", watched):
        try:
            render.render(data, parse_path(text + ext), TIGHT, marks)
        except TooLarge as error:
            assert not started, f"refused after decoding: {error.message}"
        except ProgImageError as error:
            assert error.status in (400, 422), error.message


def _encoded(size: tuple[int, int], kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, kind)
    return buffer.getvalue()
