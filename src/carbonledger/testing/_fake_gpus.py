"""The simulated time and energy that :class:`FakeNvml` and :class:`FakeAmdSmi` share.

Each fake keeps its own time (``clock()``, moved by ``tick`` and ``advance``) or follows
a clock given to it; either way a GPU's counter grows by its power x elapsed time. The
vendor fakes only say how a GPU stores its counter and its power (in their own units).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

GpuT = TypeVar("GpuT")


class SimulatedGpus(Generic[GpuT]):
    """A list of simulated GPUs on a simulated clock; subclasses say how a GPU's counter
    and power are kept (:meth:`_accrue`, :meth:`_add_energy_j`, :meth:`_set_power_w`)."""

    def __init__(
        self,
        gpus: list[GpuT] | None,
        *,
        init_error: int | None,
        start_s: float,
        clock: Callable[[], float] | None,
    ) -> None:
        self.gpus: list[GpuT] = list(gpus or [])
        self.init_error = init_error
        self.now_s = start_s
        self.init_calls = 0
        self.shutdown_calls = 0
        self._lock = threading.RLock()
        self._external_clock = clock
        self._synced_s = self.clock()

    # ---- the vendor's units

    def _accrue(self, gpu: GpuT, elapsed_s: float) -> None:
        """Add ``gpu``'s power x ``elapsed_s`` seconds to its counter."""
        raise NotImplementedError

    def _add_energy_j(self, gpu: GpuT, energy_j: float) -> None:
        """Add ``energy_j`` joules to ``gpu``'s counter at once."""
        raise NotImplementedError

    def _set_power_w(self, gpu: GpuT, power_w: float) -> None:
        """Set ``gpu``'s power draw to ``power_w`` watts."""
        raise NotImplementedError

    # ---- simulation controls (not part of the vendor's module)

    def clock(self) -> float:
        """The simulated time in seconds: pass it as the sensors' ``clock``.

        It is the ``clock`` given to the constructor (e.g. a
        :class:`carbonledger.testing.FakeClock`) when there is one, else the fake's own
        time, moved by :meth:`tick` and :meth:`advance`.
        """
        return self._external_clock() if self._external_clock is not None else self.now_s

    def _sync(self) -> None:
        """Accrue every GPU's power x elapsed time into its counter (lock held)."""
        now = self.clock()
        elapsed = now - self._synced_s
        if elapsed > 0:
            for gpu in self.gpus:
                self._accrue(gpu, elapsed)
            self._synced_s = now

    def tick(self, seconds: float) -> None:
        """Let ``seconds`` pass: every GPU's counter grows by its power x time.

        Only for the fake's own time; with an external clock, advance that clock.
        """
        if seconds < 0:
            raise ValueError("time does not go backwards")
        if self._external_clock is not None:
            raise RuntimeError("this fake follows an external clock: advance that clock")
        with self._lock:
            self._sync()
            self.now_s += seconds
            self._sync()

    def advance(self, index: int, joules: float, seconds: float = 0.0) -> None:
        """GPU ``index`` uses ``joules`` over the next ``seconds``.

        With ``seconds > 0`` its power becomes ``joules / seconds`` and the fake's
        time moves on (the other GPUs keep drawing their own power); with
        ``seconds == 0`` the energy is added at once and time stays.
        """
        if seconds > 0:
            self.set_power(index, joules / seconds)
            self.tick(seconds)
        else:
            with self._lock:
                self._sync()
                self._add_energy_j(self.gpus[index], joules)

    def set_power(self, index: int, watts: float) -> None:
        """Set GPU ``index``'s power draw in watts, from now on."""
        with self._lock:
            self._sync()
            self._set_power_w(self.gpus[index], watts)
