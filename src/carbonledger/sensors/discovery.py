"""Choose the best sensor per component, and explain the choice.

CPU, best first: RAPL package counters (measured) when readable; else, when the user set
the CPU's power (``cpu_watts``), that figure (``user-cpu-watts``); else on a virtual
machine the per-vCPU model (``vcpu-model``: the machine's share of its host's CPU);
else the TDP x utilisation model (``tdp-model``). RAM: the RAPL DRAM domain (measured,
machine scope) when present; else the user's ``ram_watts``; else the W/GB model. GPUs:
NVML (NVIDIA) and amdsmi (AMD) for the devices visible to the process. Every candidate,
working or not, is listed with its reason, and the watts assumed by a model with their
origin (``doctor``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError
from carbonledger.models import SensorInfo
from carbonledger.sensors.base import Sensor
from carbonledger.sensors.gpu.common import NVIDIA_DRIVER_PATHS, nvidia_driver_missing

if TYPE_CHECKING:
    from carbonledger.models import Scope
    from carbonledger.sensors.cpu.host import HostCpu
    from carbonledger.sensors.cpu.model import CpuPowerModel

__all__ = ["NVIDIA_DRIVER_PATHS", "Discovery", "PowerAssumption", "discover"]

SCOPES = ("process", "machine")


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


@dataclass(frozen=True)
class Discovery:
    """The sensors chosen for this host, every candidate examined, and why.

    ``assumptions`` holds the watts each estimating model in use assumes (empty for
    measured components); ``hypervisor`` says why the host looks virtual (``""``: bare
    metal as far as we can tell).
    """

    sensors: tuple[Sensor, ...]
    candidates: tuple[SensorInfo, ...]
    notes: tuple[str, ...]
    cpu_model: str
    sockets: int
    assumptions: tuple[PowerAssumption, ...] = ()
    hypervisor: str = ""

    @property
    def chosen(self) -> tuple[SensorInfo, ...]:
        return tuple(s.info for s in self.sensors)

    def meta(self) -> dict[str, Any]:
        """What a run's metadata keeps: the VM verdict and the watts each model assumes."""
        if not self.hypervisor and not self.assumptions:
            return {}
        return {
            "virtual_machine": self.hypervisor,
            "assumed_power": [a.to_dict() for a in self.assumptions],
        }


def _amd_possible() -> bool:
    """An AMD GPU could be here: the ROCm kernel driver's device node, or amdsmi installed."""
    return os.path.exists("/dev/kfd") or find_spec("amdsmi") is not None


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


def discover(
    *,
    scope: str = "process",
    pid: int | None = None,
    gpu: bool = True,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    cpu_watts: float | None = None,
    ram_watts: float | None = None,
    powercap_root: str | os.PathLike[str] | None = None,
    include_psys: bool = False,
    nvml: Any | None = None,
    amdsmi: Any | None = None,
    cpu_name: str | None = None,
    sockets: int | None = None,
    cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo",
    sys_root: str | os.PathLike[str] = "/sys",
    cpu_count: int | None = None,
    cgroup_root: str = "/sys/fs/cgroup",
    proc_cgroup_path: str = "/proc/self/cgroup",
) -> Discovery:
    """Examine this host and return the sensors to use.

    ``scope="process"`` attributes CPU and RAM to the process tree of ``pid`` (default: this
    process); ``"machine"`` counts the whole host. ``cpu_watts`` is the user's CPU power at
    full load in watts (used instead of a model when no RAPL counter is readable; scaled by
    utilisation, idle at ``IDLE_SHARE`` of it), ``ram_watts`` the user's power of the whole
    installed memory (constant). Hardware roots and vendor modules are injectable for tests
    (``powercap_root``, ``cpuinfo``, ``sys_root``, ``nvml``, ``amdsmi``; ``cpu_count`` the
    logical CPUs, default ``os.cpu_count()``). In a SLURM job on a shared node, host-wide
    CPU and RAM sensors are charged by the job's allocation (its cgroup's CPU set and memory
    limit, read under ``cgroup_root``; see :mod:`carbonledger.sensors.allocation`). Raises :class:`InputError` for a bad scope or
    a non-positive watts figure.
    """
    from carbonledger.sensors.cpu.host import hypervisor_hint, read_host_cpu
    from carbonledger.sensors.cpu.rapl import discover_rapl
    from carbonledger.sensors.cpu.rapl import powercap_root as default_root

    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}; use 'process' or 'machine'")
    cpu_w = _check_watts("cpu_watts", cpu_watts)
    ram_w = _check_watts("ram_watts", ram_watts)
    env = os.environ if env is None else env
    pid = os.getpid() if pid is None else pid
    scope_: Scope = "machine" if scope == "machine" else "process"
    found = _Found()

    root = powercap_root if powercap_root is not None else default_root(env)
    rapl_sensors, rapl_infos = discover_rapl(root, include_psys=include_psys, clock=clock)
    found.candidates.extend(rapl_infos)
    packages = [s for s in rapl_sensors if s.info.component == "cpu"]
    drams = [s for s in rapl_sensors if s.info.component == "ram"]

    host = read_host_cpu(cpuinfo)
    name = cpu_name if cpu_name is not None else host.model_name
    n_sockets = sockets if sockets is not None else host.sockets
    hint = hypervisor_hint(host, sys_root)
    _choose_cpu(
        found,
        packages,
        scope=scope_,
        pid=pid,
        clock=clock,
        cpu_watts=cpu_w,
        name=name,
        sockets=n_sockets,
        host=host,
        hypervisor=hint,
        cpu_count=cpu_count,
    )
    _choose_ram(found, drams, scope=scope_, pid=pid, clock=clock, ram_watts=ram_w)
    if gpu:
        _choose_gpus(found, nvml=nvml, amdsmi=amdsmi, env=env, clock=clock)
    else:
        found.notes.append("gpu: disabled by configuration")
    sensors = _charge_allocation(found, env, cpu_count, cgroup_root, proc_cgroup_path)
    return Discovery(
        sensors=tuple(sensors),
        candidates=tuple(found.candidates),
        notes=tuple(found.notes),
        cpu_model=name,
        sockets=n_sockets,
        assumptions=tuple(found.assumptions),
        hypervisor=hint,
    )


