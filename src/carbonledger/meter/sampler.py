"""The background sampler: reads every sensor at a fixed interval and hands the readings on.

It exists for time series, crash safety (samples reach the ledger as they are taken),
counter wraparound and the integration of power/model sensors — not to integrate what a
counter already integrates. A failure inside it is recorded, never raised into the
training loop.
"""

from __future__ import annotations

import _thread
import time

from carbonledger.errors import InputError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from collections.abc import Callable

    from carbonledger.meter.core import Meter
    from carbonledger.models import Reading

    SampleCallback = Callable[[float, dict[str, Reading]], None]

__all__ = ["Sampler"]


class Sampler:
    """Call ``on_sample(wall_time_unix_s, readings)`` every ``interval_s`` seconds in a daemon thread."""

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
        # per run: ``stop`` is held while the thread runs, which waits on it one interval at a
        # time (one C call) until stop() releases it; ``done`` is released by the thread as it
        # ends. _thread, not threading: importing threading (and functools) costs more than
        # a whole sampler tick.
        self._locks: tuple[_thread.LockType, _thread.LockType] | None = None
        self.ticks = 0

    @property
    def interval_s(self) -> float:
        return self._interval_s

    def start(self) -> None:
        if self._locks is not None:
            return
        stop, done = _thread.allocate_lock(), _thread.allocate_lock()
        stop.acquire()
        done.acquire()
        self._locks = (stop, done)
        _thread.start_new_thread(self._loop, (stop, done))

    def tick(self) -> None:
        """Take one sample now (also used by the loop)."""
        try:
            readings = self._meter.read_all()
            self._on_sample(self._wall_clock(), readings)
        except Exception as exc:  # never let the sampler kill the user's program
            self._meter.record_error(f"sampler: {type(exc).__name__}: {exc}")
        self.ticks += 1

    def _loop(self, stop: _thread.LockType, done: _thread.LockType) -> None:
        from carbonledger.sensors._proc import end_quiet_thread, quiet_thread

        tid = quiet_thread()  # this thread starts no process: its children need no reading
        try:
            wait, interval_s = stop.acquire, self._interval_s
            while not wait(True, interval_s):
                self.tick()
        finally:
            end_quiet_thread(tid)
            done.release()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (the caller takes the final reading itself)."""
        locks, self._locks = self._locks, None
        if locks is None:
            return
        stop, done = locks
        stop.release()
        done.acquire(True, timeout_s)
