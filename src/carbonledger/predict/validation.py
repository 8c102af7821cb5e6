"""Validation of the estimator on the calibration runs (used by docs/prediction.md, the
tests and ``scripts/build_predict_tables.py --validate``).

* :func:`reproduce_calibration`: each run with its published efficiency, average power,
  PUE, grid and FLOP count: the arithmetic alone (the efficiency is defined against the
  published FLOP count, so the two go together). ``published_flops=False`` uses
  ``6 N D`` instead, as LLMCarbon does.
* :func:`blind_validation`: only parameters, tokens, accelerator, device count, PUE and
  grid; the priors fitted without the run itself (leave-one-out) or with it (in-sample).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from carbonledger.predict.estimate import training
from carbonledger.predict.hardware import embodied_constants, list_accelerators
from carbonledger.predict.priors import (
    CalibrationRun,
    benchmark_rows,
    calibration_runs,
    default_priors,
    fit_priors,
)

__all__ = [
    "Check",
    "blind_tables",
    "blind_validation",
    "catalogue_table",
    "markdown_tables",
    "prior_tables",
    "reproduce_calibration",
    "reproduction_tables",
]


@dataclass(frozen=True, slots=True)
class Check:
    """One run: the published operational tCO2e, the prediction and its 80% interval."""

    name: str
    actual_t: float
    predicted_t: float
    low_t: float
    high_t: float
    predicted_days: float
    actual_days: float

    @property
    def error(self) -> float:
        """Relative error of the central value: predicted / actual - 1."""
        return self.predicted_t / self.actual_t - 1.0

    @property
    def covered(self) -> bool:
        return self.low_t <= self.actual_t <= self.high_t


def _check(run: CalibrationRun, est_co2: float, lo: float, hi: float, days: float) -> Check:
    return Check(run.name, run.tco2e, est_co2, lo, hi, days, run.training_days)


def reproduce_calibration(*, published_flops: bool = True) -> list[Check]:
    """Each calibration run recomputed from its published efficiency and power."""
    out = []
    for run in calibration_runs():
        est = training(
            params=run.params,
            active_params=run.active_params,
            tokens=run.tokens,
            accelerator=run.accelerator,
            devices=run.devices,
            pue=run.pue,
            grid_g_per_kwh=run.grid_g_per_kwh,
            mfu=run.efficiency,
            avg_power_w=run.avg_power_w,
            flops=run.flops if published_flops else None,
        )
        out.append(_check(run, est.co2e_t, est.co2e_t_low, est.co2e_t_high, est.days))
    return out


def blind_validation(*, leave_one_out: bool = True) -> list[Check]:
    """Each calibration run predicted blind: priors fitted without it (or with it)."""
    out = []
    for run in calibration_runs():
        priors = fit_priors(exclude=[run.name]) if leave_one_out else fit_priors()
        est = training(
            params=run.params,
            active_params=run.active_params,
            tokens=run.tokens,
            accelerator=run.accelerator,
            devices=run.devices,
            pue=run.pue,
            grid_g_per_kwh=run.grid_g_per_kwh,
            priors=priors,
        )
        out.append(_check(run, est.co2e_t, est.co2e_t_low, est.co2e_t_high, est.days))
    return out


def mean_abs_error(checks: list[Check]) -> float:
    return sum(abs(c.error) for c in checks) / len(checks)


def _table(checks: list[Check], interval: bool) -> str:
    head = "| run | published tCO2e | predicted tCO2e | error | days (published / predicted) |"
    sep = "| --- | ---: | ---: | ---: | ---: |"
    if interval:
        head += " 80% interval | contains |"
        sep += " ---: | :---: |"
    rows = [head, sep]
    for c in checks:
        row = (
            f"| {c.name} | {c.actual_t:.1f} | {c.predicted_t:.1f} | {c.error:+.1%} | "
            f"{c.actual_days:g} / {c.predicted_days:.1f} |"
        )
        if interval:
            row += f" {c.low_t:.1f} - {c.high_t:.1f} | {'yes' if c.covered else 'no'} |"
        rows.append(row)
    mae = mean_abs_error(checks)
    summary = f"\nMean absolute error {mae:.1%}"
    if interval:
        summary += f"; the 80% interval contains {sum(c.covered for c in checks)} of {len(checks)}"
    return "\n".join(rows) + "\n" + summary + ".\n"


def catalogue_table() -> str:
    """The accelerator catalogue as a Markdown table."""
    k = embodied_constants()
    rows = [
        "| accelerator | kind, generation | dense BF16/FP16 TFLOP/s | TDP W | memory GB | "
        "GB/s | die cm2 @ node | embodied kg/device | assumed |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for a in list_accelerators():
        node, _ = k.node_cpa(a.process_nm)
        rows.append(
            f"| {a.name} | {a.kind}, {a.generation} | {a.peak_tflops:g} | {a.tdp_w:g} | "
            f"{a.memory_gb:g} | {a.memory_bw_gb_s:g} | {a.die_area_cm2:g} @ {node} nm | "
            f"{a.embodied_kg:.0f} | {', '.join(a.estimated_fields) or '-'} |"
        )
    rows.append("")
    for a in list_accelerators():
        notes = f" Note: {a.notes}." if a.notes else ""
        rows.append(f"- **{a.name}**: {a.spec_source}. Die: {a.die_source}.{notes}")
    return "\n".join(rows) + "\n"


def prior_tables() -> str:
    """The fitted priors: calibration rows, fitted constants, each accelerator's prior."""
    p = default_priors()
    out = [
        "| calibration row | generation | devices | u = 6ND / (device-s x peak) | s = power / TDP |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in calibration_runs():
        out.append(
            f"| {r.name} | {r.generation} | {r.devices:,} | {r.utilisation:.3f} | "
            f"{r.power_share:.3f} |"
        )
    for b in benchmark_rows():
        out.append(
            f"| Megatron-LM {b.params / 1e9:g}B (benchmark) | {b.generation} | {b.devices:,} | "
            f"{b.utilisation:.3f} | - |"
        )
    out += [
        "",
        "| fitted constant | u (utilisation) | s (power share) |",
        "| --- | ---: | ---: |",
    ]
    for gen in sorted(set(p.u.groups) | set(p.s.groups)):
        gu = p.u.groups.get(gen)
        gs = p.s.groups.get(gen)
        cell_u = f"{math.exp(gu.ln_mean):.3f} (n = {gu.n_eff})" if gu else "-"
        cell_s = f"{math.exp(gs.ln_mean):.3f} (n = {gs.n_eff})" if gs else "-"
        out.append(f"| centre, {gen} | {cell_u} | {cell_s} |")
    out += [
        f"| grand mean of the centres | {math.exp(p.u.grand_ln):.3f} | "
        f"{math.exp(p.s.grand_ln):.3f} |",
        f"| sigma_w (pooled within generation) | {p.u.sigma_w:.3f} | {p.s.sigma_w:.3f} |",
        f"| degrees of freedom | {p.u.df:g} | {p.s.df:g} |",
        f"| t(0.9, df) / z(0.9) | {p.u.t_factor:.3f} | {p.s.t_factor:.3f} |",
        f"| tau (between generations) | {p.u.tau:.3f} | {p.s.tau:.3f} |",
        f"| slope standard error per decade of devices | {p.slope_se:.3f} | - |",
        f"| calibrated device range | {p.device_range[0]:,}-{p.device_range[1]:,} | - |",
        "",
        "| accelerator | u median (80%) at 1,024 devices | s median (80%) | power W (80%) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for a in list_accelerators():
        u = p.utilisation(a, 1024)
        s = p.power_share(a)
        out.append(
            f"| {a.name} | {u.median:.3f} ({u.low:.3f}-{u.high:.3f}) | "
            f"{s.median:.3f} ({s.low:.3f}-{s.high:.3f}) | "
            f"{s.median * a.tdp_w:.0f} ({s.low * a.tdp_w:.0f}-{s.high * a.tdp_w:.0f}) |"
        )
    return "\n".join(out) + "\n"


def reproduction_tables() -> str:
    """Section 4.1 of docs/prediction.md."""
    return "".join(
        [
            "#### With published efficiency, power and FLOP count\n\n",
            _table(reproduce_calibration(), interval=False),
            "\n#### With published efficiency and power, FLOPs = 6 N D\n\n",
            _table(reproduce_calibration(published_flops=False), interval=False),
        ]
    )


def blind_tables() -> str:
    """Section 4.2 of docs/prediction.md."""
    return "".join(
        [
            "#### Blind, leave-one-out priors\n\n",
            _table(blind_validation(leave_one_out=True), interval=True),
            "\n#### Blind, in-sample priors\n\n",
            _table(blind_validation(leave_one_out=False), interval=True),
        ]
    )


def markdown_tables() -> str:
    """The validation tables of docs/prediction.md."""
    return reproduction_tables() + "\n" + blind_tables()
