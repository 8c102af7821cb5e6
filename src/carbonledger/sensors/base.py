"""What every sensor module implements: the Sensor protocol, and the probe contract of
the discovery registry (:mod:`carbonledger.sensors.registry`).

A sensor knows one device. ``read()`` returns *cumulative* energy since the sensor
was created (see :class:`carbonledger.models.Reading`); it is thread-safe because the
sampler thread and window boundaries both call it. A sensor that cannot work here is
never constructed as working: discovery returns its :class:`SensorInfo` with
``available=False``, the reason and the fix.

A vendor module (RAPL, the CPU models, NVIDIA, AMD, a system-on-chip...) has one
``probe(ctx: ProbeContext) -> Probe`` function: given the :class:`DiscoveryOptions` and what
the entries tried before it chose, it returns the sensors it opens, every candidate it
examined (working or not, with the reason), its notes and the watts its models assume. It
never raises for missing hardware.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from carbonledger.errors import InputError
from carbonledger.models import SensorInfo

if TYPE_CHECKING:
    from carbonledger.models import Component, Reading, Scope
    from carbonledger.sensors.cpu.host import HostCpu

__all__ = [
    "DiscoveryOptions",
    "PowerAssumption",
    "Probe",
    "ProbeContext",
    "Sensor",
    "unavailable_gpu_info",
]

StrPath = str | os.PathLike[str]
SCOPES = ("process", "machine")


@runtime_checkable
class Sensor(Protocol):
    """One device's energy source."""

    @property
    def info(self) -> SensorInfo:
        """What this sensor measures and how."""
        ...

    def read(self) -> Reading:
        """Cumulative energy in joules since creation (thread-safe).

        Raises :class:`carbonledger.errors.SensorError` when the hardware read fails.
        """
        ...

    def close(self) -> None:
        """Release handles (NVML, files). Idempotent."""
        ...


def unavailable_gpu_info(
    method: str, reason: str, fix: str, *, device: str, model: str = "", uid: str = ""
) -> SensorInfo:
    """The description of a GPU (or of all GPUs) that cannot be measured, and why."""
    return SensorInfo(
        component="gpu",
        device=device,
        method=method,
        measured=False,
        available=False,
        model=model,
        reason=reason,
        fix=fix,
        host_wide=False,
        uid=uid,
    )


def _check_watts(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    try:
        watts = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number of watts, got {value!r}") from None
    if not (math.isfinite(watts) and watts > 0):
        raise InputError(f"{name} must be a positive, finite number of watts, got {value!r}")
    return watts


@dataclass(frozen=True)
class DiscoveryOptions:
    """What discovery is asked to do, in one record (:func:`carbonledger.discover` builds it
    from its keywords).

    ``scope="process"`` attributes CPU and RAM to the process tree of ``pid`` (default: this
    process); ``"machine"`` counts the whole host. ``gpu=False`` skips every GPU (and a
    system-on-chip's GPU part). ``cpu_watts`` is the user's CPU power at full load in watts
    (used instead of a model when nothing measures the CPU), ``ram_watts`` the user's power
    of the whole installed memory (constant). ``include_psys`` counts RAPL's platform zone
    instead of the packages. ``cpu_name``/``sockets``/``cpu_count`` override what the host
    says of its CPU (``cpu_count``: logical CPUs, default ``os.cpu_count()``).

    Hardware roots, injectable for tests: ``powercap_root`` (default: the
    ``CARBONLEDGER_POWERCAP_ROOT`` variable, else the kernel's), ``cpuinfo``, ``sys_root``,
    ``cgroup_root``/``proc_cgroup_path`` (a SLURM job's allocation). ``hardware`` maps a
    registry entry's name to the hardware edge it should use instead of the real one (a
    vendor module or a fake, e.g. ``{"nvidia": FakeNvml(...), "apple-soc":
    FakePowermetrics(...)}``; see :mod:`carbonledger.testing`). ``env`` is the environment
    (default ``os.environ``), ``clock`` the sensors' monotonic clock in seconds.

    Raises :class:`InputError` for a bad scope or a non-positive watts figure.
    """

    scope: str = "process"
    pid: int | None = None
    gpu: bool = True
    env: Mapping[str, str] | None = None
    clock: Callable[[], float] = time.monotonic
    cpu_watts: float | None = None
    ram_watts: float | None = None
    include_psys: bool = False
    cpu_name: str | None = None
    sockets: int | None = None
    cpu_count: int | None = None
    powercap_root: StrPath | None = None
    cpuinfo: StrPath = "/proc/cpuinfo"
    sys_root: StrPath = "/sys"
    cgroup_root: str = "/sys/fs/cgroup"
    proc_cgroup_path: str = "/proc/self/cgroup"
    hardware: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise InputError(f"unknown scope {self.scope!r}; use 'process' or 'machine'")
        object.__setattr__(self, "cpu_watts", _check_watts("cpu_watts", self.cpu_watts))
        object.__setattr__(self, "ram_watts", _check_watts("ram_watts", self.ram_watts))


@dataclass(frozen=True)
class PowerAssumption:
    """The watts a model assumes for one component, and why (``doctor`` prints it).

    ``idle_w``/``max_w`` are the machine's power at utilisation 0 and 1 (equal for a
    constant figure), ``low_w``/``high_w`` the full-load bounds; ``source`` where the
    figures come from; ``basis`` how they were chosen for this machine.
    """

    component: str
    method: str
    idle_w: float
    max_w: float
    low_w: float
    high_w: float
    source: str
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "method": self.method,
            "idle_w": self.idle_w,
            "max_w": self.max_w,
            "low_w": self.low_w,
            "high_w": self.high_w,
            "source": self.source,
            "basis": self.basis,
        }


