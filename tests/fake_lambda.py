"""A Lambda context whose time the test moves: no sleeping, no wall clock.

``FakeTime`` is one clock for both things the queue handlers read: the invocation's remaining
time (``context.get_remaining_time_in_millis()``) and the wall clock an item's run is noted in
(``queue_events.wall_clock``, replaced with ``install``). Work "takes" time by calling
``spend``; an invocation "runs out" by raising ``Stopped``, which, like Lambda stopping a
function at its Timeout, ends the handler without an answer and without any ``except
Exception`` seeing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from progimage_service import queue_events

EPOCH = 1_800_000_000.0  # the wall-clock time the fake clock starts at


class Stopped(BaseException):
    """The invocation was stopped (Lambda's Timeout, or out of memory) in the middle of work."""


@dataclass
class FakeTime:
    now: float = EPOCH
    invocations: list[FakeContext] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeTime:
        monkeypatch.setattr(queue_events, "wall_clock", lambda: self.now)
        return self

    def spend(self, seconds: float) -> None:
        self.now += seconds

    def context(self, timeout_seconds: float) -> FakeContext:
        """A new invocation's context, for a function with this Timeout, starting now."""
        context = FakeContext(self, self.now + timeout_seconds)
        self.invocations.append(context)
        return context


@dataclass
class FakeContext:
    clock: FakeTime
    deadline: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock.now) * 1000))
