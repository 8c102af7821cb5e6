"""The CPU power line of utilisation, ``P(u) = P_idle + (P_max - P_idle) x u``, with a low
and a high line around it, and the three ways it is made: from a TDP (bare metal), from
per-vCPU watts (virtual machines) and from the user's figure (:mod:`.model` integrates it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from carbonledger.errors import InputError
from carbonledger.sensors.cpu.tdp import TDP_HIGH_FACTOR, TDP_LOW_FACTOR
from carbonledger.sensors.cpu.vcpu import VcpuPower

__all__ = [
    "IDLE_SHARE",
    "IDLE_SHARE_HIGH",
    "IDLE_SHARE_LOW",
    "CpuPowerModel",
    "tdp_power_model",
    "user_power_model",
    "vcpu_power_model",
]

#: idle power as a share of full-load power: the median over the 20 microarchitectures of
#: Cloud Carbon Footprint's coefficients-aws-use.csv (Min Watts / Max Watts per vCPU,
#: derived from SPECpower results); Apache-2.0. scripts/build_cpu_table.py recomputes it.
IDLE_SHARE = 0.268
#: lowest of those ratios (Skylake, 0.149)
IDLE_SHARE_LOW = 0.149
#: highest of those ratios (EPYC 5th Gen, 0.411)
IDLE_SHARE_HIGH = 0.411


# --------------------------------------------------------------------------- power models


@dataclass(frozen=True)
class CpuPowerModel:
    """The machine's CPU power as a line of utilisation, with a low and a high line.

    Watts of all the machine's CPUs together: ``idle_w`` at utilisation 0 and ``max_w`` at
    1 (central), ``low_*``/``high_*`` the bounds. ``method`` names the model
    (``tdp-model``, ``vcpu-model``, ``user-cpu-watts``), ``source`` where the figures come
    from, ``basis`` how they were chosen for this machine, in words.
    """

    method: str
    idle_w: float
    max_w: float
    low_idle_w: float
    low_max_w: float
    high_idle_w: float
    high_max_w: float
    source: str
    basis: str

    def __post_init__(self) -> None:
        figures = (
            self.idle_w,
            self.max_w,
            self.low_idle_w,
            self.low_max_w,
            self.high_idle_w,
            self.high_max_w,
        )
        if not all(math.isfinite(w) and w >= 0 for w in figures) or self.max_w <= 0:
            raise InputError(f"CPU power figures must be finite watts >= 0, got {figures}")
        if not (self.low_idle_w <= self.idle_w <= self.high_idle_w) or not (
            0 < self.low_max_w <= self.max_w <= self.high_max_w
        ):
            raise InputError(
                "need low <= central <= high for idle and full-load watts, got "
                f"{self.low_idle_w}/{self.idle_w}/{self.high_idle_w} W and "
                f"{self.low_max_w}/{self.max_w}/{self.high_max_w} W"
            )

    def power_w(self, utilisation: float) -> float:
        """The machine's modelled CPU power in watts at ``utilisation`` (0..1)."""
        return self.idle_w + (self.max_w - self.idle_w) * utilisation

    def describe(self) -> str:
        """The line and its bounds in words (for a sensor's reason and ``doctor``)."""
        return (
            f"P = {self.idle_w:.3g} W idle + {self.max_w - self.idle_w:.3g} W x utilisation "
            f"(full load {self.max_w:.3g} W, range {self.low_max_w:.3g}-{self.high_max_w:.3g} W; "
            f"idle range {self.low_idle_w:.3g}-{self.high_idle_w:.3g} W); {self.basis}; "
            f"source: {self.source}"
        )


def tdp_power_model(
    tdp_w: float,
    *,
    low_w: float | None = None,
    high_w: float | None = None,
    source: str = "",
    basis: str = "",
) -> CpuPowerModel:
    """Bare metal: full load at the TDP of all sockets (``tdp_w``, bounded by ``low_w`` and
    ``high_w``, default x0.75 and x1.25), idle at :data:`IDLE_SHARE` of it."""
    if not (math.isfinite(tdp_w) and tdp_w > 0):
        raise InputError(f"tdp_w must be a positive number of watts, got {tdp_w!r}")
    low = tdp_w * TDP_LOW_FACTOR if low_w is None else low_w
    high = tdp_w * TDP_HIGH_FACTOR if high_w is None else high_w
    if not 0 < low <= tdp_w <= high:
        raise InputError(f"need 0 < tdp_low_w <= tdp_w <= tdp_high_w, got {low} / {tdp_w} / {high}")
    return _idle_share_model(
        "tdp-model",
        (low, tdp_w, high),
        source=source or "given",
        basis=basis or f"TDP {tdp_w:g} W, idle {IDLE_SHARE:g} x TDP",
    )


def _idle_share_model(
    method: str, full_w: tuple[float, float, float], *, source: str, basis: str
) -> CpuPowerModel:
    """Full load at ``full_w`` (low, central, high, W), idle at :data:`IDLE_SHARE_LOW`,
    :data:`IDLE_SHARE` and :data:`IDLE_SHARE_HIGH` of each."""
    low, central, high = full_w
    return CpuPowerModel(
        method=method,
        idle_w=IDLE_SHARE * central,
        max_w=central,
        low_idle_w=IDLE_SHARE_LOW * low,
        low_max_w=low,
        high_idle_w=IDLE_SHARE_HIGH * high,
        high_max_w=high,
        source=source,
        basis=basis,
    )


def vcpu_power_model(vcpus: int, row: VcpuPower, *, basis: str = "") -> CpuPowerModel:
    """A virtual machine: ``vcpus`` x the per-vCPU idle and full-load watts of ``row``."""
    if vcpus < 1:
        raise InputError(f"a machine has at least 1 vCPU, got {vcpus}")
    what = f"{vcpus} vCPU x {row.min_w:.3g}-{row.max_w:.3g} W per vCPU ({row.microarchitecture})"
    return CpuPowerModel(
        method="vcpu-model",
        idle_w=vcpus * row.min_w,
        max_w=vcpus * row.max_w,
        low_idle_w=vcpus * row.min_low_w,
        low_max_w=vcpus * row.max_low_w,
        high_idle_w=vcpus * row.min_high_w,
        high_max_w=vcpus * row.max_high_w,
        source=f"{row.source}, {row.year}, {row.licence}",
        basis=f"{what}; {basis}" if basis else what,
    )


def user_power_model(cpu_watts: float, *, origin: str = "cpu_watts") -> CpuPowerModel:
    """The user's CPU power ``cpu_watts`` taken as the CPU's full-load power (the TDP's
    role, as CodeCarbon's ``force_cpu_power``): idle at :data:`IDLE_SHARE` of it, the
    range from the idle share's range only (the figure itself is the user's)."""
    if not (math.isfinite(cpu_watts) and cpu_watts > 0):
        raise InputError(
            f"{origin} must be a positive number of watts (the CPU's power at full load), "
            f"got {cpu_watts!r}"
        )
    return _idle_share_model(
        "user-cpu-watts",
        (cpu_watts, cpu_watts, cpu_watts),
        source=f"set by the user ({origin})",
        basis=(
            f"{cpu_watts:g} W set by the user as the CPU's full-load power, scaled by "
            f"utilisation with idle at {IDLE_SHARE:g} x it"
        ),
    )