def _charge_allocation(
    found: _Found,
    env: Mapping[str, str],
    cpu_count: int | None,
    cgroup_root: str,
    proc_cgroup_path: str,
) -> list[Sensor]:
    """The chosen sensors, host-wide ones charged by the job's share of a shared node."""
    if not (env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")):
        return list(found.chosen)  # not a SLURM job: the whole node is ours to charge
    from carbonledger.sensors.allocation import allocation_share, apply_allocation
    from carbonledger.sensors.memory import installed_ram_bytes

    allocation = allocation_share(
        node_cpus=cpu_count or os.cpu_count() or 1,
        node_ram_bytes=int(installed_ram_bytes()) or 1,
        env=env,
        cgroup_root=cgroup_root,
        proc_cgroup_path=proc_cgroup_path,
    )
    return apply_allocation(found.chosen, allocation, found.notes)


@dataclass
class _Found:
    """What discovery has gathered so far."""

    chosen: list[Sensor] = field(default_factory=list)
    candidates: list[SensorInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    assumptions: list[PowerAssumption] = field(default_factory=list)


def _choose_cpu(
    found: _Found,
    packages: list[Sensor],
    *,
    scope: Scope,
    pid: int,
    clock: Callable[[], float],
    cpu_watts: float | None,
    name: str,
    sockets: int,
    host: HostCpu,
    hypervisor: str,
    cpu_count: int | None,
) -> None:
    from carbonledger.sensors.cpu.model import CpuModelSensor, RaplShareSensor

    if packages:
        if scope == "machine":
            found.chosen.extend(packages)
            found.notes.append(f"cpu: RAPL package counters ({len(packages)}), measured")
        else:
            found.chosen.extend(RaplShareSensor(p, pid=pid, clock=clock) for p in packages)
            found.notes.append(
                "cpu: RAPL package counters attributed to the process tree by its share of "
                "busy CPU time (scope=process)"
            )
        if cpu_watts is not None:
            found.notes.append("cpu: cpu_watts not used: a RAPL counter measures the CPU")
        return
    vcpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    tdp = _tdp_model(name, sockets)
    if cpu_watts is not None:
        from carbonledger.sensors.cpu.model import user_power_model

        power = user_power_model(cpu_watts)
        why = "no readable RAPL counter, and the user set cpu_watts"
    elif hypervisor:
        power = _vcpu_model(host, vcpus)
        why = f"no readable RAPL counter, and a virtual machine ({hypervisor})"
    else:
        power = tdp
        why = "no readable RAPL counter, and bare metal (no hypervisor seen)"
    sensor = CpuModelSensor(
        power=power, scope=scope, pid=pid, clock=clock, model=name, cpu_count=cpu_count
    )
    found.chosen.append(sensor)
    found.candidates.append(sensor.info)
    if power is not tdp:
        found.candidates.append(_not_used(tdp, name, why))
    found.assumptions.append(
        PowerAssumption(
            component="cpu",
            method=power.method,
            idle_w=power.idle_w,
            max_w=power.max_w,
            low_w=power.low_max_w,
            high_w=power.high_max_w,
            source=power.source,
            basis=power.basis,
        )
    )
    found.notes.append(
        f"cpu: {why}, so estimated by {power.method}: {power.idle_w:.3g}-{power.max_w:.3g} W "
        f"from idle to full load ({power.basis})"
    )


def _tdp_model(name: str, sockets: int) -> CpuPowerModel:
    from carbonledger.sensors.cpu.model import tdp_power_model
    from carbonledger.sensors.cpu.tdp import lookup_tdp

    match = lookup_tdp(name)
    how = (
        f"matched {match.matched_name!r}"
        if not match.default
        else f"CPU {name!r} not in the TDP table: default used"
    )
    basis = f"TDP {match.tdp_w:g} W x {sockets} socket(s), {how}"
    if match.note:
        basis += f"; {match.note}"
    return tdp_power_model(
        match.tdp_w * sockets,
        low_w=match.low_w * sockets,
        high_w=match.high_w * sockets,
        source=match.source,
        basis=basis,
    )


def _vcpu_model(host: HostCpu, vcpus: int) -> CpuPowerModel:
    from carbonledger.sensors.cpu.model import vcpu_power_model
    from carbonledger.sensors.cpu.vcpu import microarchitecture, vcpu_power

    arch, how = microarchitecture(host)
    row = vcpu_power(arch)
    if arch is not None and row.microarchitecture == arch:
        basis = f"microarchitecture {arch}, told by the {how}"
    else:
        basis = (
            "microarchitecture unknown"
            + (f" ({arch} is not in the table)" if arch else "")
            + ": the average of every microarchitecture, with a wide range"
        )
    return vcpu_power_model(vcpus, row, basis=basis)


def _not_used(tdp: CpuPowerModel, name: str, why: str) -> SensorInfo:
    return SensorInfo(
        component="cpu",
        device="cpu:tdp-model",
        method="tdp-model",
        measured=False,
        available=False,
        model=name,
        reason=f"not used ({why}): it would charge {tdp.max_w:g} W at full load ({tdp.basis})",
        fix="on bare metal without RAPL it is the CPU's model; set cpu_watts to use your figure",
        host_wide=True,
    )


def _choose_ram(
    found: _Found,
    drams: list[Sensor],
    *,
    scope: Scope,
    pid: int,
    clock: Callable[[], float],
    ram_watts: float | None,
) -> None:
    from carbonledger.sensors.memory import W_PER_GB, W_PER_GB_HIGH, W_PER_GB_LOW, RamModelSensor

    if drams and scope == "machine":
        found.chosen.extend(drams)
        found.notes.append("ram: RAPL DRAM counters, measured")
        return
    ram = RamModelSensor(scope=scope, pid=pid, clock=clock, ram_watts=ram_watts)
    found.chosen.append(ram)
    found.candidates.append(ram.info)
    installed_gb = ram.installed_gb
    if ram_watts is not None:
        found.assumptions.append(
            PowerAssumption(
                "ram",
                "user-ram-watts",
                ram_watts,
                ram_watts,
                ram_watts,
                ram_watts,
                "set by the user (ram_watts)",
                f"{ram_watts:g} W for {installed_gb:.1f} GB installed, constant",
            )
        )
        found.notes.append(f"ram: {ram_watts:g} W set by the user (ram_watts), constant")
        return
    found.assumptions.append(
        PowerAssumption(
            "ram",
            "ram-model",
            W_PER_GB * installed_gb,
            W_PER_GB * installed_gb,
            W_PER_GB_LOW * installed_gb,
            W_PER_GB_HIGH * installed_gb,
            "Cloud Carbon Footprint memory coefficient (Apache-2.0); range from Teads' AWS data",
            f"{W_PER_GB:g} W/GB x {installed_gb:.1f} GB installed"
            + (" (process scope: x the tree's resident share)" if scope == "process" else ""),
        )
    )
    why = "scope=process uses resident memory" if drams else "no RAPL DRAM domain"
    found.notes.append(f"ram: estimated by the W/GB model ({why})")


def _choose_gpus(
    found: _Found,
    *,
    nvml: Any | None,
    amdsmi: Any | None,
    env: Mapping[str, str],
    clock: Callable[[], float],
) -> None:
    missing = nvidia_driver_missing() if nvml is None else None
    nv_sensors: list[Sensor] = []
    if missing is not None:
        nv_infos = [missing]
    else:
        from carbonledger.sensors.gpu.nvidia import discover_nvml

        nv_sensors, nv_infos = discover_nvml(nvml, env=env, clock=clock)
    found.candidates.extend(nv_infos)
    found.chosen.extend(nv_sensors)
    if nv_sensors:
        found.notes.append(f"gpu: {len(nv_sensors)} NVIDIA GPU(s) via NVML")
    amd_sensors: list[Sensor] = []
    if amdsmi is not None or _amd_possible():
        from carbonledger.sensors.gpu.amd import discover_amd

        amd_sensors, amd_infos = discover_amd(amdsmi, env=env, clock=clock)
        found.candidates.extend(amd_infos)
        found.chosen.extend(amd_sensors)
    if amd_sensors:
        found.notes.append(f"gpu: {len(amd_sensors)} AMD GPU(s) via amdsmi")
    if not nv_sensors and not amd_sensors:
        found.notes.append("gpu: none visible to this process")


def discover_for_run(given: Sequence[Sensor] | None, **options: Any) -> Discovery:
    """The sensors of a run: ``given`` ones as they are (tests, custom hardware), else
    :func:`discover` with ``options``."""
    if given is None:
        return discover(**options)
    return Discovery(
        tuple(given), tuple(s.info for s in given), ("sensors given by the caller",), "", 0
    )
