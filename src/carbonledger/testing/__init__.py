"""Test doubles for code that uses carbonledger.

Write tests of your own code against fake hardware instead of real counters::

    from carbonledger.testing import FakeClock, FakePowercap
    from carbonledger.sensors.cpu.rapl import discover_rapl

    clock = FakeClock()
    fake = FakePowercap(tmp_path / "powercap")
    fake.add_package(0, dram=True)
    sensors, infos = discover_rapl(fake.root, clock=clock)
    fake.advance(0, 12.5)  # the package used 12.5 J
    clock.advance(0.1)

GPUs: :class:`FakeNvml` stands in for the ``pynvml`` module and :class:`FakeAmdSmi`
for ``amdsmi`` (pass them to ``discover_nvml`` / ``discover_amd``, or to
``carbonledger.discover(nvml=..., amdsmi=...)``). The host's CPU:
:class:`FakeHost` writes a ``/proc/cpuinfo`` and the ``/sys`` files that tell a virtual
machine from bare metal (pass ``cpuinfo=`` and ``sys_root=`` to ``discover``). Apple
silicon: :class:`FakePowermetrics` prints what macOS's ``powermetrics`` prints (pass it as
``discover(hardware={"apple-soc": fake})``). Inference engines: :class:`FakeEngine` serves a
vLLM, TGI or SGLang ``/metrics`` page on a local port, with restarts, missing series and slow
answers on demand (for ``carbonledger.integrations.serving``).

Every sensor takes a ``clock`` and its hardware root (or vendor module), so nothing
here patches carbonledger itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from carbonledger._files import atomic_write
from carbonledger.errors import SensorError
from carbonledger.models import Reading, SensorInfo
from carbonledger.testing._fake_amdsmi import FakeAmdGpu, FakeAmdSmi
from carbonledger.testing._fake_engine import FakeEngine
from carbonledger.testing._fake_host import FakeHost
from carbonledger.testing._fake_nvml import FakeGpu, FakeNvml
from carbonledger.testing._fake_powermetrics import FakePowermetrics

__all__ = [
    "FakeAmdGpu",
    "FakeAmdSmi",
    "FakeClock",
    "FakeEngine",
    "FakeGpu",
    "FakeHost",
    "FakeNvml",
    "FakePowercap",
    "FakePowermetrics",
    "FakeSensor",
]

#: a typical ``max_energy_range_uj`` of an Intel package zone (about 262 kJ)
DEFAULT_MAX_ENERGY_RANGE_UJ = 262_143_328_850


class FakeClock:
    """A monotonic clock that moves only when told to. Call it like ``time.monotonic``."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = start_s
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now_s

    def advance(self, seconds: float) -> float:
        """Move the clock forward; returns the new time."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        with self._lock:
            self._now_s += seconds
            return self._now_s


def _write_atomic(path: Path, value: str) -> None:
    """Replace a fake sysfs file at once, so a concurrent reader never sees it half written
    (not flushed to disk: a fake tree need not survive a crash)."""
    atomic_write(path, value + "\n", durable=False)


class FakePowercap:
    """Write a fake Linux powercap tree (``intel-rapl:N`` zones) under ``root``.

    Zones are nested the way ``/sys/devices/virtual/powercap/intel-rapl`` nests them;
    point :func:`carbonledger.sensors.cpu.rapl.discover_rapl` (or
    ``CARBONLEDGER_POWERCAP_ROOT``) at :attr:`root`. Counters are plain files, wrapped
    at the zone's ``max_energy_range_uj`` exactly as the kernel wraps them.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- layout
    def package_dir(self, index: int) -> Path:
        return self.root / f"intel-rapl:{index}"

    def zone_dir(self, index: int, dram: bool = False) -> Path:
        """The package zone, or its ``dram`` sub-zone."""
        pkg = self.package_dir(index)
        if not dram:
            return pkg
        for sub in sorted(pkg.glob(f"intel-rapl:{index}:*")):
            if (sub / "name").read_text().strip() == "dram":
                return sub
        raise KeyError(f"package {index} has no dram sub-zone; add_package(..., dram=True)")

    @staticmethod
    def _write_zone(folder: Path, name: str, energy_uj: int, max_energy_range_uj: int) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(folder / "name", name)
        _write_atomic(folder / "max_energy_range_uj", str(max_energy_range_uj))
        _write_atomic(folder / "energy_uj", str(energy_uj % max_energy_range_uj))
        return folder

    def add_package(
        self,
        index: int,
        energy_uj: int = 0,
        max_energy_range_uj: int = DEFAULT_MAX_ENERGY_RANGE_UJ,
        dram: bool = False,
        *,
        dram_energy_uj: int = 0,
    ) -> Path:
        """Add zone ``intel-rapl:<index>`` named ``package-<index>`` (and a ``dram`` sub-zone)."""
        folder = self._write_zone(
            self.package_dir(index), f"package-{index}", energy_uj, max_energy_range_uj
        )
        if dram:
            self.add_subzone(index, "dram", dram_energy_uj, max_energy_range_uj)
        return folder

    def add_subzone(
        self,
        index: int,
        name: str,
        energy_uj: int = 0,
        max_energy_range_uj: int = DEFAULT_MAX_ENERGY_RANGE_UJ,
    ) -> Path:
        """Add a sub-zone (``core``, ``uncore``, ``dram``) to package ``index``."""
        pkg = self.package_dir(index)
        sub = len(list(pkg.glob(f"intel-rapl:{index}:*")))
        return self._write_zone(
            pkg / f"intel-rapl:{index}:{sub}", name, energy_uj, max_energy_range_uj
        )

    def add_zone(
        self,
        zone: str,
        name: str,
        energy_uj: int = 0,
        max_energy_range_uj: int = DEFAULT_MAX_ENERGY_RANGE_UJ,
    ) -> Path:
        """Add any top-level zone, e.g. ``add_zone("intel-rapl:1", "psys")``."""
        return self._write_zone(self.root / zone, name, energy_uj, max_energy_range_uj)

    # -- counters
    def energy_uj(self, index: int, dram: bool = False) -> int:
        return int((self.zone_dir(index, dram) / "energy_uj").read_text())

    def max_energy_range_uj(self, index: int, dram: bool = False) -> int:
        return int((self.zone_dir(index, dram) / "max_energy_range_uj").read_text())

    def set_energy(self, index: int, uj: int, dram: bool = False) -> None:
        """Set the raw counter (wrapped into the zone's range)."""
        folder = self.zone_dir(index, dram)
        modulus = self.max_energy_range_uj(index, dram)
        _write_atomic(folder / "energy_uj", str(int(uj) % modulus))

    def advance(self, index: int, joules: float, dram: bool = False) -> int:
        """Add ``joules`` to the counter, wrapping past ``max_energy_range_uj``; returns the raw value.

        Refuses to advance by a whole range or more: a reader could not tell.
        """
        delta_uj = round(joules * 1e6)
        modulus = self.max_energy_range_uj(index, dram)
        if not 0 <= delta_uj < modulus:
            raise ValueError(
                f"advance by {delta_uj} µJ: must be >= 0 and below one counter range ({modulus} µJ)"
            )
        new_uj = (self.energy_uj(index, dram) + delta_uj) % modulus
        self.set_energy(index, new_uj, dram)
        return new_uj


