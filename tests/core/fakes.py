"""Hardware-edge fakes for tracker tests (sensors whose counters we drive)."""

from __future__ import annotations

import threading

from carbonledger.models import Component, Reading, SensorInfo


class StepSensor:
    """A counter that reads 0 J at its first read and ``energy_j`` at every later read.

    Whatever the timing, a device counted once contributes exactly ``energy_j``.
    """

    def __init__(
        self,
        component: Component,
        device: str,
        energy_j: float,
        *,
        host_wide: bool = False,
        uid: str = "",
        measured: bool = True,
    ) -> None:
        self._info = SensorInfo(
            component=component,
            device=device,
            method="fake-counter" if measured else "fake-model",
            measured=measured,
            host_wide=host_wide,
            uid=uid,
        )
        self.energy_j = energy_j
        self._reads = 0
        self._lock = threading.Lock()
        self.closed = False

    @property
    def info(self) -> SensorInfo:
        return self._info

    def read(self) -> Reading:
        with self._lock:
            self._reads += 1
            e = 0.0 if self._reads == 1 else self.energy_j
        if self._info.measured:
            return Reading(time_s=0.0, energy_j=e)
        return Reading(time_s=0.0, energy_j=e, low_j=0.8 * e, high_j=1.2 * e)

    def close(self) -> None:
        self.closed = True
