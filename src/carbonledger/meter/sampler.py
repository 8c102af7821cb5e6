"""The background sampler: reads every sensor at a fixed interval and hands the readings on.

It exists for time series, crash safety (samples reach the ledger as they are taken),
counter wraparound and the integration of power/model sensors — not to integrate what a
counter already integrates. A failure inside it is recorded, never raised into the
training loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from carbonledger.errors import InputError

if TYPE_CHECKING:
    from carbonledger.meter.core import Meter
    from carbonledger.models import Reading

SampleCallback = Callable[[float, dict[str, "Reading"]], None]

__all__ = ["Sampler"]


class Sampler:
    """Call ``on_sample(wall_time_unix_s, readings)`` every ``interval_s`` seconds from a
    daemon thread named "carbonledger-sampler"."""

    def __init__(
        self,
        meter: Meter,
        interval_s: float,
        on_sample: SampleCallback,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not interval_s > 0:
            raise InputError(f"sampling interval must be > 0 seconds, got {interval_s!r}")
        self._meter = meter
        self._interval_s = float(interval_s)
        self._on_sample = on_sample
        self._wall_clock = wall_clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    @property
    def interval_s(self) -> float:
        return self._interval_s

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="carbonledger-sampler", daemon=True)
        self._thread.start()

    def tick(self) -> None:
        """Take one sample now (also used by the loop)."""
        try:
            readings = self._meter.read_all()
            self._on_sample(self._wall_clock(), readings)
        except Exception as exc:  # never let the sampler kill the user's program
            self._meter.record_error(f"sampler: {type(exc).__name__}: {exc}")
        self.ticks += 1

    def _loop(self) -> None:
        wait, interval_s = self._stop.wait, self._interval_s
        while not wait(interval_s):
            self.tick()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (the caller takes the final reading itself)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout_s)
