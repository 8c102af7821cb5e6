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

**What the CO2e delta comes from.** A run's CO2e is IT energy x PUE x grid intensity, so
the CO2e delta splits exactly into the part each factor explains with the log-mean Divisia
index (LMDI-I, Ang 2004): ``part_k = L(C_b, C_a) * ln(k_b / k_a)`` with ``L(x, y) =
(x - y) / ln(x / y)``, from each side's mean IT energy, energy-weighted mean PUE and
effective intensity (mean CO2e / (mean energy x PUE), so an hourly intensity counts as the
run had it). ``co2e_shares`` gives each part as a share of the delta (None when a side has
no energy or no CO2e, or the CO2e does not change).

**Sides that are not alike.** :attr:`Comparison.mismatches` names each way A and B differ
that is not the change under test: the **scope** (``process`` counts the process tree's
share, ``machine`` the whole host: the energies count different things), the
**location** (another grid), the **intensity source** (another dataset or year for the same
place) and the **PUE**, each with the share of the CO2e delta its factor explains (scope:
the IT energy's; location and intensity source: the grid intensity's; PUE: the PUE's).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonledger.errors import InputError
from carbonledger.models import RunSummary

__all__ = ["Comparison", "Delta", "Mismatch", "co2e_shares", "compare_runs"]

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
class Mismatch:
    """One way sides A and B differ besides the change under test: ``kind`` (``scope``,
    ``location``, ``intensity_source``, ``pue``), each side's value (several joined by
    ``", "`` when a side's runs differ among themselves), the factor of the CO2e it moves
    (``energy``, ``intensity``, ``pue``) and the share (0..1, may be negative or above 1
    when factors pull apart) of the CO2e delta that factor explains, None when unknown."""

    kind: str
    a: str
    b: str
    factor: str
    co2e_share: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "a": self.a,
            "b": self.b,
            "factor": self.factor,
            "co2e_share": self.co2e_share,
        }


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_runs`: run ids per side, one :class:`Delta` per
    quantity (energy_j, co2e_g, duration_s, then each metric logged on both sides), the
    share of the CO2e delta each factor explains (``energy``, ``pue``, ``intensity``) and
    the ways the sides differ that are not the change under test (:class:`Mismatch`)."""

    a_runs: tuple[str, ...]
    b_runs: tuple[str, ...]
    deltas: tuple[Delta, ...]
    method: str = field(default=__doc__ or "")
    co2e_shares: dict[str, float] | None = None
    mismatches: tuple[Mismatch, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "a_runs": list(self.a_runs),
            "b_runs": list(self.b_runs),
            "deltas": [d.to_dict() for d in self.deltas],
            "spread_rule": f"|delta| > {SPREAD_FACTOR:g} * sqrt(s_a^2/n_a + s_b^2/n_b)",
            "uncertainty_rule": "the sides' [low, high] ranges do not overlap",
            "co2e_shares": self.co2e_shares,
            "co2e_shares_method": "log-mean Divisia index (LMDI-I) of IT energy x PUE x "
            "grid intensity",
            "mismatches": [m.to_dict() for m in self.mismatches],
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


def _factors(side: Sequence[RunSummary]) -> tuple[float, float, float, float] | None:
    """(mean CO2e g, mean IT energy J, energy-weighted mean PUE, effective intensity g/J)
    of a side, or None when its energy or CO2e is not positive and finite."""
    energy = _mean([s.energy_j for s in side])
    co2e = _mean([s.co2e_g for s in side])
    if not (math.isfinite(energy) and math.isfinite(co2e) and energy > 0 and co2e > 0):
        return None
    pue = math.fsum(s.pue * s.energy_j for s in side) / math.fsum(s.energy_j for s in side)
    return co2e, energy, pue, co2e / (energy * pue)


def _log_mean(x: float, y: float) -> float:
    return x if x == y else (x - y) / math.log(x / y)


def co2e_shares(a: Sequence[RunSummary], b: Sequence[RunSummary]) -> dict[str, float] | None:
    """The share of the CO2e delta (B - A) each factor explains: ``energy`` (IT energy),
    ``pue`` and ``intensity`` (grid), summing to 1 (LMDI-I; see the module docstring);
    None when a side has no positive energy or CO2e, or the CO2e is the same."""
    fa, fb = _factors(a), _factors(b)
    if fa is None or fb is None or fa[0] == fb[0]:
        return None
    weight = _log_mean(fb[0], fa[0])
    delta = fb[0] - fa[0]
    return {
        name: weight * math.log(fb[i] / fa[i]) / delta
        for i, name in ((1, "energy"), (2, "pue"), (3, "intensity"))
    }


def _values(side: Sequence[RunSummary], get: Callable[[RunSummary], str]) -> list[str]:
    return sorted({get(s) for s in side})


def _mismatches(
    a: Sequence[RunSummary], b: Sequence[RunSummary], shares: dict[str, float] | None
) -> tuple[Mismatch, ...]:
    from carbonledger.report import format as fmt

    checks: list[tuple[str, str, Callable[[RunSummary], str]]] = [
        ("scope", "energy", lambda s: s.scope),
        ("location", "intensity", lambda s: s.location),
        ("pue", "pue", lambda s: fmt.pue(s.pue)),
    ]
    found = []
    for kind, factor, get in checks:
        va, vb = _values(a, get), _values(b, get)
        if va != vb:
            share = None if shares is None else shares[factor]
            found.append(Mismatch(kind, ", ".join(va), ", ".join(vb), factor, share))
    if not any(m.kind == "location" for m in found):
        va = _values(a, lambda s: s.intensity_source)
        vb = _values(b, lambda s: s.intensity_source)
        if va != vb:
            share = None if shares is None else shares["intensity"]
            found.append(Mismatch("intensity_source", " | ".join(va), " | ".join(vb),
                                  "intensity", share))  # fmt: skip
    return tuple(found)


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
    shares = co2e_shares(a, b)
    return Comparison(
        tuple(s.run_id for s in a),
        tuple(s.run_id for s in b),
        tuple(deltas),
        co2e_shares=shares,
        mismatches=_mismatches(a, b, shares),
    )
