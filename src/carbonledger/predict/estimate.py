"""Training footprint before (or during) a run: :func:`training` -> :class:`Estimate`.

::

    model FLOPs       F  = 6 N_active D                       (or given: flops=)
    device-seconds    T  = F r / (u peak)                     (or given: device_hours x 3600;
                                                               or F / (mfu peak) for a given MFU)
    IT energy         E  = T P,   P = s TDP                    (or given: avg_power_w)
    facility energy      = E x PUE
    operational CO2e     = E x PUE x grid intensity
    embodied CO2e        = embodied per device x T / lifetime  (reported apart)

``u`` and ``s`` come from the priors (:mod:`carbonledger.predict.priors`); the 80% interval
of every output is ``median x exp(+-z sigma)`` with ``sigma`` the root sum of squares of the
log-spreads still unknown (a measured fact has none). The grid intensity is taken as given,
and so is the PUE when given; without one the PUE is not 1.0 "as exact" but
:func:`carbonledger.carbon.pue.unknown_facility_pue` (1.30, 80 % interval 1.09 to 1.56: the
lowest published fleet average to the industry average), whose log-spread joins the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from carbonledger.accounting import co2e_g, facility_energy_j
from carbonledger.errors import InputError
from carbonledger.predict._check import optional_positive, positive, positive_int, share
from carbonledger.predict._stats import Z80
from carbonledger.predict.bands import (
    Band,
    avg_power,
    device_seconds,
    embodied_tonnes,
    fmt,
    model_flops_of,
)
from carbonledger.predict.flops import recompute_factor
from carbonledger.predict.hardware import Accelerator, embodied_constants
from carbonledger.predict.hardware import accelerator as lookup_accelerator
from carbonledger.predict.params import Architecture
from carbonledger.predict.priors import Priors, default_priors
from carbonledger.units import g_to_t, j_to_mwh, mwh_to_j

__all__ = ["Estimate", "assumed_pue", "fmt", "resolve_params", "training"]


def _co2e_t(facility_mwh: float, grid_g_per_kwh: float) -> float:
    """Tonnes CO2e of ``facility_mwh`` (PUE included, so scaled by 1 here) at
    ``grid_g_per_kwh``."""
    return g_to_t(co2e_g(mwh_to_j(facility_mwh), pue=1.0, intensity_g_per_kwh=grid_g_per_kwh))


@dataclass(frozen=True, slots=True)
class Estimate:
    """A training run's predicted footprint: central values (medians) and 80% intervals.

    ``energy_mwh`` is facility energy (IT energy x PUE), the energy the grid supplies;
    ``co2e_t`` operational CO2e in tonnes; ``embodied_t`` the amortised manufacturing
    footprint, reported apart; ``assumptions`` lists everything not given.
    """

    accelerator: str
    devices: int
    params: float
    active_params: float
    tokens: float
    flops: float
    hardware_flops: float
    device_hours: float
    device_hours_low: float
    device_hours_high: float
    utilisation: float
    utilisation_low: float
    utilisation_high: float
    avg_power_w: float
    avg_power_w_low: float
    avg_power_w_high: float
    pue: float
    grid_g_per_kwh: float
    energy_mwh: float
    energy_mwh_low: float
    energy_mwh_high: float
    co2e_t: float
    co2e_t_low: float
    co2e_t_high: float
    embodied_t: float
    embodied_t_low: float
    embodied_t_high: float
    embodied_per_device_kg: float
    lifetime_years: float
    assumptions: tuple[str, ...]
    #: the facts given rather than predicted: "device_hours", "mfu", "avg_power_w", "flops"
    measured: tuple[str, ...] = ()
    #: the PUE's 80% interval when it was assumed (no PUE given); None when given
    pue_low: float | None = None
    pue_high: float | None = None

    @property
    def gpu_hours(self) -> float:
        """Device-hours (GPU-hours, TPU chip-hours)."""
        return self.device_hours

    @property
    def days(self) -> float:
        """Wall-clock days with every device busy."""
        return self.device_hours / self.devices / 24.0

    @property
    def interval(self) -> tuple[float, float]:
        """80% interval of operational CO2e in tonnes."""
        return (self.co2e_t_low, self.co2e_t_high)

    @property
    def energy_it_mwh(self) -> float:
        """Energy drawn by the IT equipment (before PUE), MWh."""
        return self.energy_mwh / self.pue

    @property
    def energy_j(self) -> float:
        """Facility energy in joules."""
        return mwh_to_j(self.energy_mwh)

    @property
    def total_t(self) -> float:
        """Operational + embodied CO2e, tonnes."""
        return self.co2e_t + self.embodied_t

    @property
    def total_t_low(self) -> float:
        return self.co2e_t_low + self.embodied_t_low

    @property
    def total_t_high(self) -> float:
        return self.co2e_t_high + self.embodied_t_high

    def with_grid(self, grid_g_per_kwh: float, note: str = "") -> Estimate:
        """The same run under another grid intensity (everything else unchanged)."""
        g = positive(grid_g_per_kwh, "grid_g_per_kwh", inclusive=True)
        mwh = (self.energy_mwh, self.energy_mwh_low, self.energy_mwh_high)
        co2 = [_co2e_t(m, g) for m in mwh]
        notes = tuple(a for a in self.assumptions if not a.startswith("grid intensity"))
        extra = (f"grid intensity {fmt(g)} g/kWh{f' ({note})' if note else ''}",)
        return replace(
            self,
            grid_g_per_kwh=g,
            co2e_t=co2[0],
            co2e_t_low=co2[1],
            co2e_t_high=co2[2],
            assumptions=notes + extra,
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document: every figure, its interval, and the assumptions."""
        return {
            "device_hours": self.device_hours,
            "device_hours_low": self.device_hours_low,
            "device_hours_high": self.device_hours_high,
            "days": self.days,
            "energy_mwh": self.energy_mwh,
            "energy_mwh_low": self.energy_mwh_low,
            "energy_mwh_high": self.energy_mwh_high,
            "operational_tco2e": self.co2e_t,
            "operational_tco2e_low": self.co2e_t_low,
            "operational_tco2e_high": self.co2e_t_high,
            "embodied_tco2e": self.embodied_t,
            "embodied_tco2e_low": self.embodied_t_low,
            "embodied_tco2e_high": self.embodied_t_high,
            "total_tco2e": self.total_t,
            "total_tco2e_low": self.total_t_low,
            "total_tco2e_high": self.total_t_high,
            "accelerator": self.accelerator,
            "devices": self.devices,
            "params": self.params,
            "active_params": self.active_params,
            "tokens": self.tokens,
            "flops": self.flops,
            "hardware_flops": self.hardware_flops,
            "mfu": self.utilisation,
            "mfu_low": self.utilisation_low,
            "mfu_high": self.utilisation_high,
            "avg_power_w": self.avg_power_w,
            "avg_power_w_low": self.avg_power_w_low,
            "avg_power_w_high": self.avg_power_w_high,
            "pue": self.pue,
            "pue_low": self.pue_low,
            "pue_high": self.pue_high,
            "pue_assumed": self.pue_low is not None,
            "grid_g_per_kwh": self.grid_g_per_kwh,
            "energy_it_mwh": self.energy_it_mwh,
            "embodied_per_device_kg": self.embodied_per_device_kg,
            "lifetime_years": self.lifetime_years,
            "interval_level": 0.8,
            "measured": list(self.measured),
            "assumptions": list(self.assumptions),
        }


