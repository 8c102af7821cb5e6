"""A job's allocation on a shared node, and host-wide sensors charged by it.

On a node shared by several jobs (SLURM, or any batch system that confines a job to a cgroup),
a job should pay for its share of the host-wide devices (CPU packages, RAM), not the whole
node. :func:`allocation_share` reads the share from the job's cgroup v2 (the CPU set and the
memory limit; SLURM's environment when the cgroup says nothing) and
:class:`AllocatedShareSensor` scales a host-wide sensor by it, saying so in its method.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from carbonledger.errors import InputError
from carbonledger.models import Reading, SensorInfo

if TYPE_CHECKING:
    from carbonledger.sensors.base import Sensor

__all__ = [
    "AllocatedShareSensor",
    "Allocation",
    "allocation_share",
    "apply_allocation",
    "first_set",
    "parse_cpu_list",
    "slurm_int",
]


def first_set(env: Mapping[str, str], *names: str) -> str:
    """The value of the first of ``names`` set (non-empty) in ``env``, else ``""``."""
    for name in names:
        value = env.get(name, "")
        if value:
            return value
    return ""


def slurm_int(env: Mapping[str, str], *names: str) -> int | None:
    """The integer in the first of ``names`` set (non-empty) in ``env``, else None.

    SLURM writes per-node counts as ``4(x2)`` (4 on each of 2 nodes) or ``4,8`` (one per
    node): the first count is this node's. Anything else is an :class:`InputError` naming the
    variable."""
    for name in names:
        value = env.get(name, "")
        if value:
            head = value.split("(")[0].split(",")[0]
            try:
                return int(head)
            except ValueError:
                raise InputError(f"{name} must be an integer, got {value!r}") from None
    return None


def parse_cpu_list(text: str) -> frozenset[int]:
    """A Linux CPU list (``0-3,8,10-11``) as a set of CPU numbers."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise InputError(f"not a CPU list: {text.strip()!r} (expected e.g. 0-3,8)") from None
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


@dataclass(frozen=True)
class Allocation:
    """A job's share of its node, per host-wide component (fractions in [0, 1])."""

    cpu_fraction: float
    ram_fraction: float
    gpu_indexes: tuple[int, ...] | None
    #: how each fraction was found, for the method string and the notes
    how: str


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _cgroup_dir(cgroup_root: str, proc_cgroup: str | None) -> str | None:
    """This process's cgroup v2 folder (``0::/system.slice/slurmstepd.scope/job_42/...``)."""
    if not proc_cgroup:
        return None
    for line in proc_cgroup.splitlines():
        if line.startswith("0::"):
            return os.path.join(cgroup_root, line[3:].lstrip("/"))
    return None


def _walk_up(start: str, stop: str, name: str) -> str | None:
    """The first ``name`` file with a value, from ``start`` up to ``stop``."""
    path = os.path.abspath(start)
    stop = os.path.abspath(stop)
    while path.startswith(stop):
        value = _read(os.path.join(path, name))
        if value and value != "max":
            return value
        if path == stop:
            break
        path = os.path.dirname(path)
    return None


