"""The batches a recorder holds for its next commit, and when that commit is due.

A sampler's ticks (and the window ends signed with them) are written ahead into the
member's journal and committed to the ledger together, one transaction every
:data:`COMMIT_EVERY_S` seconds or every :data:`MAX_UNSENT` events, whichever comes first; a
batch that could not be written ahead makes the commit due at once. The recorder keeps one
:class:`Unsent` and uses it under its own lock.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from carbonledger.events import Event, Heartbeat, SamplesAdded, SignedBatch, WindowEnded

__all__ = ["COMMIT_EVERY_S", "MAX_UNSENT", "Unsent", "changes_run"]

#: seconds between the writer's commits of the batches written ahead into the journal (a
#: member's lease is at least three times longer)
COMMIT_EVERY_S = 30.0
#: events written ahead that make the writer commit whatever the time (a tick is one event;
#: ticks taken faster than the writer keeps up with make batches of many)
MAX_UNSENT = 512


def changes_run(events: Sequence[Event]) -> bool:
    """Whether a batch changes the run's shape (its start, a member's join, devices, metadata,
    an end): forced to disk in the journal (at once, by the journal's own thread), and
    committed to the ledger at once. What is measured (a sampler's tick, a window's end) is
    written ahead and waits for the next commit."""
    for e in events:  # noqa: SIM110 (a loop, not any(): a sampler asks every tick)
        if not isinstance(e, _MEASURED):
            return True
    return False


_MEASURED = (SamplesAdded, WindowEnded, Heartbeat)


class Unsent:
    """Signed batches not committed to the ledger yet, each with whether it is written ahead
    into the journal; ``every_s`` seconds between commits (0: every batch at once)."""

    def __init__(self, every_s: float) -> None:
        self.every_s = max(0.0, every_s)
        self.batches: list[tuple[SignedBatch, bool]] = []
        self.events = 0
        #: the writer was asked for the commit (by the sampler) and has not made it yet
        self.asked = False
        self.last_commit = time.monotonic()

    def __bool__(self) -> bool:
        return bool(self.batches)

    def add(self, batch: SignedBatch, events: int, *, ahead: bool) -> bool:
        """Hold ``batch`` (of ``events`` events) for the next commit; True when that commit
        is due: the batch is not written ahead, enough waits, or the period has passed."""
        self.batches.append((batch, ahead))
        self.events += events
        return (
            not ahead
            or self.events >= MAX_UNSENT
            or time.monotonic() - self.last_commit >= self.every_s
        )

    def take(self) -> list[tuple[SignedBatch, bool]]:
        """The batches held, for the commit now (none are held after)."""
        held, self.batches = self.batches, []
        self.events = 0
        self.asked = False
        self.last_commit = time.monotonic()
        return held

    def wait_s(self) -> float:
        """Seconds until the commit period is over (0 when it is)."""
        return max(0.0, self.every_s - (time.monotonic() - self.last_commit))
