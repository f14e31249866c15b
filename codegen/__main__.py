"""``python -m codegen``: regenerate; ``--check``: fail, naming them, if any file is stale."""

from __future__ import annotations

import sys

from .operations import stale, write

if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        outdated = stale()
        sys.exit(f"stale, run `make generate`: {', '.join(outdated)}" if outdated else 0)
    for path in write():
        print(f"wrote {path}")
