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

from dataclasses import dataclass

from carbonledger.predict.estimate import training
from carbonledger.predict.priors import CalibrationRun, calibration_runs, fit_priors

__all__ = ["Check", "blind_validation", "markdown_tables", "reproduce_calibration"]


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
    summary = f"\nmean |error| {mae:.1%}"
    if interval:
        summary += f"; the 80% interval contains {sum(c.covered for c in checks)} of {len(checks)}"
    return "\n".join(rows) + summary + "\n"


def markdown_tables() -> str:
    """The validation tables of docs/prediction.md."""
    parts = [
        "### With published efficiency, power and FLOP count\n",
        _table(reproduce_calibration(), interval=False),
        "\n### With published efficiency and power, FLOPs = 6 N D\n",
        _table(reproduce_calibration(published_flops=False), interval=False),
        "\n### Blind, leave-one-out priors\n",
        _table(blind_validation(leave_one_out=True), interval=True),
        "\n### Blind, in-sample priors\n",
        _table(blind_validation(leave_one_out=False), interval=True),
    ]
    return "".join(parts)
