"""The BlurHash and ThumbHash encoders against the reference implementations, run on the same
pixels: evanw/thumbhash's js/thumbhash.js under node, woltapp/blurhash's C encoder compiled here
twice, as published (single precision) and with every float a double (tests/reference/)."""

from __future__ import annotations

import base64
import math
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from progimage_service.imaging.placeholders import blurhash, blurhash_components, thumbhash
from tests.images import TESTDATA

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
PHOTOS = [
    "exif-orientation/Landscape_1.jpg",
    "formats/flower.jpg",
    "formats/flower2.jpg",
    "formats/hopper.jpg",
    "formats/hopper_gray.jpg",
]
WITH_ALPHA = ["formats/dispose_bgnd_rgba.gif", "formats/blend_op_over_near_transparent.png"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _needs(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"the reference needs {tool}")
    return path


class _Process:
    """A reference encoder left running: one request in, one line out."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def ask(self, request: bytes) -> str:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(request)
        self.process.stdin.flush()
        return self.process.stdout.readline().decode().strip()

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def reference_thumbhash() -> Iterator[Callable[[Image.Image], str]]:
    """The reference's ThumbHash of an RGBA image, in base64 as its node example prints it."""
    node = _Process([_needs("node"), str(REFERENCE / "thumbhash" / "main.mjs")])

    def encode(image: Image.Image) -> str:
        rgba = base64.b64encode(image.tobytes()).decode()
        return node.ask(f"E {image.width} {image.height} {rgba}\n".encode())

    yield encode
    node.close()


@pytest.fixture(scope="module")
def reference_blurhash(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str, Image.Image, int, int], str]]:
    """The reference's BlurHash of an RGB image, by build: "single" as published, "double"."""
    cc = _needs("cc")
    folder = tmp_path_factory.mktemp("blurhash")
    source = REFERENCE / "blurhash"
    processes = {}
    for build, unit in (("single", "encode.c"), ("double", "double.c")):
        binary = folder / build
        subprocess.run(
            [cc, "-O2", "-o", str(binary), str(source / "main.c"), str(source / unit), "-lm"],
            check=True,
        )
        processes[build] = _Process([str(binary)])

    def encode(build: str, image: Image.Image, x: int, y: int) -> str:
        header = f"{x} {y} {image.width} {image.height}\n".encode()
        return processes[build].ask(header + image.tobytes())

    yield encode
    for process in processes.values():
        process.close()


def _thumbhash_fields(hash_: bytes) -> tuple[dict[str, int], list[tuple[int, list[int]]]]:
    """The header's fields, and each channel's quantised scale with its AC nibbles (L, P, Q and,
    with alpha, A), read as the reference's decoder reads them."""
    header24 = hash_[0] | hash_[1] << 8 | hash_[2] << 16
    header16 = hash_[3] | hash_[4] << 8
    alpha, landscape = header24 >> 23, header16 >> 15
    fields = {
        "l_dc": header24 & 63,
        "p_dc": header24 >> 6 & 63,
        "q_dc": header24 >> 12 & 63,
        "l_scale": header24 >> 18 & 31,
        "alpha": alpha,
        "lx_or_ly": header16 & 7,
        "p_scale": header16 >> 3 & 63,
        "q_scale": header16 >> 9 & 63,
        "landscape": landscape,
        "a_dc": hash_[5] & 15 if alpha else 15,
        "a_scale": hash_[5] >> 4 if alpha else 0,
    }
    limit = 5 if alpha else 7
    lx = max(3, limit if landscape else fields["lx_or_ly"])
    ly = max(3, fields["lx_or_ly"] if landscape else limit)
    nibbles = [b >> shift & 15 for b in hash_[6 if alpha else 5 :] for shift in (0, 4)]
    channels = [(fields["l_scale"], lx, ly), (fields["p_scale"], 3, 3), (fields["q_scale"], 3, 3)]
    channels += [(fields["a_scale"], 5, 5)] if alpha else []
    out = []
    for scale, nx, ny in channels:
        count = sum(1 for cy in range(ny) for cx in range(nx) if cx * ny < nx * (ny - cy)) - 1
        out.append((scale, nibbles[:count]))
        nibbles = nibbles[count:]
    return fields, out


