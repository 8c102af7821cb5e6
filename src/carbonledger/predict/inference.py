"""Serving footprint: energy and CO2e per 1,000 tokens, per request, and per deployment.

One model replica spans ``devices`` accelerators (tensor parallel). For a request of
``n_in`` prompt tokens and ``n_out`` generated tokens at batch size ``b``::

    prefill     t_in  = 2 N_active n_in / (u peak devices)            compute-bound
    decode      t_step = max( weight bytes / (eta bw devices),        memory-bound
                              b 2 N_active / (u peak devices) )       compute-bound
                t_out = n_out t_step / b                              (b requests share a step)
    weight bytes = bytes_per_param x min(N_total, b N_active)         (MoE: experts touched)
    energy      (t_in + t_out) x devices x P x PUE,   P = s TDP
    CO2e        energy x grid intensity;   embodied = device time x embodied / lifetime

With a given utilisation ``u`` (``utilisation=``) and no batch size, both phases are
compute time at that utilisation: ``2 N_active (n_in + n_out) / (u peak devices)``.
``u`` and ``s`` come from the training priors; ``eta``, the achieved share of memory
bandwidth, is an assumption (median 0.7, log-spread 0.15) as no serving run is in the
calibration data. KV-cache reads, idle replicas and networking are not counted.

The 80% interval is the 10th-90th percentile of 4,000 draws (fixed seed) of ``u``, ``s``
and ``eta`` from their log-normal priors.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from carbonledger.accounting import co2e_g, facility_energy_j
from carbonledger.errors import InputError
from carbonledger.predict._check import optional_positive, positive, positive_int, share
from carbonledger.predict._stats import Z80
from carbonledger.predict.bands import HOURS_PER_YEAR, fmt
from carbonledger.predict.estimate import assumed_pue, resolve_params
from carbonledger.predict.hardware import Accelerator, embodied_constants
from carbonledger.predict.hardware import accelerator as lookup_accelerator
from carbonledger.predict.params import Architecture
from carbonledger.predict.priors import Prior, Priors, default_priors
from carbonledger.units import J_PER_WH

__all__ = ["BANDWIDTH_EFFICIENCY", "BANDWIDTH_EFFICIENCY_SIGMA", "InferenceEstimate", "inference"]

#: achieved share of peak memory bandwidth while decoding (assumption)
BANDWIDTH_EFFICIENCY = 0.7
BANDWIDTH_EFFICIENCY_SIGMA = 0.15
_DRAWS = 4000


@dataclass(frozen=True, slots=True)
class InferenceEstimate:
    """Serving footprint. Energies are facility energy (PUE included); ``*_low`` /
    ``*_high`` bound the 80% interval. Deployment figures are None when no
    ``requests_per_day`` was given."""

    accelerator: str
    devices: int
    params: float
    active_params: float
    batch_size: int | None
    utilisation: float
    input_tokens: int
    output_tokens: int
    regime: str
    avg_power_w: float
    pue: float
    grid_g_per_kwh: float
    device_seconds_per_request: float
    energy_per_request_wh: float
    energy_per_request_wh_low: float
    energy_per_request_wh_high: float
    co2e_per_request_g: float
    co2e_per_request_g_low: float
    co2e_per_request_g_high: float
    embodied_per_request_g: float
    requests_per_day: float | None
    days: float
    assumptions: tuple[str, ...]

    @property
    def tokens_per_request(self) -> int:
        return self.input_tokens + self.output_tokens

    def _per_1k(self, value: float) -> float:
        return value * 1000.0 / self.tokens_per_request

    @property
    def energy_per_1k_tokens_wh(self) -> float:
        return self._per_1k(self.energy_per_request_wh)

    @property
    def energy_per_1k_tokens_wh_low(self) -> float:
        return self._per_1k(self.energy_per_request_wh_low)

    @property
    def energy_per_1k_tokens_wh_high(self) -> float:
        return self._per_1k(self.energy_per_request_wh_high)

    @property
    def co2e_per_1k_tokens_g(self) -> float:
        return self._per_1k(self.co2e_per_request_g)

    @property
    def co2e_per_1k_tokens_g_low(self) -> float:
        return self._per_1k(self.co2e_per_request_g_low)

    @property
    def co2e_per_1k_tokens_g_high(self) -> float:
        return self._per_1k(self.co2e_per_request_g_high)

    @property
    def embodied_per_1k_tokens_g(self) -> float:
        return self._per_1k(self.embodied_per_request_g)

    @property
    def total_requests(self) -> float | None:
        return None if self.requests_per_day is None else self.requests_per_day * self.days

    def _deploy(self, per_request: float, scale: float) -> float | None:
        n = self.total_requests
        return None if n is None else per_request * n * scale

    @property
    def deployment_energy_kwh(self) -> float | None:
        return self._deploy(self.energy_per_request_wh, 1e-3)

    @property
    def deployment_co2e_kg(self) -> float | None:
        return self._deploy(self.co2e_per_request_g, 1e-3)

    @property
    def deployment_embodied_kg(self) -> float | None:
        return self._deploy(self.embodied_per_request_g, 1e-3)

    @property
    def deployment_device_hours(self) -> float | None:
        return self._deploy(self.device_seconds_per_request, 1 / 3600)

    def to_dict(self) -> dict[str, Any]:
        def deploy(per_request: float, scale: float) -> float | None:
            return self._deploy(per_request, scale)

        return {
            "accelerator": self.accelerator,
            "devices": self.devices,
            "params": self.params,
            "active_params": self.active_params,
            "batch_size": self.batch_size,
            "utilisation": self.utilisation,
            "regime": self.regime,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "avg_power_w": self.avg_power_w,
            "pue": self.pue,
            "grid_g_per_kwh": self.grid_g_per_kwh,
            "device_seconds_per_request": self.device_seconds_per_request,
            "energy_per_request_wh": self.energy_per_request_wh,
            "energy_per_request_wh_low": self.energy_per_request_wh_low,
            "energy_per_request_wh_high": self.energy_per_request_wh_high,
            "co2e_per_request_g": self.co2e_per_request_g,
            "co2e_per_request_g_low": self.co2e_per_request_g_low,
            "co2e_per_request_g_high": self.co2e_per_request_g_high,
            "energy_per_1k_tokens_wh": self.energy_per_1k_tokens_wh,
            "energy_per_1k_tokens_wh_low": self.energy_per_1k_tokens_wh_low,
            "energy_per_1k_tokens_wh_high": self.energy_per_1k_tokens_wh_high,
            "co2e_per_1k_tokens_g": self.co2e_per_1k_tokens_g,
            "co2e_per_1k_tokens_g_low": self.co2e_per_1k_tokens_g_low,
            "co2e_per_1k_tokens_g_high": self.co2e_per_1k_tokens_g_high,
            "embodied_per_1k_tokens_g": self.embodied_per_1k_tokens_g,
            "embodied_per_request_g": self.embodied_per_request_g,
            "requests_per_day": self.requests_per_day,
            "days": self.days,
            "total_requests": self.total_requests,
            "deployment_device_hours": self.deployment_device_hours,
            "deployment_energy_kwh": self.deployment_energy_kwh,
            "deployment_energy_kwh_low": deploy(self.energy_per_request_wh_low, 1e-3),
            "deployment_energy_kwh_high": deploy(self.energy_per_request_wh_high, 1e-3),
            "deployment_co2e_kg": self.deployment_co2e_kg,
            "deployment_co2e_kg_low": deploy(self.co2e_per_request_g_low, 1e-3),
            "deployment_co2e_kg_high": deploy(self.co2e_per_request_g_high, 1e-3),
            "deployment_embodied_kg": self.deployment_embodied_kg,
            "interval_level": 0.8,
            "assumptions": list(self.assumptions),
        }


def _seconds_per_request(
    *,
    acc: Accelerator,
    devices: int,
    total: float,
    active: float,
    n_in: int,
    n_out: int,
    batch: int | None,
    u: float,
    eta: float,
    bytes_per_param: float,
) -> tuple[float, str]:
    """Replica wall-clock seconds one request occupies, and the decode regime."""
    compute = acc.peak_flops * devices
    t_in = 2.0 * active * n_in / (u * compute)
    if batch is None:
        return t_in + 2.0 * active * n_out / (u * compute), "compute-bound (given utilisation)"
    weights = bytes_per_param * min(total, batch * active)
    t_mem = weights / (eta * acc.memory_bw_gb_s * 1e9 * devices)
    t_comp = batch * 2.0 * active / (u * compute)
    regime = "memory-bound" if t_mem >= t_comp else "compute-bound"
    return t_in + n_out * max(t_mem, t_comp) / batch, regime


@dataclass(frozen=True, slots=True)
class _Serving:
    """The checked inputs of :func:`inference` (``batch`` None: utilisation given)."""

    acc: Accelerator
    n_dev: int
    u_given: float | None
    batch: int | None
    batch_defaulted: bool
    n_in: int
    n_out: int
    rpd: float | None
    n_days: float
    pue_v: float
    grid: float
    power_given: float | None
    bpp: float
    life: float
    pri: Priors


def _check(
    accelerator: str | Accelerator,
    devices: int,
    batch_size: int | None,
    utilisation: float | None,
    input_tokens: int,
    output_tokens: int,
    requests_per_day: float | None,
    days: float,
    pue: float,
    grid_g_per_kwh: float,
    avg_power_w: float | None,
    bytes_per_param: float,
    lifetime_years: float | None,
    priors: Priors | None,
) -> _Serving:
    """Check :func:`inference`'s arguments (InputError naming the bad one)."""
    acc = lookup_accelerator(accelerator)
    n_dev = positive_int(devices, "devices")
    u_given = None if utilisation is None else share(utilisation, "utilisation")
    batch = None if batch_size is None else positive_int(batch_size, "batch_size")
    if batch is None and u_given is None:
        batch = 1
    n_in = int(positive(input_tokens, "input_tokens", inclusive=True))
    n_out = int(positive(output_tokens, "output_tokens", inclusive=True))
    if n_in + n_out < 1:
        raise InputError("a request needs at least one token: give input_tokens or output_tokens")
    rpd = optional_positive(requests_per_day, "requests_per_day")
    n_days = positive(days, "days")
    pue_v = positive(pue, "pue", minimum=1.0, inclusive=True)
    grid = positive(grid_g_per_kwh, "grid_g_per_kwh", inclusive=True)
    power_given = optional_positive(avg_power_w, "avg_power_w")
    bpp = positive(bytes_per_param, "bytes_per_param")
    consts = embodied_constants()
    life = (
        consts.lifetime_years
        if lifetime_years is None
        else positive(lifetime_years, "lifetime_years")
    )
    pri = default_priors() if priors is None else priors
    return _Serving(
        acc=acc,
        n_dev=n_dev,
        u_given=u_given,
        batch=batch,
        batch_defaulted=batch_size is None,
        n_in=n_in,
        n_out=n_out,
        rpd=rpd,
        n_days=n_days,
        pue_v=pue_v,
        grid=grid,
        power_given=power_given,
        bpp=bpp,
        life=life,
        pri=pri,
    )


