"""What the GPU sensors of every vendor share: a reference-counted library lease, and
the two ways to turn a GPU's readings into cumulative energy.

- :class:`CounterSensor`: a hardware energy counter; cumulative energy is the counter's
  difference since construction, and a counter that goes backwards (a driver reload) is
  taken as a restart from zero, so energy never decreases.
- :class:`PowerIntegratingSensor`: no counter; power readings integrated with the
  trapezoid rule between reads.

Vendor modules (``nvidia.py``, ``amd.py``) subclass these and supply the reads, converted
to joules and watts with :mod:`carbonledger.units`; vendor units never reach this module.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from carbonledger.errors import SensorError
from carbonledger.models import Reading, SensorInfo
from carbonledger.sensors.base import unavailable_gpu_info

#: a clock in seconds (``time.monotonic`` or a test's fake clock)
Clock = Callable[[], float]

#: the NVIDIA kernel driver exposes these when it is loaded (also inside GPU containers)
NVIDIA_DRIVER_PATHS: tuple[str, ...] = (
    "/dev/nvidiactl",
    "/proc/driver/nvidia/version",
    "/dev/nvidia0",
)
NVIDIA_DRIVER_FIX = (
    "nothing to do on a machine without an NVIDIA GPU. If it has one: install the "
    "NVIDIA driver so that `nvidia-smi` works; in a container, start it with the GPUs "
    "passed through (e.g. `docker run --gpus all`, NVIDIA Container Toolkit)"
)


def nvidia_driver_missing(
    driver_paths: Sequence[str | os.PathLike[str]] = NVIDIA_DRIVER_PATHS,
) -> SensorInfo | None:
    """Why no NVIDIA GPU can be measured here when none of ``driver_paths`` exists (the
    driver's device nodes and procfs entry), else None. Checked before the NVIDIA sensor
    module, let alone NVML, is loaded: hosts without NVIDIA GPUs pay three ``stat`` calls."""
    if any(os.path.exists(p) for p in driver_paths):
        return None
    return unavailable_gpu_info(
        "nvml",
        "no NVIDIA driver on this host (none of "
        + ", ".join(str(p) for p in driver_paths)
        + " exists): no NVIDIA GPU to measure",
        NVIDIA_DRIVER_FIX,
        device="gpu",
    )


POWER_REASON = (
    "no energy counter: power sampled and integrated (trapezoid); "
    "accuracy depends on the sampling interval"
)


def join_reasons(*parts: str) -> str:
    """Join the non-empty parts of a sensor's reason with '; '."""
    return "; ".join(p for p in parts if p)


def gpu_info(method: str, device: str, model: str, uid: str, reason: str) -> SensorInfo:
    """The description of a working GPU sensor (measured, per device, not host-wide)."""
    return SensorInfo(
        component="gpu",
        device=device,
        method=method,
        measured=True,
        available=True,
        model=model,
        reason=reason,
        host_wide=False,
        uid=uid,
    )


def split_visible_devices(value: str | None) -> list[str] | None:
    """Split a visible-devices variable (``CUDA_VISIBLE_DEVICES``, ``HIP_VISIBLE_DEVICES``...)
    into its stripped entries: None when unset (every GPU), ``[]`` when empty or blank
    (no GPU)."""
    if value is None:
        return None
    if not value.strip():
        return []
    return [token.strip() for token in value.split(",")]


class LibraryLease:
    """One initialisation of a vendor library (``nvmlInit``, ``amdsmi_init``) shared by
    the sensors of one discovery; the last :meth:`release` calls ``shutdown``."""

    def __init__(self, shutdown: Callable[[], object]) -> None:
        self._shutdown = shutdown
        self._refs = 1
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            self._refs += 1

    def release(self) -> None:
        with self._lock:
            self._refs -= 1
            last = self._refs == 0
        if last:
            with contextlib.suppress(Exception):  # closing must never fail a run
                self._shutdown()


class GpuSensor:
    """Identity, lock, lease and ``close()`` of one GPU sensor."""

    def __init__(
        self, handle: Any, info: SensorInfo, *, clock: Clock, lease: LibraryLease | None
    ) -> None:
        self._handle = handle
        self._info = info
        self._clock = clock
        self._lease = lease
        self._lock = threading.Lock()
        self._closed = False

    @property
    def info(self) -> SensorInfo:
        return self._info

    @property
    def handle(self) -> Any:
        """The vendor library's device handle (for callers that want other queries)."""
        return self._handle

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._lease is not None:
            self._lease.release()

    def _check_open(self) -> None:
        if self._closed:
            raise SensorError(f"{self._info.device}: the sensor is closed")

    def _read_power_w(self) -> float:
        """The GPU's power in watts (vendor subclasses); raises SensorError."""
        raise NotImplementedError


class CounterSensor(GpuSensor):
    """Cumulative energy from a hardware counter, robust to counter resets.

    Subclasses implement :meth:`_counter_j` (the raw counter, in joules). ``power_w`` in
    each reading is the GPU's power reading when ``report_power`` and the GPU gives one.
    A reset is seen only when the counter reads lower than at the previous read: what the
    GPU used between that read and the reset is lost. Raises :class:`SensorError` when
    the first counter read fails.
    """

    def __init__(
        self,
        handle: Any,
        info: SensorInfo,
        *,
        clock: Clock,
        lease: LibraryLease | None,
        report_power: bool = True,
    ) -> None:
        super().__init__(handle, info, clock=clock, lease=lease)
        start_j = self._counter_j()
        self._epoch_start_j = start_j  # counter value where the current epoch began
        self._last_j = start_j
        self._before_epoch_j = 0.0  # energy of the epochs before the last reset
        self._resets = 0
        self._report_power = report_power
        if report_power:
            try:
                self._read_power_w()
            except SensorError:
                self._report_power = False

    def _counter_j(self) -> float:
        """The raw energy counter in joules (vendor subclasses); raises SensorError."""
        raise NotImplementedError

    @property
    def resets(self) -> int:
        """How many times the counter went backwards since creation."""
        return self._resets

    def read(self) -> Reading:
        with self._lock:
            self._check_open()
            counter_j = self._counter_j()
            now = self._clock()
            if counter_j < self._last_j:  # the counter restarted (driver reload)
                self._before_epoch_j += self._last_j - self._epoch_start_j
                self._epoch_start_j = 0.0
                self._resets += 1
            self._last_j = counter_j
            energy_j = self._before_epoch_j + (counter_j - self._epoch_start_j)
            power_w: float | None = None
            if self._report_power:
                try:
                    power_w = self._read_power_w()
                except SensorError:
                    power_w = None  # the energy is what matters; power is a bonus
            return Reading(time_s=now, energy_j=energy_j, power_w=power_w)


class PowerIntegratingSensor(GpuSensor):
    """Cumulative energy integrated from power readings (for GPUs without a counter).

    Every ``read()`` samples the power and adds the trapezoid ``(p_prev + p_now) / 2 x dt``,
    so the result is exact while power changes linearly between reads, and otherwise off
    by at most ``|p_now - p_prev| x dt / 2`` per interval: read often (the sampler does).
    A failed read raises :class:`SensorError`; the next good one integrates across the
    gap. Raises :class:`SensorError` when the first power read fails.
    """

    def __init__(
        self, handle: Any, info: SensorInfo, *, clock: Clock, lease: LibraryLease | None
    ) -> None:
        super().__init__(handle, info, clock=clock, lease=lease)
        self._last_power_w = self._read_power_w()
        self._last_time_s = self._clock()
        self._energy_j = 0.0

    def read(self) -> Reading:
        with self._lock:
            self._check_open()
            power_w = self._read_power_w()
            now = self._clock()
            dt = max(0.0, now - self._last_time_s)
            self._energy_j += 0.5 * (self._last_power_w + power_w) * dt
            self._last_power_w = power_w
            self._last_time_s = now
            return Reading(time_s=now, energy_j=self._energy_j, power_w=power_w)
