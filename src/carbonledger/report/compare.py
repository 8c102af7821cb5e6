"""A/B comparison of runs: deltas of energy, CO2e, duration and logged metrics.

Each side is one run or several (repeats). For every quantity:

* ``a`` and ``b`` are the means of the side's runs, ``delta = b - a`` and
  ``delta_pct = 100 * delta / a`` (None when ``a`` is 0).
* **Measurement uncertainty** (energy and CO2e): each side's range is the mean of its
  runs' ``low`` and ``high`` bounds (estimated components carry a range, measured ones
  none). ``exceeds_uncertainty`` is True when the two ranges do not overlap: the
  difference cannot be explained by the estimation models' own error bands. A side
  that is fully measured has a zero-width range.
* **Run-to-run spread** (needs at least 2 runs on each side): with the sample standard
  deviations ``s_a``, ``s_b`` and counts ``n_a``, ``n_b``, the standard error of the
  difference is ``se = sqrt(s_a²/n_a + s_b²/n_b)`` (Welch). ``exceeds_spread`` is True
  when ``|delta| > 2·se`` (about a 95 % two-sided level for normal noise, a rule of
  thumb for small samples, not a test with an exact p-value); None when either side has
  a single run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonledger.errors import InputError
from carbonledger.models import RunSummary

__all__ = ["Comparison", "Delta", "compare_runs"]

#: how many standard errors a difference must exceed to stand out of the spread
SPREAD_FACTOR = 2.0


@dataclass(frozen=True)
class Delta:
    """One quantity compared: side means, difference (absolute and %), and whether it
    stands out of the measurement uncertainty and of the run-to-run spread."""

    name: str
    unit: str
    a: float
    b: float
    delta: float
    delta_pct: float | None
    a_range: tuple[float, float] | None = None
    b_range: tuple[float, float] | None = None
    exceeds_uncertainty: bool | None = None
    stderr: float | None = None
    exceeds_spread: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "a": self.a,
            "b": self.b,
            "delta": self.delta,
            "delta_pct": self.delta_pct,
            "a_range": None if self.a_range is None else list(self.a_range),
            "b_range": None if self.b_range is None else list(self.b_range),
            "exceeds_uncertainty": self.exceeds_uncertainty,
            "stderr": self.stderr,
            "exceeds_spread": self.exceeds_spread,
        }


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_runs`: run ids per side and one :class:`Delta` per
    quantity (energy_j, co2e_g, duration_s, then each metric logged on both sides)."""

    a_runs: tuple[str, ...]
    b_runs: tuple[str, ...]
    deltas: tuple[Delta, ...]
    method: str = field(default=__doc__ or "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "a_runs": list(self.a_runs),
            "b_runs": list(self.b_runs),
            "deltas": [d.to_dict() for d in self.deltas],
            "spread_rule": f"|delta| > {SPREAD_FACTOR:g} * sqrt(s_a^2/n_a + s_b^2/n_b)",
            "uncertainty_rule": "the sides' [low, high] ranges do not overlap",
        }


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _delta(
    name: str,
    unit: str,
    a_vals: Sequence[float],
    b_vals: Sequence[float],
    a_bounds: Sequence[tuple[float, float]] | None = None,
    b_bounds: Sequence[tuple[float, float]] | None = None,
) -> Delta:
    a, b = _mean(a_vals), _mean(b_vals)
    diff = b - a
    pct = None if a == 0 else 100.0 * diff / a
    a_range = b_range = None
    exceeds_unc = None
    if a_bounds and b_bounds:
        a_range = (_mean([lo for lo, _ in a_bounds]), _mean([hi for _, hi in a_bounds]))
        b_range = (_mean([lo for lo, _ in b_bounds]), _mean([hi for _, hi in b_bounds]))
        exceeds_unc = b_range[0] > a_range[1] or b_range[1] < a_range[0]
    stderr = exceeds_spread = None
    if len(a_vals) >= 2 and len(b_vals) >= 2:
        var_a, var_b = statistics.variance(a_vals), statistics.variance(b_vals)
        stderr = math.sqrt(var_a / len(a_vals) + var_b / len(b_vals))
        exceeds_spread = abs(diff) > SPREAD_FACTOR * stderr
    return Delta(name, unit, a, b, diff, pct, a_range, b_range, exceeds_unc, stderr, exceeds_spread)


def _numeric_metrics(s: RunSummary) -> dict[str, float]:
    metrics = s.extra.get("metrics")
    out: dict[str, float] = {}
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if numeric and math.isfinite(float(value)):
                out[str(key)] = float(value)
    return out


def compare_runs(a: Sequence[RunSummary], b: Sequence[RunSummary]) -> Comparison:
    """Compare side ``a`` (the baseline) with side ``b``; see the module docstring for the
    statistics. Metrics are compared when every run of both sides logged them as numbers.

    :raises InputError: when a side is empty.
    """
    if not a or not b:
        raise InputError("compare needs at least one run on each side (A and B)")
    quantities: list[tuple[str, str, Callable[[RunSummary], float]]] = [
        ("energy_j", "J", lambda s: s.energy_j),
        ("co2e_g", "g", lambda s: s.co2e_g),
        ("duration_s", "s", lambda s: s.duration_s),
    ]
    deltas = []
    for name, unit, get in quantities:
        bounds: dict[str, Callable[[RunSummary], tuple[float, float]]] = {
            "energy_j": lambda s: (s.energy_low_j, s.energy_high_j),
            "co2e_g": lambda s: (s.co2e_low_g, s.co2e_high_g),
        }
        pick = bounds.get(name)
        deltas.append(
            _delta(
                name,
                unit,
                [get(s) for s in a],
                [get(s) for s in b],
                None if pick is None else [pick(s) for s in a],
                None if pick is None else [pick(s) for s in b],
            )
        )
    a_metrics = [_numeric_metrics(s) for s in a]
    b_metrics = [_numeric_metrics(s) for s in b]
    common = set.intersection(*(set(m) for m in a_metrics + b_metrics))
    for key in sorted(common):
        deltas.append(
            _delta(f"metric:{key}", "", [m[key] for m in a_metrics], [m[key] for m in b_metrics])
        )
    return Comparison(tuple(s.run_id for s in a), tuple(s.run_id for s in b), tuple(deltas))