def _request(
    c: _Serving, total: float, active: float, u: float, p: float, eta: float
) -> tuple[float, float, str]:
    """(replica seconds, facility energy J, decode regime) of one request at utilisation
    ``u``, power ``p`` W per device and bandwidth efficiency ``eta``."""
    secs, regime = _seconds_per_request(
        acc=c.acc,
        devices=c.n_dev,
        total=total,
        active=active,
        n_in=c.n_in,
        n_out=c.n_out,
        batch=c.batch,
        u=u,
        eta=eta,
        bytes_per_param=c.bpp,
    )
    return secs, facility_energy_j(secs * c.n_dev * p, c.pue_v), regime


def _energy_range_j(
    c: _Serving,
    total: float,
    active: float,
    u0: float,
    p0: float,
    u_prior: Prior,
    s_prior: Prior,
    energy_j: float,
) -> tuple[float, float]:
    """The 80% interval of a request's energy, J, by Monte Carlo over the unknowns (a fixed
    seed, so the same inputs give the same interval); it always holds ``energy_j``."""
    rng = random.Random(0)
    draws = []
    for _ in range(_DRAWS):
        u = u0 if c.u_given is not None else u0 * math.exp(rng.gauss(0.0, u_prior.sigma))
        p = p0 if c.power_given is not None else p0 * math.exp(rng.gauss(0.0, s_prior.sigma))
        eta = BANDWIDTH_EFFICIENCY * math.exp(rng.gauss(0.0, BANDWIDTH_EFFICIENCY_SIGMA))
        draws.append(_request(c, total, active, min(u, 1.0), p, min(eta, 1.0))[1])
    draws.sort()
    e_lo = min(energy_j, draws[int(0.1 * _DRAWS)])
    e_hi = max(energy_j, draws[int(0.9 * _DRAWS) - 1])
    return e_lo, e_hi


