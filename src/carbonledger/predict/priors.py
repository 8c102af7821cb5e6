"""Efficiency and power priors, fitted on published training runs.

Two quantities, each log-normal:

``u``, the FLOP utilisation
    ``u = 6 N D r / (device-seconds x peak)``: the share of the dense peak that the run's
    model FLOPs (times the recomputation factor ``r``) represent. Calibrated on the five
    production runs of LLMCarbon's database (``u`` from their parameters, tokens, device
    count and training days; ``r = 1``) and on Megatron-LM's A100 throughput table
    (``r = 4/3``, activation recomputation on; the 10 benchmark rows count as ONE run).

``s``, the average power share
    ``s = average system power per device / TDP``, the power including the device's
    share of host, memory and network (Patterson et al.'s "average system power per
    accelerator"). Calibrated on the same five production runs.

Procedure (:func:`fit_priors`; the numbers are in docs/prediction.md):

1. group the rows by accelerator generation (``volta``, ``tpu-v3``, ``ampere`` for u;
   ``volta``, ``tpu-v3`` for s); a group's centre is the mean of ``ln u`` (``ln s``);
2. the within-generation spread ``sigma_w`` is the pooled standard deviation of the
   production runs around their group centre (degrees of freedom: runs - groups);
3. the between-generation spread ``tau`` is the method-of-moments estimate from the
   group centres: ``tau^2 = var(centres) - mean(sigma_w^2 / n_g)``;
4. prediction for a calibrated generation: its centre, spread
   ``sigma_w * sqrt(1 + 1/n_g)``; for an uncalibrated generation, u: the grand mean of
   the centres with spread ``sqrt(sigma_w^2 + tau^2 (1 + 1/G))``; s: the centre of the
   calibrated generations whose TDP means the same thing (board/chip power limit: every
   accelerator but the TPU v3, whose 450 W is a thermal envelope far above its draw)
   with an extra ``POWER_GENERATION_SIGMA``;
5. scale: the within-generation slope of ``ln u`` on ``log10(devices)`` is not
   distinguishable from zero in the production runs, so the centre does not move with
   scale; outside the calibrated device range (32 to 10,000) the spread grows by the
   slope's standard error per decade of distance;
6. spreads from ``sigma_w`` are widened by ``t(0.9, df) / z(0.9)`` (Student's t on the
   few degrees of freedom), so that ``median x exp(+-z sigma)`` is an 80% interval.

No published result of any model enters an estimate except through these fitted
generation-level figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from carbonledger.predict._stats import Z80, t80_factor
from carbonledger.predict.hardware import Accelerator, _read_csv, accelerator

__all__ = [
    "ESTIMATED_TDP_SIGMA",
    "POWER_GENERATION_SIGMA",
    "BenchmarkRow",
    "CalibrationRun",
    "Prior",
    "Priors",
    "benchmark_rows",
    "calibration_runs",
    "default_priors",
    "fit_priors",
]

#: extra log-spread (1 sigma, ~ +-15%) of the power share of a generation whose power was not
#: calibrated: an assumption, covering GPU systems that draw 0.8-1.4 x TDP per device
POWER_GENERATION_SIGMA = 0.15
#: extra log-spread of the power share when the TDP itself is an assumption (TPU v5e, A10G)
ESTIMATED_TDP_SIGMA = 0.15


@dataclass(frozen=True, slots=True)
class CalibrationRun:
    """A published production training run (LLMCarbon's database)."""

    name: str
    type: str
    params: float
    active_params: float
    tokens: float
    accelerator: str
    devices: int
    tdp_w: float
    avg_power_w: float
    peak_tflops: float
    efficiency: float
    flops: float
    training_days: float
    pue: float
    grid_g_per_kwh: float
    energy_mwh: float
    tco2e: float
    source: str

    @property
    def device_seconds(self) -> float:
        return self.devices * self.training_days * 86400.0

    @property
    def utilisation(self) -> float:
        """``6 N D / (device-seconds x peak)``: u as the estimator uses it."""
        return (
            6.0 * self.active_params * self.tokens / (self.device_seconds * self.peak_tflops * 1e12)
        )

    @property
    def power_share(self) -> float:
        return self.avg_power_w / self.tdp_w

    @property
    def generation(self) -> str:
        return accelerator(self.accelerator).generation


@dataclass(frozen=True, slots=True)
class BenchmarkRow:
    """One row of Megatron-LM's throughput table (Narayanan et al. 2021, Table 1)."""

    params: float
    heads: int
    hidden_size: int
    layers: int
    devices: int
    achieved_tflops: float
    percent_of_peak: float
    sequence_length: int
    vocab_size: int
    accelerator: str

    @property
    def utilisation(self) -> float:
        """u with full recomputation (r = 4/3): the paper counts
        ``96 l h^2 (1 + s/6h + V/16lh)`` FLOPs per token; we count ``8 N``."""
        acc = accelerator(self.accelerator)
        h, layers, s, v = self.hidden_size, self.layers, self.sequence_length, self.vocab_size
        paper_per_token = 96.0 * layers * h * h * (1 + s / (6 * h) + v / (16 * layers * h))
        return self.achieved_tflops / acc.peak_tflops * (8.0 * self.params) / paper_per_token

    @property
    def generation(self) -> str:
        return accelerator(self.accelerator).generation


@cache
def calibration_runs() -> tuple[CalibrationRun, ...]:
    """The five production runs of ``data/calibration_runs.csv``."""
    out = []
    for r in _read_csv("calibration_runs.csv"):
        out.append(
            CalibrationRun(
                name=r["name"],
                type=r["type"],
                params=float(r["params"]),
                active_params=float(r["active_params"]),
                tokens=float(r["tokens"]),
                accelerator=r["accelerator"],
                devices=int(r["devices"]),
                tdp_w=float(r["tdp_w"]),
                avg_power_w=float(r["avg_power_w"]),
                peak_tflops=float(r["peak_tflops"]),
                efficiency=float(r["efficiency"]),
                flops=float(r["flops"]),
                training_days=float(r["training_days"]),
                pue=float(r["pue"]),
                grid_g_per_kwh=float(r["grid_g_per_kwh"]),
                energy_mwh=float(r["energy_mwh"]),
                tco2e=float(r["tco2e"]),
                source=r["source"],
            )
        )
    return tuple(out)


@cache
def benchmark_rows() -> tuple[BenchmarkRow, ...]:
    """The Megatron-LM rows of ``data/megatron_throughput.csv``."""
    return tuple(
        BenchmarkRow(
            params=float(r["params"]),
            heads=int(r["heads"]),
            hidden_size=int(r["hidden_size"]),
            layers=int(r["layers"]),
            devices=int(r["devices"]),
            achieved_tflops=float(r["achieved_tflops"]),
            percent_of_peak=float(r["percent_of_peak"]),
            sequence_length=int(r["sequence_length"]),
            vocab_size=int(r["vocab_size"]),
            accelerator=r["accelerator"],
        )
        for r in _read_csv("megatron_throughput.csv")
    )


@dataclass(frozen=True, slots=True)
class Prior:
    """A log-normal prior: ``median`` and ``sigma``, the log-scale spread such that
    ``median * exp(+-Z80 * sigma)`` is its 80% interval. ``basis`` says where it comes from."""

    median: float
    sigma: float
    basis: str

    @property
    def low(self) -> float:
        return self.median * math.exp(-Z80 * self.sigma)

    @property
    def high(self) -> float:
        return self.median * math.exp(Z80 * self.sigma)


@dataclass(frozen=True, slots=True)
class _Group:
    ln_mean: float
    n_eff: int
    rows: tuple[str, ...]


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


@dataclass(frozen=True, slots=True)
class _Fit:
    """Per-quantity fit: generation groups, pooled within spread, between spread."""

    groups: dict[str, _Group]
    sigma_w: float
    df: float
    tau: float

    @property
    def grand_ln(self) -> float:
        return _mean([g.ln_mean for g in self.groups.values()])

    @property
    def t_factor(self) -> float:
        return t80_factor(self.df)


def _fit(
    production: dict[str, list[tuple[str, float]]], benchmark: dict[str, list[tuple[str, float]]]
) -> _Fit:
    groups: dict[str, _Group] = {}
    ss = 0.0
    n_prod = 0
    for gen, rows in production.items():
        lns = [math.log(v) for _, v in rows]
        m = _mean(lns)
        ss += sum((x - m) ** 2 for x in lns)
        n_prod += len(lns)
        groups[gen] = _Group(m, len(lns), tuple(n for n, _ in rows))
    df = n_prod - len(production)
    if df < 1:
        raise ValueError("the priors need at least one generation with two production runs")
    sigma_w = math.sqrt(ss / df)
    for gen, rows in benchmark.items():
        if gen in groups or not rows:
            continue  # production runs take precedence over a benchmark
        groups[gen] = _Group(_mean([math.log(v) for _, v in rows]), 1, tuple(n for n, _ in rows))
    centres = [g.ln_mean for g in groups.values()]
    tau = 0.0
    if len(centres) > 1:
        c = _mean(centres)
        var_c = sum((x - c) ** 2 for x in centres) / (len(centres) - 1)
        noise = _mean([sigma_w**2 / g.n_eff for g in groups.values()])
        tau = math.sqrt(max(0.0, var_c - noise))
    return _Fit(groups, sigma_w, float(df), tau)


@dataclass(frozen=True, slots=True)
class Priors:
    """The fitted priors; :meth:`utilisation` and :meth:`power_share` give the prior of one
    accelerator (and scale)."""

    u: _Fit
    s: _Fit
    #: standard error of the within-generation slope of ln u per decade of devices
    slope_se: float
    #: device counts the utilisation is calibrated on
    device_range: tuple[int, int]
    #: power groups (by TDP meaning) -> calibrated generations in it
    power_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    excluded: tuple[str, ...] = ()

    def utilisation(self, acc: Accelerator, devices: int = 1) -> Prior:
        """Prior of the FLOP utilisation ``u`` of ``devices`` x ``acc`` (see module doc)."""
        f = self.u
        tw = f.sigma_w * f.t_factor
        group = f.groups.get(acc.generation)
        if group is not None:
            median = math.exp(group.ln_mean)
            var = tw**2 * (1 + 1 / group.n_eff)
            src = (
                f"{acc.generation} calibrated on {', '.join(group.rows)}"
                if group.n_eff > 1 or len(group.rows) == 1
                else f"{acc.generation} calibrated on the Megatron-LM A100 benchmark (counted as one run)"
            )
        else:
            median = math.exp(f.grand_ln)
            var = tw**2 + f.tau**2 * (1 + 1 / len(f.groups))
            src = (
                f"{acc.generation} not calibrated: mean of the {len(f.groups)} calibrated "
                f"generations ({', '.join(sorted(f.groups))}) with their between-generation spread"
            )
        lo, hi = self.device_range
        x = math.log10(max(devices, 1))
        decades = max(0.0, math.log10(lo) - x, x - math.log10(hi))
        if decades > 0:
            var += (self.slope_se * f.t_factor * decades) ** 2
            src += (
                f"; {devices} device{'s' if devices != 1 else ''} is {decades:.1f} decades "
                f"outside the calibrated {lo}-{hi}"
            )
        return Prior(median, math.sqrt(var), src)

    def power_share(self, acc: Accelerator) -> Prior:
        """Prior of the average system power per device as a share of TDP."""
        f = self.s
        tw = f.sigma_w * f.t_factor
        group = f.groups.get(acc.generation)
        extra = 0.0
        if group is not None:
            median = math.exp(group.ln_mean)
            var = tw**2 * (1 + 1 / group.n_eff)
            src = f"{acc.generation} calibrated on {', '.join(group.rows)}"
        else:
            same = [g for g in self.power_groups.get(acc.power_group, ()) if g in f.groups]
            if same:
                ln = _mean([f.groups[g].ln_mean for g in same])
                n = sum(f.groups[g].n_eff for g in same)
                median = math.exp(ln)
                var = tw**2 * (1 + 1 / n)
                extra = POWER_GENERATION_SIGMA
                src = (
                    f"{acc.generation} power not calibrated: {'/'.join(same)} share "
                    f"(same TDP meaning) widened by {POWER_GENERATION_SIGMA:g}"
                )
            else:
                median = math.exp(f.grand_ln)
                var = tw**2 + f.tau**2 * (1 + 1 / len(f.groups))
                src = f"{acc.generation} power not calibrated: mean of calibrated generations"
        if "tdp_w" in acc.estimated_fields:
            extra = math.hypot(extra, ESTIMATED_TDP_SIGMA)
            src += f"; TDP is an assumption, widened by {ESTIMATED_TDP_SIGMA:g}"
        return Prior(median, math.sqrt(var + extra**2), src)


def fit_priors(
    runs: Iterable[CalibrationRun] | None = None,
    benchmarks: Iterable[BenchmarkRow] | None = None,
    *,
    exclude: Iterable[str] = (),
) -> Priors:
    """Fit the priors on ``runs`` and ``benchmarks`` (default: the shipped tables),
    leaving out the runs named in ``exclude`` (for leave-one-out validation)."""
    skip = {e.lower() for e in exclude}
    runs = [r for r in (calibration_runs() if runs is None else runs) if r.name.lower() not in skip]
    bench = list(benchmark_rows() if benchmarks is None else benchmarks)

    def by_gen(items: Iterable[tuple[str, str, float]]) -> dict[str, list[tuple[str, float]]]:
        out: dict[str, list[tuple[str, float]]] = {}
        for gen, name, value in items:
            out.setdefault(gen, []).append((name, value))
        return out

    u_prod = by_gen((r.generation, r.name, r.utilisation) for r in runs)
    u_bench = by_gen((b.generation, f"Megatron {b.params / 1e9:g}B", b.utilisation) for b in bench)
    s_prod = by_gen((r.generation, r.name, r.power_share) for r in runs)
    u_fit = _fit(u_prod, u_bench)
    s_fit = _fit(s_prod, {})

    # slope of ln u on log10(devices) within production generations: its standard error
    sxx = 0.0
    for gen in u_prod:
        xs = [math.log10(r.devices) for r in runs if r.generation == gen]
        mx = _mean(xs)
        sxx += sum((x - mx) ** 2 for x in xs)
    slope_se = u_fit.sigma_w / math.sqrt(sxx) if sxx > 0 else u_fit.sigma_w
    counts = [r.devices for r in runs] + [b.devices for b in bench]
    power_groups: dict[str, list[str]] = {}
    for r in runs:
        acc = accelerator(r.accelerator)
        gens = power_groups.setdefault(acc.power_group, [])
        if acc.generation not in gens:
            gens.append(acc.generation)
    return Priors(
        u=u_fit,
        s=s_fit,
        slope_se=slope_se,
        device_range=(min(counts), max(counts)),
        power_groups={k: tuple(v) for k, v in power_groups.items()},
        excluded=tuple(sorted(skip)),
    )


@cache
def default_priors() -> Priors:
    """The priors fitted on every shipped calibration row."""
    return fit_priors()
