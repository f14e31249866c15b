"""The session's hostile-input counts, printed at the end (summed over xdist workers).

tests/hostile/conftest.py registers this plugin when the hostile tests are collected. A parallel
run from the repository root collects in the workers only; ``-p tests.hostile.report`` then lets
the controller print the summary too.
"""

from __future__ import annotations

from typing import Any

import pytest

from .oracle import HTTP, RSS_MEASURED, STATS

_KEY = "hostile_stats"


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput[_KEY] = STATS.as_dict()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    stats = getattr(node, "workeroutput", {}).get(_KEY)
    if stats:
        STATS.merge(stats)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not STATS.inputs and not STATS.bombs and not HTTP.requests:
        return
    terminalreporter.section("hostile inputs")
    terminalreporter.write_line(STATS.summary())
    if not RSS_MEASURED:
        terminalreporter.write_line("(peak memory not measured: /proc/self/clear_refs unavailable)")
    for line in STATS.unexpected[:20]:
        terminalreporter.write_line(f"unexpected: {line}")
