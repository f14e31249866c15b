#!/usr/bin/env python3
"""Fuzz the decode/validate path: sniff, open_image, inspect, then render with a tiny pipeline.

The oracle is the hostile-input suite's (tests/hostile/oracle.py): success with an output within
the limits, or one of our own 4xx errors, within the memory budget; anything else is a crash.

With atheris (libFuzzer, coverage-guided over Pillow's and our Python code):

    python fuzz/make_corpus.py fuzz/corpus
    python fuzz/fuzz_decode.py -max_total_time=60 fuzz/corpus

Without atheris (or with --random), the same oracle runs over random mutations of the corpus for
the time given; a failing input is written to fuzz/crashes/.
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

warnings.simplefilter("ignore")  # Pillow warns about the damage it meets: expected here
CRASHES = Path(__file__).parent / "crashes"
DEFAULTS = ["-rss_limit_mb=2048", "-timeout=20", "-max_len=65536", f"-artifact_prefix={CRASHES}/"]

try:
    if "--random" in sys.argv:
        raise ImportError("--random")
    import atheris
except ImportError as missing:
    atheris = None
    WHY = str(missing)

if atheris is not None:
    with atheris.instrument_imports(include=["PIL", "progimage_service"]):
        from PIL import Image

        Image.init()  # import (and instrument) every plugin now, not lazily later
        from progimage_service.imaging.pipeline import parse_path
        from tests.hostile.oracle import LIMITS, STATS, judge
else:
    from progimage_service.imaging.pipeline import parse_path
    from tests.hostile.oracle import LIMITS, STATS, judge

# Tiny pipelines, chosen by the input's length: every encoder but AVIF (slow) gets exercised.
PIPELINES = [
    parse_path(p)
    for p in (
        "thumbnail:64.png",
        "rotate:90/grayscale.webp",
        "resize:32:32:fill.gif",
        "crop:16:16.jpg",
    )
]
REPORT_EVERY = 2000


def test_one_input(data: bytes) -> None:
    judge(data, PIPELINES[len(data) % len(PIPELINES)], LIMITS)
    if STATS.inputs % REPORT_EVERY == 0:
        print(f"[oracle] {STATS.summary()}", file=sys.stderr, flush=True)


# --- without atheris: random mutations for a bounded time -------------------------------------

_INTERESTING = [
    0,
    1,
    2,
    255,
    256,
    4095,
    4096,
    4097,
    16383,
    16384,
    32767,
    65535,
    2**31 - 1,
    2**32 - 1,
]


def _mutate(data: bytes, corpus: list[bytes], rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        at = rng.randrange(len(out) + 1)
        if choice == 0 and out:  # flip bytes
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif choice == 1:  # an interesting 16- or 32-bit value, either byte order
            value = rng.choice(_INTERESTING)
            width = rng.choice([2, 4])
            raw = (value & (2 ** (8 * width) - 1)).to_bytes(width, rng.choice(["big", "little"]))
            out[at : at + width] = raw
        elif choice == 2:  # insert
            out[at:at] = rng.randbytes(rng.randint(1, 32))
        elif choice == 3:  # delete
            del out[at : at + rng.randint(1, 256)]
        elif choice == 4:  # repeat a piece
            piece = out[at : at + rng.randint(1, 512)]
            out[at:at] = piece * rng.randint(1, 20)
        elif choice == 5:  # truncate
            del out[at:]
        else:  # splice with another seed
            other = rng.choice(corpus)
            out[at:] = other[rng.randrange(len(other) + 1) :]
    return bytes(out[:65536])


def _random_loop(argv: list[str]) -> int:
    options = dict(a[1:].split("=", 1) for a in argv if a.startswith("-") and "=" in a)
    dirs = [Path(a) for a in argv if not a.startswith("-")]
    seconds = float(options.get("max_total_time", 60))
    rng = random.Random(int(options.get("seed", time.time_ns())))
    corpus = [p.read_bytes() for d in dirs for p in sorted(d.iterdir()) if p.is_file()]
    if not corpus:
        print("no corpus: run fuzz/make_corpus.py first", file=sys.stderr)
        return 2
    print(f"random mutation loop ({WHY}): {len(corpus)} seeds, {seconds:.0f} s", file=sys.stderr)
    crashes, deadline, started = 0, time.monotonic() + seconds, time.monotonic()
    while time.monotonic() < deadline:
        data = _mutate(rng.choice(corpus), corpus, rng)
        try:
            test_one_input(data)
        except Exception:
            crashes += 1
            CRASHES.mkdir(exist_ok=True)
            path = CRASHES / f"crash-{hashlib.sha1(data).hexdigest()}"
            path.write_bytes(data)
            print(f"CRASH written to {path}\n{traceback.format_exc()}", file=sys.stderr)
    elapsed = time.monotonic() - started
    print(
        f"done: {STATS.inputs} executions in {elapsed:.0f} s ({STATS.inputs / elapsed:.0f}/s), "
        f"{crashes} crashes\n{STATS.summary()}",
        file=sys.stderr,
    )
    return 1 if crashes else 0


def main() -> None:
    argv = [a for a in sys.argv[1:] if a != "--random"]
    if atheris is None:
        sys.exit(_random_loop(argv))
    CRASHES.mkdir(exist_ok=True)
    given = {a.split("=", 1)[0] for a in argv if a.startswith("-")}
    extra = [d for d in DEFAULTS if d.split("=", 1)[0] not in given]
    atheris.Setup([sys.argv[0], *extra, *argv], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
