"""PNG decoding: Pillow's decoder, libspng's (imaging/png.py) and libvips', on every kind of PNG.

    python -m bench.png [--repeat N] [--quick] [--json PATH]

The inputs are the main benchmark's RGBA PNG (bench/inputs.py: the shared photo with a soft
alpha vignette, 2400x1600) and that picture written again as every other kind of PNG the
service meets: RGB, grey, grey with alpha, a palette with and without transparency, 16-bit RGB,
RGBA and grey, and Adam7-interlaced RGB and RGBA (libvips writes the 16-bit and interlaced ones,
which Pillow cannot), plus the shared test file ``hopper.png`` as it is. For each, interleaved,
median CPU ms on one core:

- decode: Pillow's ``Image.open`` + ``load()``; libspng's (``Image.open`` for the header, then
  imaging/png.py into a Pillow image) wherever it gives Pillow's pixels, adopted by the service
  or not; and libvips' decode into memory;
- end to end: ``render(data, thumbnail:256.webp)`` with Pillow decoding, the same with libspng
  decoding wherever it gives Pillow's pixels, and pyvips' ``thumbnail_buffer`` to the same WebP.

The ``adopted`` column says which kinds the service decodes with libspng (png.ADOPTED: those
it makes 15 % faster end to end). Before timing, each libspng decode is checked equal to
Pillow's, pixel for pixel.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from . import inputs
from .cputime import interleaved_medians
from .run import limit_cores

RESULTS = Path(__file__).resolve().parent / "results"
HOPPER = inputs.BENCH.parents[1] / "shared" / "testdata" / "formats" / "hopper.png"
PIPELINE = "thumbnail:256.webp"


def _kinds(rgba: bytes) -> dict[str, tuple[str, bytes]]:
    """Each kind of PNG: a description and its bytes, made from the RGBA PNG."""
    import pyvips
    from PIL import Image

    def pillow(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return buffer.getvalue()

    def vips(data: bytes, wide: bool = False, interlace: bool = False) -> bytes:
        image = pyvips.Image.new_from_buffer(data, "")
        if wide:  # each 8-bit sample v as the 16-bit v * 257: the same picture, 16 bits deep
            kind = "grey16" if image.bands < 3 else "rgb16"
            image = (image.cast("ushort") * 257).cast("ushort").copy(interpretation=kind)
        return image.write_to_buffer(f".png[interlace={str(interlace).lower()}]")

    picture = Image.open(io.BytesIO(rgba))
    rgb = pillow(picture.convert("RGB"))
    grey = pillow(picture.convert("L"))
    kinds = {
        "rgba8": ("RGBA, 8 bit", rgba),
        "rgb8": ("RGB, 8 bit", rgb),
        "grey8": ("grey, 8 bit", grey),
        "la8": ("grey with alpha, 8 bit", pillow(picture.convert("LA"))),
        "palette": ("palette (P), 256 colours", pillow(picture.convert("RGB").quantize(256))),
        "palette-trns": ("palette with tRNS", pillow(picture.quantize(256))),
        "rgba16": ("RGBA, 16 bit", vips(rgba, wide=True)),
        "rgb16": ("RGB, 16 bit", vips(rgb, wide=True)),
        "grey16": ("grey, 16 bit", vips(grey, wide=True)),
        "rgba8-adam7": ("RGBA, 8 bit, interlaced", vips(rgba, interlace=True)),
        "rgb8-adam7": ("RGB, 8 bit, interlaced", vips(rgb, interlace=True)),
    }
    if HOPPER.is_file():
        kinds["hopper"] = ("hopper.png (shared test file, RGB 128x128)", HOPPER.read_bytes())
    return kinds


@contextmanager
def _decoder(libspng: bool) -> Iterator[None]:
    """Pillow decodes every PNG, or libspng every one it decodes exactly (png.EXACT)."""
    from progimage_service.imaging.png import decode_png

    def every_exact(data: bytes, image: object) -> object:
        return decode_png(data, image, every_exact=True)  # type: ignore[arg-type]

    replacement = every_exact if libspng else (lambda data, image: None)
    with mock.patch("progimage_service.imaging.decode.decode_png", replacement):
        yield


def measure(name: str, description: str, data: bytes, repeat: int) -> dict:
    """Median CPU ms of each decode and each end-to-end thumbnail of one PNG, interleaved."""
    import pyvips
    from PIL import Image

    from progimage_service.imaging.limits import Limits
    from progimage_service.imaging.pipeline import parse_path
    from progimage_service.imaging.png import decode_png
    from progimage_service.imaging.render import render

    from .peers.pyvips_peer import Pyvips

    def opened() -> Image.Image:
        return Image.open(io.BytesIO(data), formats=["PNG"])

    def pillow_decode() -> Image.Image:
        image = opened()
        image.load()
        return image

    def thumbnail(libspng: bool) -> Callable[[], bytes]:
        def run() -> bytes:
            with _decoder(libspng):
                return render(data, pipeline, limits).data

        return run

    pipeline, limits, peer = parse_path(PIPELINE), Limits(), Pyvips()
    reference = pillow_decode()
    decoded = decode_png(data, opened(), every_exact=True)
    if decoded is not None:  # the same image, or the service would change what it renders
        assert (decoded.mode, decoded.size) == (reference.mode, reference.size), name
        assert decoded.tobytes() == reference.tobytes(), name
    work: dict[str, Callable[[], object]] = {
        "pillow_decode": pillow_decode,
        "vips_decode": lambda: pyvips.Image.new_from_buffer(data, "").copy_memory(),
        "pillow_thumbnail": thumbnail(libspng=False),
        "vips_thumbnail": lambda: peer.thumbnail(data, "webp"),
    }
    if decoded is not None:
        work["spng_decode"] = lambda: decode_png(data, opened(), every_exact=True)
        work["spng_thumbnail"] = thumbnail(libspng=True)
    ms = interleaved_medians(work, repeat)
    row = {
        "input": name,
        "description": description,
        "size": list(reference.size),
        "pillow_mode": reference.mode,
        "bytes": len(data),
        "libspng": decoded is not None,
        "adopted": decode_png(data, opened()) is not None,
        **{f"{key}_ms": round(value, 2) for key, value in ms.items()},
        "decode_pillow_over_vips": round(ms["pillow_decode"] / ms["vips_decode"], 3),
        "thumbnail_pillow_over_vips": round(ms["pillow_thumbnail"] / ms["vips_thumbnail"], 3),
    }
    if decoded is not None:
        row["decode_spng_over_pillow"] = round(ms["spng_decode"] / ms["pillow_decode"], 3)
        row["decode_spng_over_vips"] = round(ms["spng_decode"] / ms["vips_decode"], 3)
        row["thumbnail_spng_over_pillow"] = round(ms["spng_thumbnail"] / ms["pillow_thumbnail"], 3)
        row["thumbnail_spng_over_vips"] = round(ms["spng_thumbnail"] / ms["vips_thumbnail"], 3)
    return row


def _cell(row: dict, key: str, unit: str = "") -> str:
    return f"{row[key]:.2f}{unit}" if key in row else "—"


def markdown(rows: list[dict], repeat: int) -> str:
    lines = [
        f"CPU ms on one core, median of {repeat} interleaved rounds; the thumbnail is "
        f"`{PIPELINE}` through render(), end to end. — : libspng does not give Pillow's pixels "
        "for that kind, Pillow decodes it. *adopted*: the service decodes it with libspng.",
        "",
        "| PNG | Pillow mode | adopted | decode: Pillow | libspng | libvips | spng/Pillow "
        "| Pillow/vips | spng/vips | thumbnail: Pillow | libspng | pyvips | spng/Pillow "
        "| Pillow/vips | spng/vips |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        spng = f"{row['spng_decode_ms']:.1f}" if row["libspng"] else "—"
        spng_thumbnail = f"{row['spng_thumbnail_ms']:.1f}" if row["libspng"] else "—"
        lines.append(
            f"| {row['input']} ({row['description']}) | {row['pillow_mode']} "
            f"| {'yes' if row['adopted'] else 'no'} "
            f"| {row['pillow_decode_ms']:.1f} | {spng} | {row['vips_decode_ms']:.1f} "
            f"| {_cell(row, 'decode_spng_over_pillow')} "
            f"| {_cell(row, 'decode_pillow_over_vips', '×')} "
            f"| {_cell(row, 'decode_spng_over_vips', '×')} "
            f"| {row['pillow_thumbnail_ms']:.1f} | {spng_thumbnail} "
            f"| {row['vips_thumbnail_ms']:.1f} "
            f"| {_cell(row, 'thumbnail_spng_over_pillow')} "
            f"| {_cell(row, 'thumbnail_pillow_over_vips', '×')} "
            f"| {_cell(row, 'thumbnail_spng_over_vips', '×')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.png", description=__doc__)
    parser.add_argument("--repeat", type=int, default=15, help="timed rounds per input")
    parser.add_argument("--quick", action="store_true", help="the inputs at 1/4 of the size")
    parser.add_argument("--only", default="", help="comma-separated kinds (default: all)")
    parser.add_argument("--json", type=Path, default=RESULTS / "png.json")
    args = parser.parse_args(argv)
    limit_cores(1)  # before pyvips is imported
    from progimage_service.imaging.png import available

    if not available():
        print("libspng is not installed (layers/pillow/requirements.txt)", file=sys.stderr)
        return 1
    (source,) = inputs.prepare(["png-alpha"], args.quick)
    wanted = set(filter(None, args.only.split(",")))
    rows = []
    for name, (description, data) in _kinds(source.read()).items():
        if wanted and name not in wanted:
            continue
        rows.append(measure(name, description, data, args.repeat))
        print(f"  {name}: {rows[-1]}", file=sys.stderr, flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))
    print(markdown(rows, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
