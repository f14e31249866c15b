"""Peak memory added by one operation, measured in a fresh interpreter.

The parent process has run every peer many times, so its heap holds freed memory that a later
operation can reuse without its resident size growing: measuring there would under-count. Each
(workload, input, peer) is therefore run once in a new Python process that imports only that
peer and reads the input's bytes. Just before the operation it records its resident size
(VmRSS) and resets the kernel's high-water mark (writing 5 to /proc/self/clear_refs); just after,
it reads the high-water mark (VmHWM). The difference is the most memory the operation held at
once beyond what the process already had: decoded pixels, intermediates, encoder buffers and the
output, plus whatever the library sets up on its first call (thread pools, codec state).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_kib() -> int | None:
    return _status_kib("VmRSS")


def peak_kib() -> int | None:
    return _status_kib("VmHWM")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def probe(workload: str, input_name: str, peer: str, quick: bool, threads: int) -> dict:
    """Run one operation in a new interpreter (``python -m bench --probe``); parse its report."""
    command = [sys.executable, "-m", "bench", "--probe", workload, input_name, peer]
    command += ["--threads", str(threads)] + (["--quick"] if quick else [])
    done = subprocess.run(
        command, check=False, cwd=REPO, capture_output=True, text=True, timeout=900
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail}
    return json.loads(lines[-1])