class Probe(NamedTuple):
    """What one registry entry found: the sensors it opened (the caller closes them), every
    candidate it examined (the working ones' info too), its notes for ``doctor`` and the run,
    and the watts its models assume."""

    sensors: tuple[Sensor, ...] = ()
    candidates: tuple[SensorInfo, ...] = ()
    notes: tuple[str, ...] = ()
    assumptions: tuple[PowerAssumption, ...] = ()


class ProbeContext:
    """What a probe is given: the options, resolved (``env``, ``pid``, ``scope``), the host's
    CPU as it describes itself, and what the entries before it chose.

    ``host`` is ``/proc/cpuinfo`` read once; ``cpu_name``/``sockets`` the options' override
    or the host's; ``hypervisor`` why the host looks virtual (``""``: bare metal as far as we
    can tell).
    """

    def __init__(
        self,
        options: DiscoveryOptions,
        *,
        host: HostCpu,
        cpu_name: str,
        sockets: int,
        hypervisor: str,
    ) -> None:
        self.options = options
        self.env: Mapping[str, str] = os.environ if options.env is None else options.env
        self.pid = os.getpid() if options.pid is None else options.pid
        self.scope: Scope = "machine" if options.scope == "machine" else "process"
        self.clock = options.clock
        self.host = host
        self.cpu_name = cpu_name
        self.sockets = sockets
        self.hypervisor = hypervisor
        self._chosen: list[Sensor] = []
        self._candidates: list[SensorInfo] = []

    @property
    def chosen(self) -> tuple[Sensor, ...]:
        """The sensors chosen so far, in the registry's order."""
        return tuple(self._chosen)

    @property
    def candidates(self) -> tuple[SensorInfo, ...]:
        """Every candidate examined so far."""
        return tuple(self._candidates)

    def covering(self, component: Component) -> SensorInfo | None:
        """The info of the first sensor chosen so far for ``component``, else None: a CPU
        measured by a system-on-chip's reading is not estimated again."""
        return next((s.info for s in self._chosen if s.info.component == component), None)

    def hardware(self, entry: str) -> Any | None:
        """The hardware edge injected for the registry entry ``entry``, else None."""
        return self.options.hardware.get(entry)

    def add(self, found: Probe) -> None:
        """Take one entry's findings into account (the registry calls it)."""
        self._chosen.extend(found.sensors)
        self._candidates.extend(found.candidates)
