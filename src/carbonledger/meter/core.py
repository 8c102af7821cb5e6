"""Windows over sensors: energy of a window = cumulative reading at its end minus at its begin.

Because every sensor returns cumulative energy (counters unwrapped, power and models
integrated), a 10 ms window is as exact as the counter allows. Windows are named and may
nest (``epoch-1`` containing ``step-3``) or overlap; each is keyed by its name.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from carbonledger.errors import InputError, SensorError, StateError
from carbonledger.events import SamplesAdded
from carbonledger.models import ComponentEnergy, Reading, Sample, SensorInfo, WindowSummary

if TYPE_CHECKING:
    from types import TracebackType

    from carbonledger.sensors import Sensor

__all__ = ["Meter", "WindowBlock"]

_MAX_ERROR_KINDS = 50


@dataclass(frozen=True)
class _Open:
    name: str
    path: str
    begin: dict[str, Reading]
    time_s: float
    wall_s: float


class Meter:
    """Read a fixed set of sensors: windows, and the sample stream since :meth:`start`.

    The meter is the one place where energy over an interval is computed: a window's energy
    (:meth:`end_window`), the energy since the start (:meth:`since_start`) and each sample's
    cumulative energy per device (:meth:`sample`) are all differences of the same cumulative
    readings. It also keeps the energy drawn in each clock hour, for hourly intensities.

    ``clock`` is monotonic seconds (for durations), ``wall_clock`` Unix seconds (for records).
    A sensor that fails to read keeps its last good reading and the failure is recorded in
    :attr:`errors`; it never raises into the caller's code.
    """

    def __init__(
        self,
        sensors: Sequence[Sensor],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        host: str = "",
    ) -> None:
        devices = [s.info.device for s in sensors]
        if len(set(devices)) != len(devices):
            raise InputError(f"two sensors report the same device name: {devices}")
        self._sensors = list(sensors)
        #: (device, sensor) pairs: a sensor's device never changes, its info may
        self._by_device = tuple(zip(devices, self._sensors, strict=True))
        #: (device, component) pairs, for the samples (a sensor's component never changes)
        self._components = tuple((s.info.device, s.info.component) for s in self._sensors)
        self._clock = clock
        self._wall_clock = wall_clock
        self._host = host
        self._lock = threading.RLock()
        self._last: dict[str, Reading] = {}
        self._errors: dict[str, int] = {}
        self._open: dict[str, _Open] = {}
        self._base: dict[str, Reading] = {}
        self._last_tick: dict[str, Reading] = {}
        self._hour_energy_j: dict[int, float] = {}
        self._started_s = 0.0
        self._started_unix_s = 0.0

    # --- the sample stream ------------------------------------------------------------------

    def start(self) -> dict[str, Reading]:
        """Take the base readings every energy "since start" is counted from; returns them."""
        self._base = self.read_all()
        self._last_tick = dict(self._base)
        self._hour_energy_j = {}
        self._started_s = self._clock()
        self._started_unix_s = self._wall_clock()
        return self._base

    @property
    def started_unix_s(self) -> float:
        """When :meth:`start` was called (Unix seconds)."""
        return self._started_unix_s

    @property
    def elapsed_s(self) -> float:
        """Seconds since :meth:`start` (monotonic clock)."""
        return max(0.0, self._clock() - self._started_s)

    @property
    def last_tick(self) -> dict[str, Reading]:
        """The readings of the latest :meth:`sample` (the base before the first)."""
        return self._last_tick

    @property
    def hour_energy_j(self) -> dict[int, float]:
        """Energy drawn in each clock hour (key: the hour's start, Unix seconds), in joules."""
        return dict(self._hour_energy_j)

    def sample(self, wall_s: float, readings: dict[str, Reading]) -> list[Sample]:
        """The samples of one tick: each device's cumulative energy since :meth:`start` (with
        an estimate's bounds), and the tick's energy added to its hour."""
        base_all, prev_all = self._base, self._last_tick
        samples: list[Sample] = []
        step_total_j = 0.0
        for device, component in self._components:
            reading = readings.get(device)
            base = base_all.get(device)
            if reading is None or base is None:
                continue
            step_j = reading.energy_j - prev_all.get(device, base).energy_j
            if step_j > 0.0:
                step_total_j += step_j
            # an estimate's cumulative bounds since the start (None: the sensor gives none)
            low, high = reading.low_j, reading.high_j
            if low is not None:
                low = None if base.low_j is None else max(0.0, low - base.low_j)
            if high is not None:
                high = None if base.high_j is None else max(0.0, high - base.high_j)
            samples.append(
                Sample(
                    wall_s,
                    component,
                    device,
                    max(0.0, reading.energy_j - base.energy_j),
                    reading.power_w,
                    self._host,
                    low,
                    high,
                )
            )
        self._last_tick = readings
        hour = int(wall_s // 3600) * 3600
        self._hour_energy_j[hour] = self._hour_energy_j.get(hour, 0.0) + step_total_j
        return samples

    def tick(self, wall_s: float | None = None) -> list[SamplesAdded]:
        """Read every sensor now: the tick's events (its samples; none when no sensor gave a
        reading). What the sampler calls every interval and hands to the recorder."""
        readings = self.read_all()
        samples = self.sample(self._wall_clock() if wall_s is None else wall_s, readings)
        return [SamplesAdded(tuple(samples))] if samples else []

    def since_start(
        self, end: dict[str, Reading] | None = None, duration_s: float | None = None
    ) -> tuple[ComponentEnergy, ...]:
        """Energy per device from :meth:`start` to ``end`` (default: a reading now)."""
        end = self.read_all() if end is None else end
        return self.difference(
            self._base, end, self.elapsed_s if duration_s is None else duration_s
        )

    @property
    def sensors(self) -> tuple[Sensor, ...]:
        return tuple(self._sensors)

    @property
    def infos(self) -> tuple[SensorInfo, ...]:
        return tuple(s.info for s in self._sensors)

    @property
    def errors(self) -> tuple[str, ...]:
        """Distinct failures so far, each with how often it happened."""
        with self._lock:
            return tuple(msg if n == 1 else f"{msg} (x{n})" for msg, n in self._errors.items())

    def record_error(self, message: str) -> None:
        """Remember a failure (deduplicated; bounded in size)."""
        with self._lock:
            if message in self._errors:
                self._errors[message] += 1
            elif len(self._errors) < _MAX_ERROR_KINDS:
                self._errors[message] = 1

    def read_all(self) -> dict[str, Reading]:
        """Read every sensor now; a failed read falls back to that sensor's last good reading
        (or zero energy at this instant if it never read) and is recorded."""
        out: dict[str, Reading] = {}
        with self._lock:
            for device, sensor in self._by_device:
                try:
                    reading = sensor.read()
                    if not _finite(reading):
                        raise SensorError(f"a non-finite reading ({reading.energy_j!r} J)")
                except (SensorError, OSError, RuntimeError, ValueError) as exc:
                    self.record_error(f"{device}: read failed: {exc}")
                    reading = self._last.get(device) or Reading(time_s=self._clock(), energy_j=0.0)
                else:
                    self._last[device] = reading
                out[device] = reading
        return out

    def begin_window(self, name: str) -> None:
        """Start the window ``name``; its path nests it under the windows open now."""
        _check_window_name(name)
        with self._lock:
            self._begin(name, self.read_all(), self._clock())

    def end_window(self, name: str) -> WindowSummary:
        """End the window ``name`` and return its energy per device."""
        with self._lock:
            opened = self._pop(name)
            end = self.read_all()
            now = self._clock()
        return self._summary(opened, end, now)

    def next_window(self, name: str, next_name: str) -> WindowSummary:
        """End the window ``name`` and begin ``next_name`` at the same reading, so that no
        energy falls between the two (consecutive intervals); returns the ended window."""
        _check_window_name(next_name)
        with self._lock:
            opened = self._pop(name)
            if next_name in self._open:
                self._open[name] = opened
                raise StateError(
                    f"window {next_name!r} is already open; end it before beginning it again"
                )
            reading = self.read_all()
            now = self._clock()
            self._begin(next_name, reading, now)
        return self._summary(opened, reading, now)

    def _begin(self, name: str, begin: dict[str, Reading], time_s: float) -> None:
        if name in self._open:
            raise StateError(f"window {name!r} is already open; end it before beginning it again")
        path = "/".join([*self._open, name])
        self._open[name] = _Open(name, path, begin, time_s, self._wall_clock())

    def _pop(self, name: str) -> _Open:
        opened = self._open.pop(name, None)
        if opened is None:
            open_now = ", ".join(self._open) or "none"
            raise StateError(
                f"window {name!r} was never begun (open windows: {open_now}); "
                "call begin_window first or use `with tracker.window(name):`"
            )
        return opened

    def _summary(self, opened: _Open, end: dict[str, Reading], now_s: float) -> WindowSummary:
        duration_s = max(0.0, now_s - opened.time_s)
        return WindowSummary(
            name=opened.name,
            path=opened.path,
            started_unix_s=opened.wall_s,
            duration_s=duration_s,
            components=self.difference(opened.begin, end, duration_s),
        )

    def window(self, name: str) -> WindowBlock:
        """``with meter.window("epoch-1"): ...``"""
        return WindowBlock(lambda: self.begin_window(name), lambda: self.end_window(name))

    @property
    def open_windows(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._open)

    def difference(
        self, begin: dict[str, Reading], end: dict[str, Reading], duration_s: float
    ) -> tuple[ComponentEnergy, ...]:
        """Per-device energy between two ``read_all`` results."""
        out: list[ComponentEnergy] = []
        for sensor in self._sensors:
            info = sensor.info
            b = begin.get(info.device)
            e = end.get(info.device)
            if b is None or e is None:
                continue
            energy_j = max(0.0, e.energy_j - b.energy_j)
            low_j = high_j = None
            if not info.measured:
                low_j = _bound(b.low_j, e.low_j, energy_j)
                high_j = _bound(b.high_j, e.high_j, energy_j)
            out.append(
                ComponentEnergy(
                    component=info.component,
                    device=info.device,
                    method=info.method,
                    measured=info.measured,
                    energy_j=energy_j,
                    duration_s=duration_s,
                    low_j=low_j,
                    high_j=high_j,
                    model=info.model,
                    host=self._host,
                )
            )
        return tuple(out)

    def close(self) -> None:
        for sensor in self._sensors:
            try:
                sensor.close()
            except Exception as exc:  # closing must never raise into user code
                self.record_error(f"{sensor.info.device}: close failed: {exc}")


def _check_window_name(name: str) -> None:
    if not name or "/" in name:
        raise InputError(f"window name must be non-empty and contain no '/': {name!r}")


def _finite(r: Reading) -> bool:
    """Whether every number of a reading is finite (nothing non-finite is recorded)."""
    return (
        math.isfinite(r.energy_j)
        and (r.power_w is None or math.isfinite(r.power_w))
        and (r.low_j is None or math.isfinite(r.low_j))
        and (r.high_j is None or math.isfinite(r.high_j))
    )


def _bound(begin: float | None, end: float | None, central: float) -> float:
    if begin is None or end is None:
        return central
    return max(0.0, end - begin)


class WindowBlock:
    """A ``with`` block that calls ``begin()`` on entry and ``end()`` on exit, also when the
    block raises (what :meth:`Meter.window` and ``Tracker.window`` return)."""

    __slots__ = ("_begin", "_end")

    def __init__(self, begin: Callable[[], object], end: Callable[[], object]) -> None:
        self._begin = begin
        self._end = end

    def __enter__(self) -> None:
        self._begin()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._end()