def _same_thumbhash(ours: bytes, reference: str) -> None:
    """The reference's bytes, or each field within one quantisation step of the reference's.
    V8's Math.cos differs from the C library's cos in the last bit for some arguments (15 of
    the 624 that images of up to 12 px use), which decides a rounding where a value sits on a
    tie: an AC term that is zero in theory (cos(pi/2) is 6e-17, not 0) is mapped to exactly
    7.5 of 15. And a flat channel's AC terms are rounding noise (about 1e-17) divided by their
    largest: there the nibbles are noise, but its scale is quantised to 0 and the decoder
    multiplies them by 0, so they are not compared."""
    expected = base64.b64decode(reference)
    if ours == expected:
        return
    assert len(ours) == len(expected)
    fields, channels = _thumbhash_fields(ours)
    ref_fields, ref_channels = _thumbhash_fields(expected)
    for name in ("alpha", "landscape", "lx_or_ly"):
        assert fields[name] == ref_fields[name], name
    assert all(abs(fields[k] - ref_fields[k]) <= 1 for k in fields), (fields, ref_fields)
    for (scale, nibbles), (ref_scale, ref_nibbles) in zip(channels, ref_channels, strict=True):
        if scale or ref_scale:
            assert all(abs(a - b) <= 1 for a, b in zip(nibbles, ref_nibbles, strict=True))


def _reduced(relative: str, side: int, mode: str) -> Image.Image:
    with Image.open(TESTDATA / relative) as image:
        picture = image.convert(mode)
    picture.thumbnail((side, side), Image.Resampling.BOX)
    return picture


def _images(mode: str, max_side: int) -> st.SearchStrategy[Image.Image]:
    """Small images of random, flat, few-valued or dark pixels (ties in sRGB's linear segment)."""
    channels = len(mode)

    @st.composite
    def build(draw: st.DrawFn) -> Image.Image:
        width = draw(st.integers(1, max_side))
        height = draw(st.integers(1, max_side))
        count = width * height * channels
        kind = draw(st.sampled_from(["any", "flat", "few", "dark"]))
        if kind == "flat":
            data = bytes(draw(st.binary(min_size=channels, max_size=channels))) * (width * height)
        else:
            values = {
                "any": st.integers(0, 255),
                "few": st.sampled_from([0, 1, 128, 254, 255]),
                "dark": st.integers(0, 10),
            }[kind]
            data = bytes(draw(st.lists(values, min_size=count, max_size=count)))
        return Image.frombytes(mode, (width, height), data)

    return build()


# ThumbHash: the same bytes


@pytest.mark.parametrize("side", [100, 32])
@pytest.mark.parametrize("relative", PHOTOS + WITH_ALPHA)
def test_thumbhash_is_the_references_on_real_images(relative, side, reference_thumbhash):
    image = _reduced(relative, side, "RGBA")
    _same_thumbhash(thumbhash(image), reference_thumbhash(image))


@FUZZ
@given(image=_images("RGBA", 12))
def test_thumbhash_is_the_references_on_any_pixels(image, reference_thumbhash):
    _same_thumbhash(thumbhash(image), reference_thumbhash(image))


@pytest.mark.parametrize("relative", PHOTOS)
def test_thumbhash_of_a_photo_is_the_references_byte_for_byte(relative, reference_thumbhash):
    """No channel of a photo is flat: the bytes themselves must be the reference's."""
    image = _reduced(relative, 100, "RGBA")
    assert base64.b64encode(thumbhash(image)).decode() == reference_thumbhash(image)


def test_thumbhash_refuses_what_the_reference_refuses():
    with pytest.raises(ValueError, match="100x100"):
        thumbhash(Image.new("RGBA", (101, 10)))
    with pytest.raises(ValueError, match="RGBA"):
        thumbhash(Image.new("RGB", (10, 10)))


# BlurHash: the same strings on photos; within one quantisation step on any pixels


