"""Formats outside the allowlist never reach their decoder, whatever Pillow could read.

Each is refused with 415 by the sniffer; while it is, every plugin Pillow has for a format we do
not allow is replaced by a spy that fails if it is asked to recognise or open anything, and
every ``Image.open`` must name exactly one allowlisted plugin.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from progimage_service.errors import UnsupportedMedia
from progimage_service.imaging.decode import open_image
from progimage_service.imaging.formats import FORMATS, sniff
from progimage_service.imaging.pipeline import Pipeline

from .oracle import LIMITS, judge
from .samples import by_format, picture, save

# Pillow warns about the damage it meets (corrupt EXIF, truncated reads, large images): expected.
pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning",
    "ignore::PIL.Image.DecompressionBombWarning",
    "ignore:IM image format is deprecated:DeprecationWarning",
)


ALLOWED = {f.pillow for f in FORMATS.values()} | {"MPO"}  # MPO: Pillow's JPEG opens it as JPEG


def _saved(fmt: str, mode: str = "RGB", **params: Any) -> bytes:
    with warnings.catch_warnings():  # Pillow deprecates writing some (IM): still worth refusing
        warnings.simplefilter("ignore", DeprecationWarning)
        return save(picture(mode, (8, 8)), fmt, **params)


@cache
def foreign() -> dict[str, bytes]:
    """Images Pillow can decode (most written by Pillow itself) in formats we do not allow."""
    psd = (
        b"8BPS"
        + struct.pack(">H6xHIIHH", 1, 3, 8, 8, 8, 3)
        + struct.pack(">I", 0) * 3
        + struct.pack(">H", 0)
        + bytes(3 * 64)
    )
    ico = _saved("ICO")
    return {
        "PCX": _saved("PCX"),
        "ICO": ico,
        "CUR": ico[:2] + b"\x02\x00" + ico[4:],
        "TGA": _saved("TGA"),
        "PPM": _saved("PPM"),
        "PGM": _saved("PPM", "L"),
        "SGI": _saved("SGI"),
        "DDS": _saved("DDS"),
        "QOI": _saved("QOI"),
        "DIB": _saved("DIB"),
        "IM": _saved("IM"),
        "MSP": _saved("MSP", "1"),
        "XBM": _saved("XBM", "1"),
        "SPIDER": _saved("SPIDER", "F"),
        "JPEG2000": _saved("JPEG2000"),
        "J2K": _saved("JPEG2000", no_jp2=True),
        "ICNS": _saved("ICNS"),
        "EPS": _saved("EPS"),
        "PDF": _saved("PDF"),
        "PSD": psd,
        "SUN": struct.pack(">8I", 0x59A66A95, 8, 8, 8, 64, 1, 0, 0) + bytes(64),
        "XPM": b'/* XPM */\nstatic char *x[] = {\n"2 1 1 1",\n"a c #ff0000",\n"aa"\n};\n',
        "FITS": b"SIMPLE  =                    T".ljust(80)
        + b"BITPIX  =                    8".ljust(80)
        + b"NAXIS   =                    2".ljust(80)
        + b"NAXIS1  =                    2".ljust(80)
        + b"NAXIS2  =                    2".ljust(80)
        + b"END".ljust(80),
        "GBR": struct.pack(">IIIIII", 28, 2, 2, 2, 1, 0x47494D50) + b"x\x00" + bytes(4),
        "SVG": b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>',
        # ISO BMFF files other than AVIF and HEIC: an MP4 video, a Canon raw photo.
        "MP4": struct.pack(">I", 24) + b"ftypmp41" + bytes(4) + b"mp41isom",
        "CR3": struct.pack(">I", 24) + b"ftypcrx " + bytes(4) + b"crx isom",
        "FLI": struct.pack("<IHHHHH", 256, 0xAF11, 1, 8, 8, 8) + bytes(128),
    }


@contextmanager
def spies(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Any]]]:
    """Replace every non-allowlisted plugin with a spy, and watch Image.open's arguments."""
    Image.init()
    seen: dict[str, list[Any]] = {"plugins": [], "opens": []}

    def spy(plugin: str, role: str) -> Any:
        def called(*args: Any, **kwargs: Any) -> Any:
            seen["plugins"].append((plugin, role))
            raise AssertionError(f"{plugin} {role} called")

        return called

    for plugin in list(Image.OPEN):
        if plugin not in ALLOWED:
            monkeypatch.setitem(Image.OPEN, plugin, (spy(plugin, "open"), spy(plugin, "accept")))
    original = Image.open

    def open_(fp: Any, mode: str = "r", formats: Any = None) -> Image.Image:
        seen["opens"].append(None if formats is None else list(formats))
        return original(fp, mode, formats)

    monkeypatch.setattr(Image, "open", open_)
    yield seen


@pytest.mark.parametrize("name", sorted(foreign()))
def test_foreign_format_is_refused_before_any_decoder(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = foreign()[name]
    with pytest.raises(UnsupportedMedia):
        sniff(data)
    with spies(monkeypatch) as seen:
        with pytest.raises(UnsupportedMedia) as raised:
            open_image(data, LIMITS)
        assert raised.value.status == 415
        verdict = judge(data, Pipeline())
    assert verdict.status == 415
    assert seen == {"plugins": [], "opens": []}  # refused before Image.open


def test_pillow_itself_would_have_opened_them() -> None:
    """The samples are real images Pillow decodes: the allowlist, not luck, refuses them."""
    opened = set()
    for name, data in foreign().items():
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
            opened.add(name)
        except Exception:
            continue
    assert {"PCX", "ICO", "TGA", "PPM", "SGI", "DDS", "QOI", "PSD", "SUN", "XPM"} <= opened


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_allowed_formats_open_with_their_one_plugin(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with spies(monkeypatch) as seen:
        for data in by_format()[fmt]:
            judge(data, Pipeline())
    assert not seen["plugins"]
    assert seen["opens"] and all(o == [FORMATS[fmt].pillow] for o in seen["opens"])


@given(
    name=st.sampled_from(sorted(foreign())),
    head=st.binary(max_size=16),
    cut=st.integers(0, 200),
)
def test_foreign_formats_with_damage_never_reach_a_foreign_plugin(
    name: str, head: bytes, cut: int
) -> None:
    """Damaged or prefixed foreign images: refused, or handed to one allowlisted plugin only."""
    data = head + foreign()[name][cut:]
    with pytest.MonkeyPatch.context() as monkeypatch, spies(monkeypatch) as seen:
        judge(data, Pipeline())
    assert not seen["plugins"]
    assert all(o is not None and len(o) == 1 and o[0] in ALLOWED for o in seen["opens"])
