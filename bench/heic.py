"""HEIC and JPEG XL at 12 MP: decode and encode CPU time beside JPEG's, bytes and fidelity.

    python -m bench.heic [--megapixels 12] [--repeat 5] [--json PATH]

The input is the footprint benchmark's photo-like baseline JPEG (bench/footprint.py), written
again as HEIC and JPEG XL by the service's own encoder (imaging/encode.py, default settings).
For each, interleaved, median CPU ms on one core (the decoders' and encoders' threads counted):

- decode: the service's open and first frame (imaging/decode.py), JPEG's the same way;
- encode: the service's encoder from the decoded frame, at each format's default, with JPEG's,
  WebP's and AVIF's for comparison;
- the plugins' import times (``python -X importtime``, a fresh interpreter each).

Every figure is also given as a ratio to the JPEG decode of the same picture. libvips is the
other benchmarks' peer; pyvips-binary's libvips reads and writes HEIF with AV1 only (no HEVC
decoder or encoder) and has no JPEG XL: the bench checks and says so rather than compare.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .cputime import interleaved_medians
from .footprint import source
from .run import limit_cores

RESULTS = Path(__file__).resolve().parent / "results"


def _import_ms(module: str) -> float:
    """Median cumulative import time of ``module`` after Pillow, over three fresh processes."""
    times = []
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import PIL.Image; import {module}"],
            capture_output=True,
            text=True,
            check=True,
        )
        for line in done.stderr.splitlines():
            parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] == module:
                times.append(int(parts[1]) / 1000)
    return sorted(times)[len(times) // 2]


def _vips_support() -> dict[str, str]:
    import pyvips

    found = {}
    data = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (16, 16)).save(data, "PNG")
    image = pyvips.Image.new_from_buffer(data.getvalue(), "")
    for name, call in {
        "heic (hevc) save": lambda: image.heifsave_buffer(compression="hevc"),
        "jxl save": lambda: image.jxlsave_buffer(),  # noqa: PLW0108 (may not exist)
    }.items():
        try:
            call()
            found[name] = "yes"
        except (pyvips.Error, AttributeError) as error:
            said = str(error).strip().splitlines() or ["no such operation"]
            found[name] = "no: " + said[-1][:80]
    return found


def measure(megapixels: int, repeat: int) -> dict:
    from progimage_service.imaging.decode import frames, open_image
    from progimage_service.imaging.encode import Frame, encode
    from progimage_service.imaging.formats import FORMATS
    from progimage_service.imaging.limits import Limits
    from tests.images import psnr  # the tests' measure, so that figures compare

    libvips = _vips_support()
    jpeg = source(megapixels).read_bytes()
    limits = Limits(max_seconds=1e9)
    picture = next(frames(open_image(jpeg, limits)))[0].convert("RGB")
    files = {"jpeg": jpeg}
    files |= {name: encode([Frame(picture, 0)], FORMATS[name]) for name in ("heic", "jxl")}

    def decoder(data: bytes) -> Callable[[], object]:
        def decode() -> object:
            return next(frames(open_image(data, limits)))[0].load()

        return decode

    def encoder(name: str) -> Callable[[], object]:
        return lambda: encode([Frame(picture, 0)], FORMATS[name])

    decodes = interleaved_medians({n: decoder(d) for n, d in files.items()}, repeat)
    encodes = interleaved_medians(
        {n: encoder(n) for n in ("jpeg", "heic", "jxl", "webp", "avif")}, max(1, repeat // 2)
    )
    fidelity = {}
    for name in ("jpeg", "heic", "jxl"):
        data = encode([Frame(picture, 0)], FORMATS[name])
        back = next(frames(open_image(data, limits)))[0].convert("RGB")
        fidelity[name] = {"bytes": len(data), "psnr": round(psnr(back, picture), 2)}
    return {
        "size": picture.size,
        "decode_ms": decodes,
        "encode_ms": encodes,
        "fidelity": fidelity,
        "import_ms": {m: _import_ms(m) for m in ("pillow_heif", "pillow_jxl")},
        "libvips": libvips,
    }


def markdown(found: dict) -> str:
    base = found["decode_ms"]["jpeg"]
    width, height = found["size"]
    lines = [
        f"{width}x{height} ({width * height / 1e6:.1f} MP), CPU ms on one core; "
        f"x JPEG decode = the ratio to JPEG's decode of the same picture ({base:.0f} ms)",
        "",
        "| format | decode ms | x JPEG decode | encode ms | x JPEG decode | bytes | PSNR dB |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name in ("jpeg", "heic", "jxl", "webp", "avif"):
        decode = found["decode_ms"].get(name)
        encode = found["encode_ms"][name]
        fid = found["fidelity"].get(name, {})
        cells = [
            name,
            f"{decode:.0f}" if decode else "",
            f"{decode / base:.1f}" if decode else "",
            f"{encode:.0f}",
            f"{encode / base:.1f}",
            f"{fid['bytes']:,}" if fid else "",
            f"{fid['psnr']}" if fid else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- import {m} after Pillow: {ms:.0f} ms" for m, ms in found["import_ms"].items()]
    lines += [f"- libvips {what}: {said}" for what, said in found["libvips"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.heic", description=__doc__)
    parser.add_argument("--megapixels", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds of each decode")
    parser.add_argument("--json", type=Path, default=RESULTS / "heic.json")
    args = parser.parse_args(argv)
    limit_cores(1)  # before pyvips is imported
    found = measure(args.megapixels, args.repeat)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(found, indent=2))
    print(markdown(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