def resolve_params(
    params: float | None,
    active_params: float | None,
    architecture: Architecture | None,
    notes: list[str],
) -> tuple[float, float]:
    """Total and active parameter counts from what was given; notes what was derived."""
    total = optional_positive(params, "params")
    active = optional_positive(active_params, "active_params")
    if architecture is not None:
        counts = architecture.counts()
        kind = "mixture-of-experts" if architecture.moe else "dense"
        if total is None:
            total = counts.total
            notes.append(
                f"parameters from the {kind} architecture: {fmt(counts.total)} total, "
                f"{fmt(counts.active)} active per token ({fmt(counts.embedding)} in embeddings)"
            )
        if active is None:  # keep the architecture's active share of the total
            active = total * counts.active / counts.total
    if total is None and active is None:
        raise InputError("give the model size: params (e.g. 7e9) or an architecture")
    if total is None:
        assert active is not None
        total = active
    if active is None:
        active = total
    if active > total:
        raise InputError(
            f"active_params ({fmt(active)}) cannot exceed params ({fmt(total)}): for a "
            "mixture-of-experts model give params = all experts, active_params = per token"
        )
    return total, active


def _assemble(
    *,
    acc: Accelerator,
    n_devices: int,
    total: float,
    active: float,
    n_tokens: float,
    model_flops: float,
    hardware_flops: float,
    seconds: float,
    util: Band,
    power: Band,
    pue_v: float,
    grid: float,
    embodied_t: float,
    life: float,
    notes: list[str],
    measured: list[str],
    pue_band: tuple[float, float, float] | None = None,
) -> Estimate:
    """The Estimate: facility energy (MWh) and CO2e (t) with their 80% intervals, from the
    device-seconds, the utilisation, the average power per device (W) and, when assumed,
    the PUE's ``(low, high, log-spread)``."""
    hours = seconds / 3600.0
    energy_mwh = j_to_mwh(facility_energy_j(seconds * power.median, pue_v))
    co2e_t = _co2e_t(energy_mwh, grid)
    sigma = math.hypot(util.sigma, power.sigma, 0.0 if pue_band is None else pue_band[2])
    lo, hi = math.exp(-Z80 * sigma), math.exp(Z80 * sigma)
    lo_u, hi_u = math.exp(-Z80 * util.sigma), math.exp(Z80 * util.sigma)

    return Estimate(
        accelerator=acc.name,
        devices=n_devices,
        params=total,
        active_params=active,
        tokens=n_tokens,
        flops=model_flops,
        hardware_flops=hardware_flops,
        device_hours=hours,
        device_hours_low=hours * lo_u,
        device_hours_high=hours * hi_u,
        utilisation=util.median,
        utilisation_low=util.low,
        utilisation_high=util.high,
        avg_power_w=power.median,
        avg_power_w_low=power.low,
        avg_power_w_high=power.high,
        pue=pue_v,
        grid_g_per_kwh=grid,
        energy_mwh=energy_mwh,
        energy_mwh_low=energy_mwh * lo,
        energy_mwh_high=energy_mwh * hi,
        co2e_t=co2e_t,
        co2e_t_low=co2e_t * lo,
        co2e_t_high=co2e_t * hi,
        embodied_t=embodied_t,
        embodied_t_low=embodied_t * lo_u,
        embodied_t_high=embodied_t * hi_u,
        embodied_per_device_kg=acc.embodied_kg,
        lifetime_years=life,
        assumptions=tuple(notes),
        measured=tuple(measured),
        pue_low=None if pue_band is None else pue_band[0],
        pue_high=None if pue_band is None else pue_band[1],
    )


