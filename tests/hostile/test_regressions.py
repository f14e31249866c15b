"""Hostile inputs that found bugs, kept as plain examples next to the generated ones."""

from __future__ import annotations

import io
import struct
import time
from typing import Any

import pytest
from PIL import Image, TiffImagePlugin

from progimage_service.errors import TooLarge
from progimage_service.imaging.decode import inspect
from progimage_service.imaging.gif import gif_layout
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import parse_path
from progimage_service.imaging.webp import webp_layout

from . import bombs
from .oracle import LIMITS, judge
from .samples import save
from .structure import png_chunks, png_join

# Pillow warns about the damage it meets (corrupt EXIF, truncated reads, large images): expected.
pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::PIL.Image.DecompressionBombWarning"
)


def _gif_growing_frame() -> bytes:
    """A 4x4 screen whose second frame is 8x8: Pillow grows the canvas for that frame only."""
    lzw = {}
    for w, h in ((4, 4), (8, 8)):
        data = save(Image.new("P", (w, h), 1), "GIF")
        lzw[w] = data[data.index(b",", 13) + 10 : -1]  # the LZW data after the descriptor
    head = b"GIF89a" + struct.pack("<HHBBB", 4, 4, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"!\xf9\x04\x00\x0a\x00\x00\x00,"
    return (
        head
        + frame
        + struct.pack("<HHHHB", 0, 0, 4, 4, 0)
        + lzw[4]
        + frame
        + struct.pack("<HHHHB", 0, 0, 8, 8, 0)
        + lzw[8]
        + b";"
    )


@pytest.mark.parametrize("ext", ["webp", "avif", "gif", "png"])
def test_gif_frame_beyond_the_screen_renders_every_frame_at_one_size(ext: str) -> None:
    # The frames came out 4x4 and 8x8, and WebP and AVIF encoders refuse frames of two sizes.
    verdict = judge(_gif_growing_frame(), parse_path(f"grayscale.{ext}"))
    assert verdict.status == 200
    assert verdict.output is not None and verdict.output[:2] == (4, 4)


def test_gif_stray_bytes_do_not_hide_a_frame_from_the_limits() -> None:
    data, _ = bombs.bombs()["gif frame hidden after stray bytes"]
    assert gif_layout(data, stop_after=10).width == 3000  # Pillow skips the stray bytes too
    with pytest.raises(TooLarge):
        inspect(data, LIMITS)


def test_webp_canvas_and_frames_are_read_from_the_chunks() -> None:
    layout = webp_layout(bombs.webp_animation(8000, 6000, frames=3), stop_after=10)
    assert (layout.width, layout.height, layout.frames) == (8000, 6000, 3)
    assert webp_layout(bombs.webp_animation(2, 2, frames=100), stop_after=10).frames == 11
    lossless = webp_layout(bombs.webp_lossless(300, 200), stop_after=10)
    assert (lossless.width, lossless.height, lossless.frames) == (300, 200, 1)
    lossy = save(Image.new("RGB", (30, 20)), "WEBP")
    assert webp_layout(lossy, stop_after=10) == type(lossless)(1, 30, 20)


def _tiff_with_pages(pages: int) -> bytes:
    base = save(Image.new("L", (1, 1)), "TIFF")
    (ifd,) = struct.unpack("<I", base[4:8])
    (count,) = struct.unpack("<H", base[ifd : ifd + 2])
    entries = base[ifd : ifd + 2 + 12 * count]
    out = bytearray(base[:ifd])
    for page in range(pages):
        following = len(out) + len(entries) + 4 if page < pages - 1 else 0
        out += entries + struct.pack("<I", following)
    return bytes(out)


def test_a_tiff_with_many_pages_is_opened_without_walking_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pillow counts TIFF pages by reading every IFD, in quadratic time: 100,000 pages (11 MB)
    # took over a minute. Only the first page of a TIFF is ever used.
    def walked(self: object) -> int:
        raise AssertionError("n_frames walked the IFD chain")

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "n_frames", property(walked))
    data = _tiff_with_pages(20_000)
    started = time.perf_counter()
    info = inspect(data, Limits(max_frames=50))
    elapsed = time.perf_counter() - started
    print(f"20,000-page TIFF inspected in {elapsed * 1000:.1f} ms")
    assert (info.width, info.height, info.frames) == (1, 1, 1)


