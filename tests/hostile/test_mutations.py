"""Near-valid images of every allowlisted format, mutated where decoders are fragile.

Oracle: ``inspect`` and ``render`` (with a random valid pipeline) succeed with an output within
the limits, or raise one of our 4xx errors; each input within the deadline and the memory budget.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from progimage_service.imaging.formats import EXTENSIONS, FORMATS
from progimage_service.imaging.pipeline import Pipeline, parse_path

from . import bombs, structure
from .oracle import LIMITS, judge
from .pipelines import IDS, as_url, extensions, pipeline_specs
from .samples import by_format, save, small_rgba

# Pillow warns about the damage it meets (corrupt EXIF, truncated reads, large images): expected.
pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::PIL.Image.DecompressionBombWarning"
)


REFERENCED = dict.fromkeys(IDS, b"")  # filled lazily: the seeds are encoded on first use


def referenced() -> dict[str, bytes]:
    return dict.fromkeys(REFERENCED, small_rgba())


@st.composite
def pipelines(draw: st.DrawFn) -> Pipeline:
    specs, _ = draw(pipeline_specs(render=True, max_ops=3))
    ext = draw(extensions())
    if not specs:  # no operations: a conversion (or the source's format as it is)
        return Pipeline(format=EXTENSIONS[ext[1:]] if ext else None)
    return parse_path(as_url(specs, ext))


@st.composite
def mutated(draw: st.DrawFn, fmt: str) -> bytes:
    data = draw(st.sampled_from(by_format()[fmt]))
    own = structure.BY_FORMAT[fmt]
    # Mostly the format's own structure, sometimes plain byte damage on top.
    steps = draw(
        st.lists(st.sampled_from(own) | st.sampled_from(structure.GENERIC), min_size=1, max_size=3)
    )
    for mutate in steps:
        data = mutate(data, draw)
    return data


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@given(data=st.data())
def test_near_valid_images_are_rendered_or_refused_with_a_4xx(
    fmt: str, data: st.DataObject
) -> None:
    image = data.draw(mutated(fmt), label="image")
    pipeline = data.draw(pipelines(), label="pipeline")
    judge(image, pipeline, images=referenced())


@given(data=st.data())
def test_spliced_images_of_two_formats(data: st.DataObject) -> None:
    """The head of one format with the body of another: a sniffed format lying about the rest."""
    groups = by_format()
    head = data.draw(st.sampled_from(groups[data.draw(st.sampled_from(sorted(groups)))]))
    body = data.draw(st.sampled_from(groups[data.draw(st.sampled_from(sorted(groups)))]))
    cut = data.draw(st.integers(1, len(head)))
    start = data.draw(st.integers(0, len(body)))
    judge(head[:cut] + body[start:], data.draw(pipelines()), images=referenced())


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_truncation_of_each_seed(fmt: str) -> None:
    """Truncations at every segment boundary (JPEG) or chunk (others), and at a sample of bytes."""
    for seed in by_format()[fmt][:4]:
        cuts = set(range(0, len(seed), max(1, len(seed) // 40)))
        if fmt == "jpeg":
            cuts |= {end for _, end in structure.jpeg_segments(seed)}
        for cut in sorted(cuts):
            judge(seed[:cut], Pipeline())


def _canvas_sides() -> st.SearchStrategy[tuple[int, int]]:
    """Sides whose product is within the pixel limit, often right at it."""
    side = st.integers(1, LIMITS.max_side)
    return st.tuples(side, side).map(lambda s: (s[0], max(1, min(s[1], LIMITS.max_pixels // s[0]))))


# Each of these decodes a canvas of up to the pixel limit: a few seconds each, so fewer of them.
@settings(max_examples=max(8, settings().max_examples // 5))
@given(
    kind=st.sampled_from(["gif", "webp"]),
    sides=_canvas_sides(),
    frames=st.integers(1, 3),
    pipeline=pipelines(),
)
def test_small_files_declaring_large_canvases(
    kind: str, sides: tuple[int, int], frames: int, pipeline: Pipeline
) -> None:
    """A few hundred bytes that decode to a canvas at the limit: the memory budget is tested."""
    width, height = sides
    if kind == "gif":
        data = bombs.gif(sides, [(0, 0, 1, 1)] * frames)
    else:
        data = bombs.webp_animation(width, height, frames)
    verdict = judge(data, pipeline, images=referenced())
    if verdict.inspected is not None:
        assert verdict.inspected[:2] == sides


@st.composite
def animations(draw: st.DrawFn) -> bytes:
    """A short animation whose frames (often identical in a row) declare any duration the format
    can carry: GIF 16-bit hundredths, APNG a 16-bit fraction of seconds, WebP 24-bit ms."""
    kind = draw(st.sampled_from(["GIF", "PNG", "WEBP"]))
    colours = draw(st.lists(st.sampled_from(["red", "blue"]), min_size=2, max_size=8))
    frames = [Image.new("RGB", (4, 4), c) for c in colours]
    # Pillow merges identical frames when it writes: keep them apart with a changing pixel.
    for index, frame in enumerate(frames):
        frame.putpixel((0, 0), (index, 0, 0))
    data = bytearray(save(frames[0], kind, save_all=True, append_images=frames[1:], duration=100))
    edges = st.sampled_from([0, 1, 2, 10, 100, 1000, 65535, 0xFFFFFF, 2**31 - 1])
    marker, at_value, width, order = {
        "GIF": (b"!\xf9\x04", 4, 2, "<"),
        "PNG": (b"fcTL", 24, 4, ">"),
        "WEBP": (b"ANMF", 20, 3, "<"),
    }[kind]
    at = data.find(marker)
    while at >= 0:
        value = draw(edges | st.integers(0, 2 ** (8 * width) - 1)) % 2 ** (8 * width)
        data[at + at_value : at + at_value + width] = value.to_bytes(
            width, "little" if order == "<" else "big"
        )
        at = data.find(marker, at + 1)
    if kind == "PNG":  # the CRCs of the changed fcTL chunks
        data = bytearray(structure.png_join(structure.png_chunks(bytes(data))))
    return bytes(data)


@given(data=animations(), pipeline=pipelines())
def test_animation_timing(data: bytes, pipeline: Pipeline) -> None:
    judge(data, pipeline, images=referenced())
