"""Linux powercap RAPL energy counters (Intel, and AMD Zen through the same driver).

The kernel's ``intel_rapl`` driver exposes one *zone* per CPU package
(``intel-rapl:N``, named ``package-N``) with sub-zones for parts of it
(``intel-rapl:N:M`` named ``core``, ``uncore`` or ``dram``), and on some laptops a
``psys`` (platform) zone. Each zone has a cumulative ``energy_uj`` counter that wraps
at ``max_energy_range_uj``.

* ``core`` and ``uncore`` are inside their package: they are listed but never counted,
  so nothing is counted twice.
* ``dram`` is outside the package: it becomes a RAM sensor (measured).
* ``psys`` covers the whole platform (packages and memory included): with
  ``include_psys=True`` it replaces the package and DRAM zones, otherwise it is listed
  as not used.
* ``intel-rapl-mmio:N`` is a second interface to the same package counter on some
  client CPUs; it is used only when the MSR zone of that package is missing.

The root is ``/sys/class/powercap``, or ``$CARBONLEDGER_POWERCAP_ROOT`` (containers:
bind-mount the host's ``/sys/devices/virtual/powercap`` and point the variable at it).

Wraparound: the counter runs from 0 up to ``max_energy_range_uj`` and starts again
from 0, so a read lower than the previous one means one wrap, and the energy in
between is ``new - old + max_energy_range_uj``. We use ``max_energy_range_uj`` itself
as the modulus, as the kernel documents the file ("range of the above energy
counter"); if a CPU's true modulus were one more than that, each wrap would be off by
1 µJ. A second wrap between two reads cannot be seen: read at least once per wrap
period (``max_energy_range_uj`` at full power is minutes to hours; the sampler reads
every few seconds).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from carbonledger.errors import SensorError
from carbonledger.models import Reading, SensorInfo
from carbonledger.sensors.base import Sensor
from carbonledger.units import uj_to_j

if TYPE_CHECKING:
    from carbonledger.models import Component
    from carbonledger.sensors.base import Probe, ProbeContext

__all__ = ["ENV_POWERCAP_ROOT", "RaplSensor", "discover_rapl", "powercap_root", "probe"]

ENV_POWERCAP_ROOT = "CARBONLEDGER_POWERCAP_ROOT"
DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"


def _zone_name(name: str) -> tuple[str, int, int | None] | None:
    """``intel-rapl:0`` -> ("intel-rapl", 0, None), ``intel-rapl:0:1`` -> (.., 0, 1), else None."""
    kind, _, rest = name.partition(":")
    if kind not in ("intel-rapl", "intel-rapl-mmio"):
        return None
    numbers = rest.split(":")
    if not 1 <= len(numbers) <= 2 or not all(n.isascii() and n.isdigit() for n in numbers):
        return None
    return kind, int(numbers[0]), int(numbers[1]) if len(numbers) == 2 else None


#: control-type folders of the /sys/devices/virtual/powercap layout (zones nested inside)
_CONTROL_TYPES = ("intel-rapl", "intel-rapl-mmio")


def powercap_root(env: Mapping[str, str] | None = None) -> str:
    """The powercap folder: ``$CARBONLEDGER_POWERCAP_ROOT`` if set, else ``/sys/class/powercap``."""
    env = os.environ if env is None else env
    value = env.get(ENV_POWERCAP_ROOT, "").strip()
    return value if value else DEFAULT_POWERCAP_ROOT


def _read_int(path: str) -> int:
    with open(path, "rb") as fh:
        return int(fh.read().strip())


class RaplSensor:
    """One powercap zone's ``energy_uj`` counter, unwrapped into joules since construction.

    Raises :class:`SensorError` (naming the file) when the counter cannot be read, at
    construction or on a later :meth:`read`; the original ``OSError`` is its ``__cause__``.
    """

    def __init__(
        self,
        zone_dir: str | os.PathLike[str],
        component: Component,
        device: str,
        clock: Callable[[], float] = time.monotonic,
        *,
        model: str = "",
        reason: str = "",
    ) -> None:
        self._zone_dir = os.fspath(zone_dir)
        self._energy_path = os.path.join(self._zone_dir, "energy_uj")
        self._clock = clock
        self._lock = threading.Lock()
        range_path = os.path.join(self._zone_dir, "max_energy_range_uj")
        try:
            self._range_uj = _read_int(range_path)
        except (OSError, ValueError) as exc:
            raise SensorError(f"cannot read {range_path}: {_why(exc)}") from exc
        if self._range_uj <= 0:
            raise SensorError(f"{range_path} holds {self._range_uj}: not a usable counter range")
        self._last_uj = self._read_counter()
        self._total_uj = 0
        self._last_time_s = self._clock()
        self._last_energy_j = 0.0
        self._first = True
        wrap_j = uj_to_j(self._range_uj)
        self._info = SensorInfo(
            component=component,
            device=device,
            method="rapl",
            measured=True,
            model=model,
            reason=reason or f"RAPL counter {self._energy_path} (wraps every {wrap_j:,.0f} J)",
            host_wide=True,
        )

    @property
    def info(self) -> SensorInfo:
        return self._info

    @property
    def zone_dir(self) -> str:
        return self._zone_dir

    def _read_counter(self) -> int:
        try:
            return _read_int(self._energy_path)
        except (OSError, ValueError) as exc:
            raise SensorError(f"cannot read {self._energy_path}: {_why(exc)}") from exc

    def read(self) -> Reading:
        """Cumulative joules since construction; power is the mean since the previous read."""
        with self._lock:  # file read and clock inside the lock: reads never interleave
            raw_uj = self._read_counter()
            now = self._clock()
            delta_uj = raw_uj - self._last_uj
            if delta_uj < 0:
                delta_uj += self._range_uj
            self._last_uj = raw_uj
            self._total_uj += delta_uj
            energy_j = uj_to_j(self._total_uj)
            power_w: float | None = None
            elapsed_s = now - self._last_time_s
            if not self._first and elapsed_s > 0:
                power_w = (energy_j - self._last_energy_j) / elapsed_s
            self._first = False
            self._last_time_s = now
            self._last_energy_j = energy_j
            return Reading(time_s=now, energy_j=energy_j, power_w=power_w)

    def close(self) -> None:
        """Nothing to release (each read opens and closes the file)."""


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class _Zone:
    kind: str  # "intel-rapl" or "intel-rapl-mmio"
    package: int
    sub: int | None
    path: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.package}" + ("" if self.sub is None else f":{self.sub}")

    @property
    def parent_id(self) -> str:
        return f"{self.kind}:{self.package}"


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _find_zones(root: str) -> list[_Zone]:
    found: dict[str, _Zone] = {}

    def scan(folder: str) -> None:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return
        for name in names:
            parsed = _zone_name(name)
            if parsed is not None and name not in found:
                kind, package, sub = parsed
                found[name] = _Zone(kind, package, sub, os.path.join(folder, name))

    scan(root)  # /sys/class/powercap: every zone as a flat link
    for control in _CONTROL_TYPES:  # /sys/devices/virtual/powercap: zones nested
        if os.path.isdir(os.path.join(root, control)):
            scan(os.path.join(root, control))
    for zone in [z for z in found.values() if z.sub is None]:
        scan(zone.path)  # sub-zones nested inside their package
    return sorted(found.values(), key=lambda z: (z.kind, z.package, -1 if z.sub is None else z.sub))


def _no_rapl(reason: str) -> SensorInfo:
    return SensorInfo(
        component="cpu",
        device="cpu:rapl",
        method="rapl",
        measured=True,
        available=False,
        reason=reason,
        fix=(
            "on bare-metal Linux with an Intel or AMD (Zen) CPU: `sudo modprobe intel_rapl_msr`; "
            f"in a container, bind-mount the host's /sys/devices/virtual/powercap and set "
            f"{ENV_POWERCAP_ROOT} to it; otherwise the CPU is estimated (TDP model on bare "
            "metal, per-vCPU model on a virtual machine, or your cpu_watts)"
        ),
        host_wide=True,
    )


def _unreadable(
    root: str, zone: _Zone, component: Component, device: str, exc: BaseException
) -> SensorInfo:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    fallback = (
        "the CPU falls back to a model meanwhile"
        if component == "cpu"
        else "RAM falls back to the W/GB model meanwhile"
    )
    if isinstance(cause, PermissionError):
        path = getattr(cause, "filename", None) or os.path.join(zone.path, "energy_uj")
        reason = (
            f"permission denied reading {path}: since Linux 5.10 (CVE-2020-8694) RAPL "
            f"energy counters are readable by root only; {fallback}"
        )
        fix = (
            f"sudo chmod a+r {root}/intel-rapl:*/energy_uj (until reboot); to keep it, a udev "
            "rule or systemd-tmpfiles line (see docs/sensors-cpu.md); or run as root"
        )
    else:
        reason = f"{zone.id}: {exc}; {fallback}"
        fix = "check that the powercap zone is complete and readable (see docs/sensors-cpu.md)"
    return SensorInfo(
        component=component,
        device=device,
        method="rapl",
        measured=True,
        available=False,
        reason=reason,
        fix=fix,
        host_wide=True,
    )


def _skipped(component: Component, device: str, reason: str, fix: str = "") -> SensorInfo:
    return SensorInfo(
        component=component,
        device=device,
        method="rapl",
        measured=True,
        available=False,
        reason=reason,
        fix=fix,
        host_wide=True,
    )


def _role(
    zone: _Zone,
    names: Mapping[str, str],
    *,
    include_psys: bool,
    psys_present: bool,
    msr_packages: set[str | None],
) -> tuple[Component, str] | SensorInfo:
    """What a zone is counted as, ``(component, device)``, or why it is not counted."""
    name = names.get(zone.id, "")
    if zone.sub is None:
        device = f"cpu:{name}"
        if name == "psys":
            if include_psys:
                return "cpu", device
            return _skipped(
                "cpu",
                device,
                f"{zone.id} (psys) measures the whole platform, packages included; "
                "not counted to avoid double counting",
                "pass include_psys=True to count the platform zone instead of the packages",
            )
        if not name.startswith("package"):
            return _skipped("cpu", f"cpu:{zone.id}", f"{zone.id}: unknown zone {name!r}")
        if psys_present:
            return _skipped("cpu", device, f"{zone.id} ({name}) is counted in psys")
        if zone.kind == "intel-rapl-mmio" and name in msr_packages:
            return _skipped(
                "cpu",
                f"cpu:{zone.id}",
                f"{zone.id} is the MMIO interface to {name}, already read through its "
                "intel-rapl zone",
            )
        return "cpu", device
    parent = names.get(zone.parent_id, f"package-{zone.package}")
    if name != "dram":
        return _skipped(
            "cpu",
            f"cpu:{parent}-{name}",
            f"{zone.id} ({name}) is part of {parent} and counted there",
        )
    device = f"ram:{parent}-dram"
    if psys_present:
        return _skipped("ram", device, f"{zone.id} ({name}) is counted in psys")
    if zone.kind == "intel-rapl-mmio" and parent in msr_packages:
        return _skipped("ram", f"ram:{zone.id}", f"{zone.id} duplicates {parent}'s dram")
    return "ram", device


def discover_rapl(
    root: str | os.PathLike[str] | None = None,
    *,
    include_psys: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[Sensor], list[SensorInfo]]:
    """Every RAPL zone under ``root``: the working sensors, and the info of every zone found.

    CPU packages become ``cpu:package-N`` sensors, DRAM sub-zones ``ram:package-N-dram``.
    Zones that cannot be read, and zones deliberately not counted (``core``, ``uncore``,
    a duplicate MMIO interface, ``psys`` unless ``include_psys``), are listed with
    ``available=False`` and the reason. Never raises for a missing or unreadable tree.
    """
    root = powercap_root() if root is None else os.fspath(root)
    if not os.path.isdir(root):
        return [], [
            _no_rapl(
                f"no RAPL powercap interface at {root} (not Linux, a VM, or the intel_rapl "
                "driver is not loaded)",
            )
        ]
    zones = _find_zones(root)
    if not zones:
        return [], [
            _no_rapl(
                f"no RAPL zones (intel-rapl:N) in {root} (a VM, or the intel_rapl driver is "
                "not loaded)",
            )
        ]

    names: dict[str, str] = {}
    name_errors: dict[str, str] = {}
    for zone in zones:
        try:
            with open(os.path.join(zone.path, "name"), errors="replace") as fh:
                names[zone.id] = fh.read().strip()
        except OSError as exc:
            name_errors[zone.id] = f"cannot read {os.path.join(zone.path, 'name')}: {_why(exc)}"

    psys_present = include_psys and any(names.get(z.id) == "psys" and z.sub is None for z in zones)
    msr_packages = {names.get(z.id) for z in zones if z.kind == "intel-rapl" and z.sub is None}

    sensors: list[Sensor] = []
    infos: list[SensorInfo] = []
    used_devices: set[str] = set()
    for zone in zones:
        if zone.id in name_errors:
            infos.append(_skipped("cpu", f"cpu:{zone.id}", name_errors[zone.id]))
            continue
        role = _role(
            zone,
            names,
            include_psys=include_psys,
            psys_present=psys_present,
            msr_packages=msr_packages,
        )
        if isinstance(role, SensorInfo):
            infos.append(role)
            continue
        component, device = role
        if device in used_devices:
            device = f"{device}-{zone.id}"
        try:
            sensor = RaplSensor(zone.path, component, device, clock)
        except SensorError as exc:
            infos.append(_unreadable(root, zone, component, device, exc))
            continue
        used_devices.add(device)
        sensors.append(sensor)
        infos.append(sensor.info)
    return sensors, infos


def probe(ctx: ProbeContext) -> Probe:
    """The registry's ``rapl`` entry: the CPU packages' counters (attributed to the process
    tree by its share of busy CPU time in process scope), and in machine scope the DRAM
    domains as measured RAM. A component an earlier entry measures is left to it. Every zone
    is listed as a candidate."""
    from carbonledger.sensors.base import Probe
    from carbonledger.sensors.cpu.model import RaplShareSensor

    opts = ctx.options
    root = opts.powercap_root if opts.powercap_root is not None else powercap_root(ctx.env)
    sensors, infos = discover_rapl(root, include_psys=opts.include_psys, clock=ctx.clock)
    packages = [s for s in sensors if s.info.component == "cpu"]
    drams = [s for s in sensors if s.info.component == "ram"]
    chosen: list[Sensor] = []
    kept: list[Sensor] = []  # the raw counters in use (wrapped or not)
    notes: list[str] = []
    if packages and ctx.covering("cpu") is None:
        kept.extend(packages)
        if ctx.scope == "machine":
            chosen.extend(packages)
            notes.append(f"cpu: RAPL package counters ({len(packages)}), measured")
        else:
            chosen.extend(RaplShareSensor(p, pid=ctx.pid, clock=ctx.clock) for p in packages)
            notes.append(
                "cpu: RAPL package counters attributed to the process tree by its share of "
                "busy CPU time (scope=process)"
            )
    if drams and ctx.scope == "machine" and ctx.covering("ram") is None:
        kept.extend(drams)
        chosen.extend(drams)
        notes.append("ram: RAPL DRAM counters, measured")
    for sensor in sensors:
        if not any(sensor is k for k in kept):
            sensor.close()
    return Probe(tuple(chosen), tuple(infos), tuple(notes))
