"""What a recorder hands to its writer thread: the jobs of its queue, and how many events wait.

The queue carries :class:`Write` (events to sign and write), :class:`Ask` (a question for the
ledger, answered on the writer thread), :class:`Commit` (the sampler's ticks written ahead are
due) and :class:`Stop`.

They are counted by the event, not by the write, because memory is what is bounded: once
:data:`MAX_BACKLOG` wait, the thread handing more on waits for the writer to bring them under
half of that, at most :data:`BACKLOG_WAIT_S` (the user's thread is slowed a little, never
stopped). A flush waits for none to be left. The recorder keeps one :class:`Backlog`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from carbonledger.events import Event
    from carbonledger.ledger import Ledger

__all__ = [
    "BACKLOG_WAIT_S",
    "MAX_BACKLOG",
    "MAX_BATCH_EVENTS",
    "Ask",
    "Backlog",
    "Commit",
    "Job",
    "Stop",
    "Write",
    "gather",
]

#: the most events waiting for the writer: past it, a hand-on waits (at most
#: :data:`BACKLOG_WAIT_S`) for the writer to catch up, so memory does not grow with the run
MAX_BACKLOG = 1024
#: the longest a hand-on waits for a writer that is behind (seconds)
BACKLOG_WAIT_S = 0.05
#: the most events one batch holds (what the writer takes from its queue at once)
MAX_BATCH_EVENTS = 2048


@dataclass
class Write:
    """Events to sign as the member's next batch and write."""

    events: Sequence[Event]


@dataclass
class Ask:
    """A question for the ledger, answered on the writer thread (``done`` set after)."""

    question: Callable[[Ledger], Any]
    done: threading.Event = field(default_factory=threading.Event)
    answer: Any = None


class Stop:
    """The writer's last job: commit, move or discard the journal, end the thread."""


class Commit:
    """The sampler's word that the ticks it wrote ahead are due for their commit."""


Job = Write | Ask | Stop | Commit


def gather(first: Write, jobs: queue.SimpleQueue[Job]) -> tuple[list[Event], Job | None]:
    """``first``'s events and those of the writes queued right behind it (one batch, up to
    :data:`MAX_BATCH_EVENTS`), and the first other job met (to be done next: order is kept)."""
    events = list(first.events)
    while len(events) < MAX_BATCH_EVENTS:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            break
        if not isinstance(job, Write):
            return events, job
        events.extend(job.events)
    return events, None


class Backlog:
    """A count of events handed to the writer and not written yet, with waits on it."""

    def __init__(self) -> None:
        self._idle = threading.Condition()
        self._pending = 0

    @property
    def empty(self) -> bool:
        """Whether the writer has written everything handed to it."""
        return self._pending == 0

    def make_room(self) -> None:
        """When the writer is behind (:data:`MAX_BACKLOG` events wait), wait until it is
        under half of that, at most :data:`BACKLOG_WAIT_S`."""
        if self._pending >= MAX_BACKLOG:
            with self._idle:
                self._idle.wait_for(lambda: self._pending < MAX_BACKLOG // 2, BACKLOG_WAIT_S)

    def add(self, n: int) -> None:
        """``n`` more events handed to the writer."""
        with self._idle:
            self._pending += n

    def done(self, n: int) -> None:
        """``n`` events written (or journalled): waiters are woken when it matters to them."""
        if n <= 0:
            return
        with self._idle:
            self._pending -= n
            if self._pending <= 0:
                self._pending = 0
                self._idle.notify_all()
            elif self._pending < MAX_BACKLOG // 2:
                self._idle.notify_all()

    def wait_empty(self, timeout_s: float) -> bool:
        """Wait until nothing is left for the writer (True), or ``timeout_s`` passed."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout_s)
