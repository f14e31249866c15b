#!/usr/bin/env python3
"""Write the seed corpus for fuzz_decode.py: small real images of every allowlisted format.

The seeds are the hostile-input suite's own (encoded with Pillow, plus the small shared test
images) and its synthetic bombs, each under 50 KB. The corpus is generated, not committed.

    python fuzz/make_corpus.py [fuzz/corpus]
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

from tests.hostile.bombs import bombs  # noqa: E402
from tests.hostile.samples import generated, shared  # noqa: E402

MAX_SIZE = 50 * 1024


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "corpus"
    target.mkdir(parents=True, exist_ok=True)
    seeds = {**generated(), **shared(), **{name: data for name, (data, _) in bombs().items()}}
    written = 0
    for name, data in seeds.items():
        if len(data) > MAX_SIZE:
            continue
        slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
        digest = hashlib.sha1(data).hexdigest()[:8]
        (target / f"{slug}-{digest}").write_bytes(data)
        written += 1
    print(f"{written} seeds in {target}")


if __name__ == "__main__":
    main()
