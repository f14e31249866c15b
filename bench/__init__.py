"""Benchmark harness: ProgImage's imaging core side by side with pyvips, thumbor and Pillow.

The service's code lives in ``functions/`` (the Lambda artifact's root), which is put on the path
here, as the tests' ``pythonpath`` setting does, so that ``progimage_service`` imports as it
does in a handler.
"""

import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"
if str(FUNCTIONS) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS))
