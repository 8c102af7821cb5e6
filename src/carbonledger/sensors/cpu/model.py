"""CPU energy without a counter: a power line of utilisation (estimated), and a measured
package counter attributed to a process tree.

The machine's CPU power at utilisation ``u`` (0..1: busy CPU time over elapsed time x
logical CPUs) is a line, with a low and a high line around it::

    P(u) = P_idle + (P_max - P_idle) x u

Three models give the line (:class:`CpuPowerModel`, made in :mod:`.power`):

* ``tdp-model`` (bare metal): ``P_max`` = the sockets' TDP, ``P_idle = IDLE_SHARE x TDP``;
  ``IDLE_SHARE`` and its range come from Cloud Carbon Footprint's per-vCPU minimum and
  maximum watts by microarchitecture; the TDP range from the spread between rated TDP and
  real package power (see ``docs/sensors-cpu.md``).
* ``vcpu-model`` (virtual machines): ``P_idle = vCPUs x min W``, ``P_max = vCPUs x max W``
  per vCPU of the CPU's microarchitecture (:mod:`carbonledger.sensors.cpu.vcpu`): the
  machine's share of its host, not the host's whole socket.
* ``user-cpu-watts``: the user's figure plays the TDP's role (as CodeCarbon's
  ``force_cpu_power`` does): ``P_max`` = the figure, ``P_idle = IDLE_SHARE x`` the figure.

Because the line is linear in ``u``, integrating it with the mean utilisation of each
interval between two reads is exact. Process scope attributes the machine's CPU energy by
the process tree's share of the machine's busy CPU time in each interval, the same rule
:class:`RaplShareSensor` applies to a measured package counter, so a process's figure does
not depend on whether RAPL happens to be readable.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from carbonledger.errors import InputError
from carbonledger.models import Reading, SensorInfo
from carbonledger.sensors.base import Sensor
from carbonledger.sensors.cpu.power import (
    IDLE_SHARE,
    IDLE_SHARE_HIGH,
    IDLE_SHARE_LOW,
    CpuPowerModel,
    tdp_power_model,
    user_power_model,
    vcpu_power_model,
)

if TYPE_CHECKING:
    from carbonledger.models import Scope
    from carbonledger.sensors.base import Probe, ProbeContext
    from carbonledger.sensors.cpu.host import HostCpu

__all__ = [
    "IDLE_SHARE",
    "IDLE_SHARE_HIGH",
    "IDLE_SHARE_LOW",
    "CpuModelSensor",
    "CpuPowerModel",
    "RaplShareSensor",
    "probe",
    "tdp_power_model",
    "user_power_model",
    "vcpu_power_model",
]

# --------------------------------------------------------------------------- CPU time


class _CpuTimes:
    """Deltas of machine busy CPU time (and a process tree's) between steps."""

    def __init__(
        self,
        cpu_times: Callable[[], float] | None,
        process_cpu_times: Callable[[], float] | None,
        pid: int | None,
        with_process: bool,
    ) -> None:
        from carbonledger.sensors import _linux

        self.machine = cpu_times if cpu_times is not None else _linux.machine_busy_cpu_s
        self.process: Callable[[], float] | None = None
        if with_process:
            self.process = (
                process_cpu_times
                if process_cpu_times is not None
                else _linux.ProcessTreeCpu(os.getpid() if pid is None else pid)
            )
        self._last_machine = self.machine()
        self._last_process = self.process() if self.process is not None else 0.0

    def step(self) -> tuple[float, float]:
        """(machine busy CPU s, process tree CPU s) since the previous step, never negative."""
        machine = self.machine()
        process = self.process() if self.process is not None else 0.0
        d_machine = max(0.0, machine - self._last_machine)
        d_process = max(0.0, process - self._last_process)
        self._last_machine, self._last_process = machine, process
        return d_machine, d_process


def _share(d_process_s: float, d_machine_s: float) -> float:
    """The tree's share of the machine's busy CPU time (0 when the machine was idle)."""
    if d_machine_s <= 0:
        return 0.0
    return min(1.0, d_process_s / d_machine_s)


def _cpu_count(cpu_count: int | None) -> int:
    if cpu_count is None:
        from carbonledger.sensors._linux import logical_cpu_count

        return logical_cpu_count()
    if cpu_count < 1:
        raise InputError(f"cpu_count must be at least 1, got {cpu_count}")
    return cpu_count


class CpuModelSensor:
    """CPU energy estimated from a power line of utilisation (:class:`CpuPowerModel`).

    ``scope="machine"``: the whole machine's CPUs, ``P(u) x dt`` per interval.
    ``scope="process"``: that energy x the share of the machine's busy CPU time that
    the process tree of ``pid`` (default: this process) used in the interval.
    ``power`` is the model (``method`` of the sensor is the model's); without it, a TDP
    model is made from ``tdp_w`` (all packages together), ``tdp_low_w``/``tdp_high_w`` and
    ``tdp_source``. ``cpu_times`` returns the machine's busy CPU seconds,
    ``process_cpu_times`` the tree's, both cumulative; by default they come from procfs.
    """

    def __init__(
        self,
        *,
        scope: Scope,
        power: CpuPowerModel | None = None,
        tdp_w: float | None = None,
        pid: int | None = None,
        cpu_count: int | None = None,
        cpu_times: Callable[[], float] | None = None,
        process_cpu_times: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        model: str = "",
        tdp_source: str = "",
        tdp_low_w: float | None = None,
        tdp_high_w: float | None = None,
        note: str = "",
        device: str = "cpu",
    ) -> None:
        if power is None:
            if tdp_w is None:
                raise InputError("CpuModelSensor needs a power model or tdp_w")
            power = tdp_power_model(tdp_w, low_w=tdp_low_w, high_w=tdp_high_w, source=tdp_source)
        if scope not in ("process", "machine"):
            raise InputError(f"unknown scope {scope!r}; use 'process' or 'machine'")
        self._scope = scope
        self._power = power
        #: P(u) = P_idle + span x u, as (P_idle, span) in W, for the central, low and high
        #: line: made once, so that a sampler tick only multiplies and adds
        self._lines = (
            (power.idle_w, power.max_w - power.idle_w),
            (power.low_idle_w, power.low_max_w - power.low_idle_w),
            (power.high_idle_w, power.high_max_w - power.high_idle_w),
        )
        self._cpu_count = _cpu_count(cpu_count)
        self._clock = clock
        self._lock = threading.Lock()
        self._times = _CpuTimes(cpu_times, process_cpu_times, pid, scope == "process")
        self._last_time_s = clock()
        self._energy_j = self._low_j = self._high_j = 0.0
        self._first = True
        how = (
            "share of the machine's busy CPU time used by the process tree x machine power"
            if scope == "process"
            else "the whole machine"
        )
        reason = f"estimated ({power.method}): {power.describe()}; {how}"
        if note:
            reason += f"; {note}"
        self._info = SensorInfo(
            component="cpu",
            device=device,
            method=power.method,
            measured=False,
            model=model,
            reason=reason,
            host_wide=scope == "machine",
        )

    @property
    def info(self) -> SensorInfo:
        return self._info

    @property
    def power(self) -> CpuPowerModel:
        """The power line this sensor integrates."""
        return self._power

    def power_w(self, utilisation: float) -> float:
        """The machine's modelled CPU power at ``utilisation`` (0..1)."""
        idle_w, span_w = self._lines[0]
        return idle_w + span_w * utilisation

    def read(self) -> Reading:
        with self._lock:
            now = self._clock()
            elapsed_s = now - self._last_time_s
            d_machine, d_process = self._times.step()
            power_w: float | None = None
            if elapsed_s > 0:
                u = min(1.0, d_machine / (elapsed_s * self._cpu_count))
                share = 1.0 if self._scope == "machine" else _share(d_process, d_machine)
                (idle_w, span_w), (low_idle_w, low_span_w), (high_idle_w, high_span_w) = self._lines
                e = (idle_w + span_w * u) * elapsed_s * share
                self._energy_j += e
                self._low_j += (low_idle_w + low_span_w * u) * elapsed_s * share
                self._high_j += (high_idle_w + high_span_w * u) * elapsed_s * share
                if not self._first:
                    power_w = e / elapsed_s
            self._first = False
            self._last_time_s = now
            return Reading(now, self._energy_j, power_w, self._low_j, self._high_j)

    def close(self) -> None:
        """Nothing to release."""


class RaplShareSensor:
    """A measured host-wide CPU reading attributed to a process tree (``method="rapl-share"``
    for a RAPL package counter).

    Each interval's energy of ``inner`` (a RAPL package sensor, or a system-on-chip's CPU
    part) is multiplied by the share of the machine's busy CPU time that the process tree
    of ``pid`` used in that interval (0 when the machine was idle). The energy is a hardware
    reading and the split exact kernel CPU-time accounting, hence ``measured=True``; the
    split assumes every busy CPU second costs the same energy. ``method`` and ``source``
    (what ``inner`` reads, for the reason) name another reading than RAPL's.
    """

    def __init__(
        self,
        inner: Sensor,
        *,
        pid: int | None = None,
        cpu_count: int | None = None,
        cpu_times: Callable[[], float] | None = None,
        process_cpu_times: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        method: str = "rapl-share",
        source: str = "RAPL counter",
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._lock = threading.Lock()
        # cpu_count is accepted for symmetry with CpuModelSensor: a share needs no count
        if cpu_count is not None:
            _cpu_count(cpu_count)
        self._times = _CpuTimes(cpu_times, process_cpu_times, pid, True)
        self._last_inner_j = inner.read().energy_j
        self._last_time_s = clock()
        self._energy_j = 0.0
        self._first = True
        base = inner.info
        self._info = replace(
            base,
            method=method,
            measured=True,
            reason=(
                f"{base.device} {source} (measured) x the process tree's share of the "
                "machine's busy CPU time in each interval (kernel CPU-time accounting); "
                "0 while the machine is idle"
            ),
            host_wide=False,
        )

    @property
    def info(self) -> SensorInfo:
        return self._info

    @property
    def inner(self) -> Sensor:
        return self._inner

    def read(self) -> Reading:
        with self._lock:
            inner = self._inner.read()
            now = self._clock()
            d_machine, d_process = self._times.step()
            d_energy_j = max(0.0, inner.energy_j - self._last_inner_j)
            self._last_inner_j = inner.energy_j
            e = d_energy_j * _share(d_process, d_machine)
            self._energy_j += e
            elapsed_s = now - self._last_time_s
            power_w = e / elapsed_s if not self._first and elapsed_s > 0 else None
            self._first = False
            self._last_time_s = now
            return Reading(time_s=now, energy_j=self._energy_j, power_w=power_w)

    def close(self) -> None:
        self._inner.close()


# --------------------------------------------------------------------------- the registry entry


def probe(ctx: ProbeContext) -> Probe:
    """The registry's ``cpu-model`` entry: when no earlier entry measures the CPU, estimate
    it. Best first: the user's ``cpu_watts`` (``user-cpu-watts``); on a virtual machine the
    per-vCPU model (``vcpu-model``: the machine's share of its host's CPU); else the TDP x
    utilisation model (``tdp-model``). The TDP model, when not used, is listed with what it
    would have charged."""
    from carbonledger.sensors.base import PowerAssumption, Probe

    opts = ctx.options
    measured = ctx.covering("cpu")
    if measured is not None:
        if opts.cpu_watts is not None:
            return Probe(
                notes=(
                    f"cpu: cpu_watts not used: the CPU is measured ({measured.device}, "
                    f"{measured.method})",
                )
            )
        return Probe()
    vcpus = opts.cpu_count if opts.cpu_count is not None else (os.cpu_count() or 1)
    tdp = _tdp_model(ctx.cpu_name, ctx.sockets)
    if opts.cpu_watts is not None:
        power = user_power_model(opts.cpu_watts)
        why = "no readable RAPL counter, and the user set cpu_watts"
    elif ctx.hypervisor:
        power = _vcpu_model(ctx.host, vcpus)
        why = f"no readable RAPL counter, and a virtual machine ({ctx.hypervisor})"
    else:
        power = tdp
        why = "no readable RAPL counter, and bare metal (no hypervisor seen)"
    sensor = CpuModelSensor(
        power=power,
        scope=ctx.scope,
        pid=ctx.pid,
        clock=ctx.clock,
        model=ctx.cpu_name,
        cpu_count=opts.cpu_count,
    )
    candidates = [sensor.info]
    if power is not tdp:
        candidates.append(_not_used(tdp, ctx.cpu_name, why))
    assumption = PowerAssumption(
        component="cpu",
        method=power.method,
        idle_w=power.idle_w,
        max_w=power.max_w,
        low_w=power.low_max_w,
        high_w=power.high_max_w,
        source=power.source,
        basis=power.basis,
    )
    note = (
        f"cpu: {why}, so estimated by {power.method}: {power.idle_w:.3g}-{power.max_w:.3g} W "
        f"from idle to full load ({power.basis})"
    )
    return Probe((sensor,), tuple(candidates), (note,), (assumption,))


def _tdp_model(name: str, sockets: int) -> CpuPowerModel:
    from carbonledger.sensors.cpu.tdp import lookup_tdp

    match = lookup_tdp(name)
    basis = f"TDP {match.tdp_w:g} W x {sockets} socket(s)"
    if not match.default:
        basis += f", matched {match.matched_name!r}"
    if match.note:  # for the default: the CPU is not in the table, and the range assumed
        basis += f"; {match.note}"
    return tdp_power_model(
        match.tdp_w * sockets,
        low_w=match.low_w * sockets,
        high_w=match.high_w * sockets,
        source=match.source,
        basis=basis,
    )


def _vcpu_model(host: HostCpu, vcpus: int) -> CpuPowerModel:
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
