"""The sensor registry: one entry per vendor module, tried in order, and the discovery that
runs it.

Each :class:`Entry` names a module whose ``probe(ctx)`` (see
:class:`carbonledger.sensors.base.ProbeContext`) examines one kind of hardware and returns
what it found; the module is imported only when its entry is tried. Order matters: an entry
sees what the entries before it chose (``ctx.covering("cpu")``), so

1. ``apple-soc``: a system-on-chip reading that covers several parts (CPU, GPU, neural
   engine) comes first, and the CPU is then not estimated again;
2. ``rapl``: the CPU packages' counters (measured; attributed to the process tree in process
   scope), and the DRAM domain in machine scope;
3. ``cpu-model``: when nothing measures the CPU, the user's ``cpu_watts``, else on a virtual
   machine the per-vCPU model, else the TDP x utilisation model;
4. ``ram-model``: when nothing measures the RAM, the user's ``ram_watts``, else the W/GB model;
5. ``nvidia`` (NVML) and ``amd`` (amdsmi): the GPUs visible to the process.

Every candidate, working or not, is listed with its reason, and the watts a model assumes
with their origin (``carbonledger doctor``). In a SLURM job on a shared node, host-wide
sensors are then charged by the job's allocation (:mod:`carbonledger.sensors.allocation`).

Adding a vendor: its module with a ``probe``, one line in :data:`REGISTRY`, and its fake in
:mod:`carbonledger.testing` (docs/architecture.md, "Adding a GPU vendor").
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, cast

from carbonledger.errors import InputError
from carbonledger.models import SensorInfo
from carbonledger.sensors.base import (
    DiscoveryOptions,
    PowerAssumption,
    Probe,
    ProbeContext,
    Sensor,
)

__all__ = [
    "REGISTRY",
    "Discovery",
    "DiscoveryOptions",
    "Entry",
    "PowerAssumption",
    "discover",
    "discover_for_run",
]


@dataclass(frozen=True)
class Entry:
    """One source of sensors: ``name`` (what ``hardware=`` and notes call it), ``module``
    (where its ``probe`` lives) and ``kind``, what it reads (``"cpu"``, ``"ram"``, ``"gpu"``,
    ``"soc"``; entries of kind ``"gpu"`` are skipped when GPUs are disabled)."""

    name: str
    module: str
    kind: str

    def probe(self, ctx: ProbeContext) -> Probe:
        """Import the entry's module and run its ``probe``."""
        probe = cast(Callable[[ProbeContext], Probe], importlib.import_module(self.module).probe)
        return probe(ctx)


#: every source of sensors, in the order they are tried
REGISTRY: tuple[Entry, ...] = (
    Entry("apple-soc", "carbonledger.sensors.soc.apple", "soc"),
    Entry("rapl", "carbonledger.sensors.cpu.rapl", "cpu"),
    Entry("cpu-model", "carbonledger.sensors.cpu.model", "cpu"),
    Entry("ram-model", "carbonledger.sensors.memory", "ram"),
    Entry("nvidia", "carbonledger.sensors.gpu.nvidia", "gpu"),
    Entry("amd", "carbonledger.sensors.gpu.amd", "gpu"),
)

#: discover()'s keywords that name a vendor module, and the entry they are injected into
_LEGACY_HARDWARE = {"nvml": "nvidia", "amdsmi": "amd"}
_OPTION_NAMES = frozenset(f.name for f in fields(DiscoveryOptions))


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


def _options(options: DiscoveryOptions | None, keywords: dict[str, Any]) -> DiscoveryOptions:
    """``options`` with ``keywords`` applied (the legacy ``nvml=``/``amdsmi=`` go to
    ``hardware``). A keyword that names nothing is a TypeError, as for any function."""
    unknown = sorted(set(keywords) - _OPTION_NAMES - set(_LEGACY_HARDWARE))
    if unknown:
        raise TypeError(
            f"discover() got unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_OPTION_NAMES | set(_LEGACY_HARDWARE)))}"
        )
    base = options if options is not None else DiscoveryOptions()
    legacy = {e: keywords.pop(k) for k, e in _LEGACY_HARDWARE.items() if k in keywords}
    injected = {e: v for e, v in legacy.items() if v is not None}
    if injected:
        keywords["hardware"] = {**keywords.get("hardware", base.hardware), **injected}
    return replace(base, **keywords) if keywords else base