def assumed_pue(
    pue: float | None, notes: list[str]
) -> tuple[float, tuple[float, float, float] | None]:
    """(PUE, its (low, high, log-spread) when assumed): the given one, taken as exact, or
    the assumed PUE of a facility nobody named, with its 80% interval."""
    if pue is not None:
        value = positive(pue, "pue", minimum=1.0, inclusive=True)
        notes.append(f"PUE {value:g} given, taken as exact")
        return value, None
    from carbonledger.carbon import unknown_facility_pue

    band = unknown_facility_pue()
    sigma = math.log(band.high / band.low) / (2 * Z80)
    notes.append(
        f"PUE not given: {band.median:.2f} assumed, 80% interval {band.low:g}-{band.high:g}, "
        f"carried into the energy and CO2e intervals ({band.source}); give your facility's "
        "(--pue, or pue: under datacenter: in a spec)"
    )
    return band.median, (band.low, band.high, sigma)


def training(
    *,
    params: float | None = None,
    tokens: float,
    accelerator: str | Accelerator,
    devices: int,
    pue: float | None = None,
    grid_g_per_kwh: float,
    active_params: float | None = None,
    architecture: Architecture | None = None,
    device_hours: float | None = None,
    mfu: float | None = None,
    avg_power_w: float | None = None,
    flops: float | None = None,
    recompute: str = "none",
    lifetime_years: float | None = None,
    priors: Priors | None = None,
) -> Estimate:
    """Predict a training run's energy and CO2e (see the module docstring for the model).

    Measured facts (``device_hours``, ``mfu``, ``avg_power_w``, total ``flops``) replace
    the corresponding prior and narrow the interval. ``recompute`` ("none", "selective",
    "full") only matters when the utilisation comes from the prior. ``priors`` defaults
    to the shipped fit (validation passes leave-one-out fits). Without ``pue`` the PUE is
    assumed (1.30, 80% interval 1.09-1.56), never 1.0 "as exact": see the module docstring.
    """
    acc = lookup_accelerator(accelerator)
    n_devices = positive_int(devices, "devices")
    n_tokens = positive(tokens, "tokens", minimum=1.0, inclusive=True)
    if pue is not None:
        positive(pue, "pue", minimum=1.0, inclusive=True)
    grid = positive(grid_g_per_kwh, "grid_g_per_kwh", inclusive=True)
    hours_given = optional_positive(device_hours, "device_hours")
    mfu_given = None if mfu is None else share(mfu, "mfu")
    power_given = optional_positive(avg_power_w, "avg_power_w")
    flops_given = optional_positive(flops, "flops")
    consts = embodied_constants()
    life = (
        consts.lifetime_years
        if lifetime_years is None
        else positive(lifetime_years, "lifetime_years")
    )
    pri = default_priors() if priors is None else priors

    notes: list[str] = []
    total, active = resolve_params(params, active_params, architecture, notes)
    measured: list[str] = []
    notes.insert(0, f"accelerator {acc.describe()} ({acc.spec_source})")
    model_flops = model_flops_of(flops_given, active, n_tokens, measured, notes)
    r = recompute_factor(recompute, architecture=architecture, active_params=active)
    hw_flops = model_flops * r
    seconds, util = device_seconds(
        acc, n_devices, model_flops, r, recompute, hours_given, mfu_given, pri, measured, notes
    )
    power = avg_power(acc, power_given, pri, measured, notes)
    pue_v, pue_band = assumed_pue(pue, notes)
    notes.append(f"grid intensity {fmt(grid)} g/kWh taken as exact")

    embodied_t = embodied_tonnes(acc, consts, seconds / 3600.0, life, notes)
    return _assemble(
        acc=acc,
        n_devices=n_devices,
        total=total,
        active=active,
        n_tokens=n_tokens,
        model_flops=model_flops,
        hardware_flops=hw_flops if hours_given is None and mfu_given is None else model_flops,
        seconds=seconds,
        util=util,
        power=power,
        pue_v=pue_v,
        grid=grid,
        embodied_t=embodied_t,
        life=life,
        notes=notes,
        measured=measured,
        pue_band=pue_band,
    )