def test_mpo_is_a_still_jpeg() -> None:
    data = save(
        Image.new("RGB", (8, 8)), "MPO", save_all=True, append_images=[Image.new("RGB", (16, 4))]
    )
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert inspect(data, LIMITS).frames == 1
    verdict = judge(data, parse_path("grayscale.webp"))
    assert verdict.output == (8, 8, 1)


@pytest.mark.parametrize(
    "tags",
    [{296: 42}, {318: (0.3127, 0.329, 0.5)}, {319: (1.0,) * 5}],
    ids=["resolution unit 42", "three-value white point", "five chromaticities"],
)
def test_a_tiff_whose_tags_libtiff_would_not_write_is_rendered(tags: dict[int, Any]) -> None:
    # An unchanged picture was the TIFF file object, whose tags Pillow's TIFF writer copied:
    # RuntimeError and ValueError from libtiff, answered as a 500.
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    for tag, value in tags.items():
        ifd[tag] = value
    verdict = judge(save(Image.new("RGB", (16, 16)), "TIFF", tiffinfo=ifd))  # no steps
    assert verdict.status == 200


def _apng_with_delay(numerator: int, denominator: int) -> bytes:
    first, *rest = [Image.new("RGB", (4, 4), (60 * i, 0, 0)) for i in range(3)]
    chunks = png_chunks(save(first, "PNG", save_all=True, append_images=rest, duration=100))
    delay = struct.pack(">HH", numerator, denominator)
    return png_join([(k, b[:20] + delay + b[24:] if k == b"fcTL" else b) for k, b in chunks])


def _gif_with_delay(hundredths: int) -> bytes:
    frames = [Image.new("RGB", (4, 4), (60 * i, 0, 0)) for i in range(3)]
    data = bytearray(save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100))
    at = data.find(b"!\xf9\x04")
    while at >= 0:  # each graphic control extension: introducer, label, size, flags, delay
        data[at + 4 : at + 6] = struct.pack("<H", hundredths)
        at = data.find(b"!\xf9\x04", at + 1)
    return bytes(data)


@pytest.mark.parametrize("ext", ["gif", "png", "webp", "avif"])
@pytest.mark.parametrize("ops", ["grayscale", "brightness:0"])  # brightness:0: identical frames
@pytest.mark.parametrize("source", ["gif 655.35 s", "apng 65535 s"])
def test_frame_durations_longer_than_the_output_holds(source: str, ops: str, ext: str) -> None:
    # Found by the fuzzer: a GIF of a 652.81 s frame among identical frames, which Pillow's GIF
    # writer merges into one, adding their durations past the 16 bits a GIF frame holds. An APNG
    # frame may last 18 hours, beyond what any output but AVIF holds.
    data = _gif_with_delay(65535) if source.startswith("gif") else _apng_with_delay(65535, 1)
    assert inspect(data, LIMITS).frames == 3
    verdict = judge(data, parse_path(f"{ops}.{ext}"))
    assert verdict.status == 200


def test_animated_avif_output_stays_within_the_memory_budget() -> None:
    # Found by the large-canvas test: libaom's lookahead took 710 MB for two 4-megapixel frames
    # (180 bytes a pixel), over the budget of two frames; the real-time mode takes under 200 MB.
    data = bombs.gif((2000, 2000), [(0, 0, 1, 1), (1, 1, 1, 1)])
    verdict = judge(data, parse_path("grayscale.avif"))
    assert verdict.output == (2000, 2000, 2)
    print(f"two 2000x2000 frames to AVIF: peak {verdict.peak / 1e6:.0f} MB")