class FakeSensor:
    """A :class:`carbonledger.sensors.base.Sensor` whose power you set, driven by ``clock``.

    ``read()`` integrates the power over the clock (change it with :meth:`set_power`).
    Estimated sensors (``measured=False``) report ``low_j``/``high_j`` the fraction
    ``spread`` below and above. :meth:`fail` makes the next reads raise
    :class:`carbonledger.errors.SensorError`, as a failing counter would.
    """

    def __init__(
        self,
        info: SensorInfo,
        power_w: float,
        clock: Callable[[], float],
        *,
        spread: float = 0.25,
    ) -> None:
        self._info = info
        self._power_w = power_w
        self._clock = clock
        self._time_s = clock()
        self._energy_j = 0.0
        self._spread = spread
        self._error: str | None = None
        self._closed = False
        self._lock = threading.Lock()

    @property
    def info(self) -> SensorInfo:
        return self._info

    @property
    def closed(self) -> bool:
        return self._closed

    def _accumulate(self) -> float:
        now = self._clock()
        self._energy_j += self._power_w * (now - self._time_s)
        self._time_s = now
        return now

    def set_power(self, power_w: float) -> None:
        """From now on draw ``power_w`` (energy so far is kept)."""
        with self._lock:
            self._accumulate()
            self._power_w = power_w

    def fail(self, message: str | None = "fake sensor failure") -> None:
        """Make reads raise ``SensorError(message)``; ``fail(None)`` heals it."""
        with self._lock:
            self._error = message

    def read(self) -> Reading:
        with self._lock:
            if self._error is not None:
                raise SensorError(self._error)
            now = self._accumulate()
            energy_j = self._energy_j
            if self._info.measured:
                return Reading(time_s=now, energy_j=energy_j, power_w=self._power_w)
            return Reading(
                time_s=now,
                energy_j=energy_j,
                power_w=self._power_w,
                low_j=energy_j * (1 - self._spread),
                high_j=energy_j * (1 + self._spread),
            )

    def close(self) -> None:
        self._closed = True