def _notes(
    c: _Serving, regime: str, u_prior: Prior, s_prior: Prior, p0: float, pue_note: str | None
) -> list[str]:
    """The assumptions behind utilisation, decode, power, PUE, grid, request and embodied."""
    acc = c.acc
    notes: list[str] = []
    if c.u_given is not None:
        notes.append(f"utilisation given: {c.u_given:g} of the dense peak")
    else:
        notes.append(
            f"compute utilisation from the training prior: median {u_prior.median:.3f} "
            f"(80%: {u_prior.low:.3f}-{u_prior.high:.3f}); {u_prior.basis}"
        )
    if c.batch is not None:
        notes.append(
            f"batch size {c.batch}{' (default: single stream)' if c.batch_defaulted else ''}; "
            f"decode is {regime}: weights read once per step at {BANDWIDTH_EFFICIENCY:g} "
            f"(log-spread {BANDWIDTH_EFFICIENCY_SIGMA:g}) of {acc.memory_bw_gb_s:g} GB/s per "
            f"device, {c.bpp:g} bytes per parameter; KV-cache reads not counted"
        )
    if c.power_given is not None:
        notes.append(f"average power per device given: {fmt(p0)} W")
    else:
        notes.append(
            f"average system power per device: {s_prior.median:.2f} x TDP {acc.tdp_w:g} W = "
            f"{fmt(p0)} W (training prior; serving often draws less); {s_prior.basis}"
        )
    if pue_note is None:
        notes.append(f"PUE {c.pue_v:g} and grid intensity {fmt(c.grid)} g/kWh taken as exact")
    else:
        notes.append(pue_note)
        notes.append(f"grid intensity {fmt(c.grid)} g/kWh taken as exact")
    notes.append(
        f"request: {c.n_in} input + {c.n_out} output tokens"
        + (
            f"; {fmt(c.rpd)} requests/day for {c.n_days:g} days, replicas busy only while serving"
            if c.rpd is not None
            else ""
        )
    )
    notes.append(
        f"embodied: {acc.embodied_kg:.0f} kgCO2e per device over {c.life:g} years, "
        "amortised by the device time a request occupies (LLMCarbon)"
    )
    return notes


