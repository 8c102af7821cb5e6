"""The background sampler: every interval, ``Meter.tick()``'s events go to the recorder.

It exists for time series, crash safety (samples reach the ledger as they are taken),
counter wraparound and the integration of power/model sensors — not to integrate what a
counter already integrates. A failure inside it is recorded, never raised into the
training loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from carbonledger.errors import InputError

if TYPE_CHECKING:
    from carbonledger.events import Event
    from carbonledger.meter.core import Meter

#: where a tick's events go (the recorder's ``emit``)
EventSink = Callable[[Sequence["Event"]], object]

__all__ = ["Sampler"]


class Sampler:
    """Every ``interval_s`` seconds, from a daemon thread named "carbonledger-sampler",
    hand ``meter.tick()``'s events to ``loop_sink`` (default ``sink``); a :meth:`tick` called
    from elsewhere hands them to ``sink``."""

    def __init__(
        self,
        meter: Meter,
        interval_s: float,
        sink: EventSink,
        *,
        wall_clock: Callable[[], float] = time.time,
        loop_sink: EventSink | None = None,
    ) -> None:
        if not interval_s > 0:
            raise InputError(f"sampling interval must be > 0 seconds, got {interval_s!r}")
        self._meter = meter
        self._interval_s = float(interval_s)
        self._sink = sink
        self._loop_sink = loop_sink if loop_sink is not None else sink
        self._wall_clock = wall_clock
        #: held while the thread runs; released to stop it (a lock's timed acquire is the
        #: thread's whole wait: one call, where an Event's wait makes a lock per call)
        self._running = threading.Lock()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    @property
    def interval_s(self) -> float:
        return self._interval_s

    def start(self) -> None:
        if self._thread is not None:
            return
        self._running = running = threading.Lock()
        running.acquire()
        self._thread = threading.Thread(
            target=self._loop, args=(running,), name="carbonledger-sampler", daemon=True
        )
        self._thread.start()

    def tick(self) -> None:
        """Take one sample now."""
        self._tick(self._sink)

    def _tick(self, sink: EventSink) -> None:
        try:
            sink(self._meter.tick(self._wall_clock()))
        except Exception as exc:  # never let the sampler kill the user's program
            self._meter.record_error(f"sampler: {type(exc).__name__}: {exc}")
        self.ticks += 1

    def _loop(self, running: threading.Lock) -> None:
        stopped, interval_s, sink = running.acquire, self._interval_s, self._loop_sink
        while not stopped(timeout=interval_s):
            self._tick(sink)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (the caller takes the final reading itself)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._running.release()
        thread.join(timeout_s)
