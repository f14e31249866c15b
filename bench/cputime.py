"""CPU time of small pieces of work, measured interleaved so that drift hits each alike."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping


def cpu_ms(work: Callable[[], object]) -> float:
    """CPU milliseconds of one call, after a garbage collection."""
    gc.collect()
    start = time.process_time_ns()
    work()
    return (time.process_time_ns() - start) / 1e6


def interleaved_medians(work: Mapping[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """The median CPU ms of each piece of work over ``repeat`` rounds, each round running every
    piece once in turn, after one warm-up round."""
    runs: dict[str, list[float]] = {name: [] for name in work}
    for index in range(repeat + 1):
        for name, call in work.items():
            elapsed = cpu_ms(call)
            if index:
                runs[name].append(elapsed)
    return {name: statistics.median(values) for name, values in runs.items()}