def inference(
    *,
    params: float | None = None,
    active_params: float | None = None,
    architecture: Architecture | None = None,
    accelerator: str | Accelerator,
    devices: int = 1,
    batch_size: int | None = None,
    utilisation: float | None = None,
    input_tokens: int = 0,
    output_tokens: int = 1000,
    requests_per_day: float | None = None,
    days: float = 365.0,
    pue: float | None = None,
    grid_g_per_kwh: float,
    avg_power_w: float | None = None,
    bytes_per_param: float = 2.0,
    lifetime_years: float | None = None,
    priors: Priors | None = None,
) -> InferenceEstimate:
    """Predict the serving footprint of a model (see the module docstring).

    ``devices`` per replica; ``batch_size`` concurrent requests per decoding step (default
    1 unless ``utilisation`` is given); ``input_tokens`` / ``output_tokens`` per request
    (default: 1,000 generated tokens); ``requests_per_day`` x ``days`` for deployment totals.
    Without ``pue``, the PUE of a facility nobody named is assumed, with its interval in
    the energy's (as :func:`carbonledger.predict.training`).
    """
    pue_notes: list[str] = []
    pue_v, pue_band = assumed_pue(pue, pue_notes)
    c = _check(
        accelerator, devices, batch_size, utilisation, input_tokens, output_tokens,
        requests_per_day, days, pue_v, grid_g_per_kwh, avg_power_w, bytes_per_param,
        lifetime_years, priors,
    )  # fmt: skip
    acc, n_dev, grid = c.acc, c.n_dev, c.grid
    notes: list[str] = [f"accelerator {acc.describe()} ({acc.spec_source})"]
    total, active = resolve_params(params, active_params, architecture, notes)
    u_prior = c.pri.utilisation(acc, n_dev)
    s_prior = c.pri.power_share(acc)
    u0 = c.u_given if c.u_given is not None else u_prior.median
    p0 = c.power_given if c.power_given is not None else s_prior.median * acc.tdp_w

    secs, energy_j, regime = _request(c, total, active, u0, p0, BANDWIDTH_EFFICIENCY)
    e_lo, e_hi = _energy_range_j(c, total, active, u0, p0, u_prior, s_prior, energy_j)
    if pue_band is not None:  # the assumed PUE's log-spread, added in quadrature
        z_pue = Z80 * pue_band[2]
        e_lo = energy_j * math.exp(-math.hypot(math.log(energy_j / e_lo), z_pue))
        e_hi = energy_j * math.exp(math.hypot(math.log(e_hi / energy_j), z_pue))
    notes.extend(_notes(c, regime, u_prior, s_prior, p0, pue_notes[0] if pue_band else None))
    embodied_g = acc.embodied_kg * 1000.0 * n_dev * secs / (c.life * HOURS_PER_YEAR * 3600.0)

    def co2(j: float) -> float:  # facility energy: PUE already in
        return co2e_g(j, pue=1.0, intensity_g_per_kwh=grid)

    return InferenceEstimate(
        accelerator=acc.name,
        devices=n_dev,
        params=total,
        active_params=active,
        batch_size=c.batch,
        utilisation=u0,
        input_tokens=c.n_in,
        output_tokens=c.n_out,
        regime=regime,
        avg_power_w=p0,
        pue=c.pue_v,
        grid_g_per_kwh=grid,
        device_seconds_per_request=secs * n_dev,
        energy_per_request_wh=energy_j / J_PER_WH,
        energy_per_request_wh_low=e_lo / J_PER_WH,
        energy_per_request_wh_high=e_hi / J_PER_WH,
        co2e_per_request_g=co2(energy_j),
        co2e_per_request_g_low=co2(e_lo),
        co2e_per_request_g_high=co2(e_hi),
        embodied_per_request_g=embodied_g,
        requests_per_day=c.rpd,
        days=c.n_days,
        assumptions=tuple(notes),
    )