@pytest.mark.parametrize("build", ["double", "single"])
@pytest.mark.parametrize("side", [64, 100])
@pytest.mark.parametrize("relative", PHOTOS)
def test_blurhash_is_the_references_on_photos(relative, side, build, reference_blurhash):
    image = _reduced(relative, side, "RGB")
    x, y = blurhash_components(*image.size)
    assert blurhash(image, x, y) == reference_blurhash(build, image, x, y)


def _decoded(hash_: str) -> tuple[tuple[int, int], float, list[int], list[float], list[float]]:
    """Components (x, y), the AC maximum, the DC in 8-bit sRGB, every AC value and the width of
    the quantisation step it sits on."""

    def number(text: str) -> int:
        return sum(BASE83.index(c) * 83**i for i, c in enumerate(reversed(text)))

    def level(q: int) -> float:
        return math.copysign(((q - 9) / 9) ** 2, q - 9)

    size = number(hash_[0])
    maximum = (number(hash_[1]) + 1) / 166
    dc = number(hash_[2:6])
    values, steps = [], []
    for i in range(6, len(hash_), 2):
        packed = number(hash_[i : i + 2])
        for q in (packed // 361, packed // 19 % 19, packed % 19):
            values.append(level(q) * maximum)
            gaps = [abs(level(n) - level(q)) for n in (q - 1, q + 1) if 0 <= n <= 18]
            steps.append(max(gaps) * maximum)
    return (
        (size % 9 + 1, size // 9 + 1),
        maximum,
        [dc >> 16, dc >> 8 & 255, dc & 255],
        values,
        steps,
    )


def _within_a_step(ours: str, reference: str) -> None:
    size, maximum, dc, values, steps = _decoded(ours)
    ref_size, ref_maximum, ref_dc, ref_values, ref_steps = _decoded(reference)
    assert size == ref_size
    assert abs(maximum - ref_maximum) <= 1 / 166 + 1e-12
    assert all(abs(a - b) <= 1 for a, b in zip(dc, ref_dc, strict=True)), (dc, ref_dc)
    for a, b, step, ref_step in zip(values, ref_values, steps, ref_steps, strict=True):
        assert abs(a - b) <= max(step, ref_step) + abs(maximum - ref_maximum) + 1e-12


@FUZZ
@given(image=_images("RGB", 12), x=st.integers(1, 9), y=st.integers(1, 9))
def test_blurhash_is_within_a_step_of_the_references(image, x, y, reference_blurhash):
    """Not always the same string: a dark picture's mean lies in sRGB's linear segment, where the
    DC often lands exactly on a half (mean 4.5 of 8-bit values), and each implementation's
    rounding, single or double precision, in whatever order it adds, picks a side (both builds
    of the reference differ there between themselves). Elsewhere the quantisation steps are far
    wider than any rounding."""
    ours = blurhash(image, x, y)
    for build in ("double", "single"):
        _within_a_step(ours, reference_blurhash(build, image, x, y))


def test_blurhash_refuses_what_the_reference_refuses():
    with pytest.raises(ValueError, match="1 to 9"):
        blurhash(Image.new("RGB", (4, 4)), 10, 3)
    with pytest.raises(ValueError, match="RGB"):
        blurhash(Image.new("RGBA", (4, 4)), 4, 3)


@pytest.mark.parametrize(
    ("size", "components"),
    [
        ((400, 300), (4, 3)),  # BlurHash's authors' usual choice
        ((300, 400), (3, 4)),
        ((500, 500), (3, 3)),
        ((1920, 1080), (5, 3)),
        ((2000, 1000), (6, 3)),
        ((3000, 1000), (9, 3)),
        ((10000, 10), (9, 3)),
        ((1, 1), (3, 3)),
    ],
)
def test_blurhash_components_follow_the_aspect_ratio(size, components):
    assert blurhash_components(*size) == components


@given(width=st.integers(1, 20000), height=st.integers(1, 20000))
def test_blurhash_components_turn_with_the_picture(width, height):
    across, down = blurhash_components(width, height)
    assert (down, across) == blurhash_components(height, width)
    assert 3 == min(across, down) <= max(across, down) <= 9
    assert across <= down or width > height  # more components only along the longer side
