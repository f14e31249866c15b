"""One delivery of a queued message: which receive it is, and how long its invocation lasts.

Lambda stops an invocation at its Timeout, whatever it is doing, and nothing in the process can
interrupt a render half way. So a worker notes, before it starts an item, when the invocation
running it will certainly be over (``ends_at``). A later delivery that finds that note, the
time passed and no result knows the item's earlier run died with its invocation (out of time
or out of memory), and records the item as failed instead of running it again.
"""

from __future__ import annotations

from dataclasses import dataclass

# Seconds past an invocation's end before a note of it is taken as dead: Lambda stops a function
# at its deadline, and the clocks of two execution environments agree to well within this.
# A redelivery comes a visibility timeout later (six function timeouts), far beyond it.
ENDED_SLACK = 10.0


@dataclass(frozen=True)
class Attempt:
    """A message's delivery as the worker got it."""

    number: int = 1  # SQS's ApproximateReceiveCount: 1 on the first delivery
    started: float = 0.0  # wall-clock time (epoch seconds) this item was started
    ends_at: float | None = None  # wall-clock time its invocation ends; None: not known

    @property
    def seconds(self) -> float | None:
        """The time this item has, to the end of its invocation (None: not known)."""
        return None if self.ends_at is None else self.ends_at - self.started


def ended(until: float | None, now: float) -> bool:
    """Whether an invocation noted to end at ``until`` is certainly over by ``now``."""
    return until is not None and until + ENDED_SLACK < now


def died(earlier: tuple[float, float] | None, attempt: Attempt) -> float | None:
    """The seconds an earlier run had, if its note (started, ends_at) shows it died with its
    invocation before this attempt started; None when there is no such note."""
    if earlier is None or not ended(earlier[1], attempt.started):
        return None
    return earlier[1] - earlier[0]