def discover(options: DiscoveryOptions | None = None, /, **keywords: Any) -> Discovery:
    """Examine this host and return the sensors to use.

    ``options`` is a :class:`DiscoveryOptions`; keywords set (or override) its fields one by
    one: ``discover(scope="machine", gpu=False)``. ``nvml=``/``amdsmi=`` inject the NVIDIA
    and AMD vendor modules (the same as ``hardware={"nvidia": ..., "amd": ...}``). Every
    :data:`REGISTRY` entry is tried in order; see the module's docstring for the choices.

    Raises :class:`InputError` for a bad scope, a non-positive watts figure, or ``hardware``
    for an entry that does not exist.
    """
    from carbonledger.sensors.cpu.host import hypervisor_hint, read_host_cpu

    opts = _options(options, dict(keywords))
    names = {e.name for e in REGISTRY}
    stray = sorted(set(opts.hardware) - names)
    if stray:
        raise InputError(
            f"hardware given for unknown registry entries {stray}; entries: {sorted(names)}"
        )
    host = read_host_cpu(opts.cpuinfo)
    ctx = ProbeContext(
        opts,
        host=host,
        cpu_name=opts.cpu_name if opts.cpu_name is not None else host.model_name,
        sockets=opts.sockets if opts.sockets is not None else host.sockets,
        hypervisor=hypervisor_hint(host, opts.sys_root),
    )
    notes: list[str] = []
    assumptions: list[PowerAssumption] = []
    for entry in REGISTRY:
        if entry.kind == "gpu" and not opts.gpu:
            continue
        try:
            found = entry.probe(ctx)
        except InputError:
            raise
        except Exception as exc:  # one vendor's failure never stops discovery or the run
            notes.append(f"{entry.name}: probing failed ({type(exc).__name__}: {exc}); not used")
            continue
        ctx.add(found)
        notes.extend(found.notes)
        assumptions.extend(found.assumptions)
    if not opts.gpu:
        notes.append("gpu: disabled by configuration")
    elif ctx.covering("gpu") is None:
        notes.append("gpu: none visible to this process")
    sensors = _charge_allocation(ctx, notes)
    return Discovery(
        sensors=tuple(sensors),
        candidates=ctx.candidates,
        notes=tuple(notes),
        cpu_model=ctx.cpu_name,
        sockets=ctx.sockets,
        assumptions=tuple(assumptions),
        hypervisor=ctx.hypervisor,
    )


def _charge_allocation(ctx: ProbeContext, notes: list[str]) -> list[Sensor]:
    """The chosen sensors, host-wide ones charged by the job's share of a shared node."""
    env = ctx.env
    if not (env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")):
        return list(ctx.chosen)  # not a SLURM job: the whole node is ours to charge
    from carbonledger.sensors.allocation import allocation_share, apply_allocation
    from carbonledger.sensors.memory import installed_ram_bytes

    opts = ctx.options
    allocation = allocation_share(
        node_cpus=opts.cpu_count or os.cpu_count() or 1,
        node_ram_bytes=int(installed_ram_bytes()) or 1,
        env=env,
        cgroup_root=opts.cgroup_root,
        proc_cgroup_path=opts.proc_cgroup_path,
    )
    return apply_allocation(list(ctx.chosen), allocation, notes)


def discover_for_run(
    given: Sequence[Sensor] | None, options: DiscoveryOptions | None = None, /, **keywords: Any
) -> Discovery:
    """The sensors of a run: ``given`` ones as they are (tests, custom hardware), else
    :func:`discover` with ``options`` and ``keywords``."""
    if given is None:
        return discover(options, **keywords)
    return Discovery(
        tuple(given), tuple(s.info for s in given), ("sensors given by the caller",), "", 0
    )
