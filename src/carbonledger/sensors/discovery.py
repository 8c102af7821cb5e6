"""Choose the best sensor per component, and explain the choice.

CPU: RAPL package counters (measured) when readable; else the TDP x utilisation model
(estimated). RAM: the RAPL DRAM domain (measured, machine scope) when present; else the
W/GB model (estimated). GPUs: NVML (NVIDIA) and amdsmi (AMD) for the devices visible to
the process. Every candidate, working or not, is listed with its reason (``doctor``).
"""

from __future__ import annotations

import os
import sys
import time

from carbonledger._lite import record
from carbonledger.errors import InputError
from carbonledger.models import SensorInfo
from carbonledger.sensors.base import Sensor, unavailable_gpu_info

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from carbonledger.models import Scope


__all__ = ["Discovery", "discover"]

SCOPES = ("process", "machine")


@record
class Discovery:
    """The sensors chosen for this host, every candidate examined, and why."""

    sensors: tuple[Sensor, ...]
    candidates: tuple[SensorInfo, ...]
    notes: tuple[str, ...]
    cpu_model: str
    sockets: int

    @property
    def chosen(self) -> tuple[SensorInfo, ...]:
        return tuple(s.info for s in self.sensors)


def socket_count(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> int:
    """Number of physical CPU packages (distinct ``physical id``), at least 1."""
    try:
        with open(cpuinfo, errors="replace") as fh:
            text = fh.read()
    except OSError:
        return 1
    ids = {
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("physical id")
    }
    return max(1, len(ids))


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
    driver's device nodes and procfs entry), else None. Checked before the NVML sensor
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


def _amd_possible() -> bool:
    """An AMD GPU could be here: the ROCm kernel driver's device node, or amdsmi installed
    (looked for on ``sys.path``: importlib's finders cost more to import than this check)."""
    if os.path.exists("/dev/kfd"):
        return True
    return any(
        os.path.exists(os.path.join(folder, name))
        for folder in sys.path
        if folder
        for name in ("amdsmi", "amdsmi.py")
    )


def discover(
    *,
    scope: str = "process",
    pid: int | None = None,
    gpu: bool = True,
    env: Mapping[str, str] | None = None,
    powercap_root: str | os.PathLike[str] | None = None,
    include_psys: bool = False,
    nvml: Any | None = None,
    amdsmi: Any | None = None,
    cpu_name: str | None = None,
    sockets: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Discovery:
    """Examine this host and return the sensors to use.

    ``scope="process"`` attributes CPU and RAM to the process tree of ``pid`` (default: this
    process); ``"machine"`` counts the whole host. Hardware roots and vendor modules are
    injectable for tests (``powercap_root``, ``nvml``, ``amdsmi``).
    """
    from carbonledger.sensors.cpu_model import (
        CpuModelSensor,
        RaplShareSensor,
        cpu_model_name,
        lookup_tdp,
    )
    from carbonledger.sensors.memory import RamModelSensor
    from carbonledger.sensors.rapl import discover_rapl
    from carbonledger.sensors.rapl import powercap_root as default_root

    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}; use 'process' or 'machine'")
    env = os.environ if env is None else env
    pid = os.getpid() if pid is None else pid
    scope_: Scope = "machine" if scope == "machine" else "process"
    notes: list[str] = []
    candidates: list[SensorInfo] = []
    chosen: list[Sensor] = []

    root = powercap_root if powercap_root is not None else default_root(env)
    rapl_sensors, rapl_infos = discover_rapl(root, include_psys=include_psys, clock=clock)
    candidates.extend(rapl_infos)
    packages = [s for s in rapl_sensors if s.info.component == "cpu"]
    drams = [s for s in rapl_sensors if s.info.component == "ram"]

    name = cpu_name if cpu_name is not None else cpu_model_name()
    n_sockets = sockets if sockets is not None else socket_count()

    # CPU
    if packages:
        if scope == "machine":
            chosen.extend(packages)
            notes.append(f"cpu: RAPL package counters ({len(packages)}), measured")
        else:
            for pkg in packages:
                chosen.append(RaplShareSensor(pkg, pid=pid, clock=clock))
            notes.append(
                "cpu: RAPL package counters attributed to the process tree by its share of "
                "busy CPU time (scope=process)"
            )
    else:
        match = lookup_tdp(name)
        tdp_w = match.tdp_w * n_sockets
        sensor = CpuModelSensor(
            tdp_w=tdp_w,
            scope=scope_,
            pid=pid,
            clock=clock,
            model=name,
            tdp_source=match.source,
            tdp_low_w=match.low_w * n_sockets,
            tdp_high_w=match.high_w * n_sockets,
            note=match.note,
        )
        chosen.append(sensor)
        candidates.append(sensor.info)
        how = (
            f"matched {match.matched_name!r}"
            if not match.default
            else f"CPU {name!r} not in the TDP table: default used"
        )
        notes.append(
            f"cpu: no readable RAPL counter, so estimated by the TDP model "
            f"({tdp_w:g} W for {n_sockets} socket(s), {how})"
        )

    # RAM
    if drams and scope == "machine":
        chosen.extend(drams)
        notes.append("ram: RAPL DRAM counters, measured")
    else:
        ram = RamModelSensor(scope=scope_, pid=pid, clock=clock)
        chosen.append(ram)
        candidates.append(ram.info)
        why = "scope=process uses resident memory" if drams else "no RAPL DRAM domain"
        notes.append(f"ram: estimated by the W/GB model ({why})")

    # GPUs
    if gpu:
        missing = nvidia_driver_missing() if nvml is None else None
        nv_sensors: list[Sensor] = []
        if missing is not None:
            nv_infos = [missing]
        else:
            from carbonledger.sensors.nvml import discover_nvml

            nv_sensors, nv_infos = discover_nvml(nvml, env=env, clock=clock)
        candidates.extend(nv_infos)
        chosen.extend(nv_sensors)
        if nv_sensors:
            notes.append(f"gpu: {len(nv_sensors)} NVIDIA GPU(s) via NVML")
        amd_sensors: list[Sensor] = []
        if amdsmi is not None or _amd_possible():
            from carbonledger.sensors.amd import discover_amd

            amd_sensors, amd_infos = discover_amd(amdsmi, env=env, clock=clock)
            candidates.extend(amd_infos)
            chosen.extend(amd_sensors)
        if amd_sensors:
            notes.append(f"gpu: {len(amd_sensors)} AMD GPU(s) via amdsmi")
        if not nv_sensors and not amd_sensors:
            notes.append("gpu: none visible to this process")
    else:
        notes.append("gpu: disabled by configuration")

    return Discovery(
        sensors=tuple(chosen),
        candidates=tuple(candidates),
        notes=tuple(notes),
        cpu_model=name,
        sockets=n_sockets,
    )