def allocation_share(
    *,
    node_cpus: int,
    node_ram_bytes: int,
    env: Mapping[str, str] | None = None,
    cgroup_root: str = "/sys/fs/cgroup",
    proc_cgroup_path: str = "/proc/self/cgroup",
) -> Allocation | None:
    """The job's share of this node: CPUs from the cgroup's ``cpuset.cpus.effective`` (else
    ``SLURM_CPUS_ON_NODE``) over ``node_cpus``; memory from ``memory.max`` (else
    ``SLURM_MEM_PER_NODE``) over ``node_ram_bytes``; GPUs from ``SLURM_JOB_GPUS``.

    None outside a SLURM job, or when the job holds the whole node (nothing to scale).
    """
    env = os.environ if env is None else env
    if not (env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")):
        return None
    if node_cpus <= 0 or node_ram_bytes <= 0:
        raise InputError("node_cpus and node_ram_bytes must be positive")
    how: list[str] = []
    folder = _cgroup_dir(cgroup_root, _read(proc_cgroup_path))
    cpu_fraction = 1.0
    cpuset = _walk_up(folder, cgroup_root, "cpuset.cpus.effective") if folder else None
    if cpuset:
        cpu_fraction = min(1.0, len(parse_cpu_list(cpuset)) / node_cpus)
        how.append(f"cpu: cgroup cpuset {cpuset}")
    else:
        cpus = slurm_int(env, "SLURM_CPUS_ON_NODE")
        if cpus is not None:
            cpu_fraction = min(1.0, cpus / node_cpus)
            how.append(f"cpu: SLURM_CPUS_ON_NODE={cpus}")
    ram_fraction = 1.0
    limit = _walk_up(folder, cgroup_root, "memory.max") if folder else None
    if limit and limit.isdigit():
        ram_fraction = min(1.0, int(limit) / node_ram_bytes)
        how.append(f"ram: cgroup memory.max {int(limit)} B")
    else:
        mem_mb = slurm_int(env, "SLURM_MEM_PER_NODE")
        if mem_mb is not None:
            ram_fraction = min(1.0, mem_mb * 1024 * 1024 / node_ram_bytes)
            how.append(f"ram: SLURM_MEM_PER_NODE={mem_mb} MB")
    gpus_text = first_set(env, "SLURM_STEP_GPUS", "SLURM_JOB_GPUS")
    gpu_indexes: tuple[int, ...] | None = None
    if gpus_text:
        try:
            gpu_indexes = tuple(int(g) for g in gpus_text.split(",") if g)
        except ValueError:
            raise InputError(f"SLURM_JOB_GPUS must list GPU indexes, got {gpus_text!r}") from None
        how.append(f"gpu: SLURM_JOB_GPUS={gpus_text}")
    if cpu_fraction >= 1.0 and ram_fraction >= 1.0:
        return None
    return Allocation(cpu_fraction, ram_fraction, gpu_indexes, "; ".join(how))


class AllocatedShareSensor:
    """A host-wide sensor charged by the job's share: every energy (and bound, and power) it
    reads is multiplied by ``fraction``; the method says so (``rapl x slurm-allocation 0.25``).
    """

    def __init__(self, sensor: Sensor, fraction: float, how: str) -> None:
        if not 0.0 < fraction <= 1.0:
            raise InputError(f"an allocation share must be in (0, 1], got {fraction!r}")
        self._sensor = sensor
        self.fraction = fraction
        inner = sensor.info
        note = f"charged by the job's allocation: {fraction:.4g} of the node ({how})"
        self._info = replace(
            inner,
            method=f"{inner.method} x allocation {fraction:.4g}",
            reason=f"{inner.reason}; {note}" if inner.reason else note,
        )
        self._lock = threading.Lock()

    @property
    def info(self) -> SensorInfo:
        return self._info

    def read(self) -> Reading:
        r = self._sensor.read()
        f = self.fraction
        return Reading(
            r.time_s,
            r.energy_j * f,
            None if r.power_w is None else r.power_w * f,
            None if r.low_j is None else r.low_j * f,
            None if r.high_j is None else r.high_j * f,
        )

    def close(self) -> None:
        self._sensor.close()


def apply_allocation(
    sensors: Sequence[Sensor], allocation: Allocation | None, notes: list[str]
) -> list[Sensor]:
    """Host-wide CPU and RAM sensors wrapped to charge the job's share (GPUs are not host-wide:
    the job sees only its own, through ``CUDA_VISIBLE_DEVICES``). Unchanged without one."""
    if allocation is None:
        return list(sensors)
    out: list[Sensor] = []
    for sensor in sensors:
        info = sensor.info
        fraction = {"cpu": allocation.cpu_fraction, "ram": allocation.ram_fraction}.get(
            info.component, 1.0
        )
        if info.host_wide and fraction < 1.0:
            out.append(AllocatedShareSensor(sensor, fraction, allocation.how))
        else:
            out.append(sensor)
    notes.append(
        f"shared node: host-wide devices charged by the job's allocation "
        f"(cpu {allocation.cpu_fraction:.4g}, ram {allocation.ram_fraction:.4g}; {allocation.how})"
    )
    return out
