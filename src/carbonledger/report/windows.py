"""A run's windows summarised by name pattern, for runs with many of them (a window per
step, per request...).

A window's pattern is its path with every run of digits replaced by ``#``
(``epoch-12/train`` -> ``epoch-#/train``, ``step-19999`` -> ``step-#``). Each pattern's
:class:`WindowGroup` holds the number of windows, their total energy, duration and CO2e, the
mean, median (p50) and 90th percentile (p90) of the energy per window, its smallest and
largest, and the few largest windows by name. Percentiles are measured from the windows
themselves (linear interpolation between order statistics, as
``statistics.quantiles(method="inclusive")``); they are None when only totals are known.

The figures come from the run's windows (``RunSummary.windows``, as the ledger returns them)
or, for the patterns whose windows a tracker counted without keeping each one, from
``RunSummary.extra["window_stats"]`` (pattern -> ``count``, ``energy_j``,
``mean_energy_j``, ``min_energy_j``, ``max_energy_j``, ``duration_s``, ``co2e_g``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.models import RunSummary, WindowSummary, window_pattern

__all__ = ["LARGEST", "WindowGroup", "group_windows", "window_pattern"]

#: how many of a pattern's largest windows are named
LARGEST = 3


@dataclass(frozen=True)
class WindowGroup:
    """The windows of one pattern: count and totals (energy J, duration s, CO2e g), energy
    per window (mean, p50, p90, min, max, J; p50/p90 None when only totals are known) and
    the largest windows as ``(path, energy_j)``, largest first."""

    pattern: str
    count: int
    energy_j: float
    duration_s: float
    co2e_g: float | None
    mean_energy_j: float
    min_energy_j: float
    max_energy_j: float
    p50_energy_j: float | None = None
    p90_energy_j: float | None = None
    largest: tuple[tuple[str, float], ...] = ()
    first_started_unix_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "count": self.count,
            "energy_j": self.energy_j,
            "duration_s": self.duration_s,
            "co2e_g": self.co2e_g,
            "mean_energy_j": self.mean_energy_j,
            "min_energy_j": self.min_energy_j,
            "max_energy_j": self.max_energy_j,
            "p50_energy_j": self.p50_energy_j,
            "p90_energy_j": self.p90_energy_j,
            "largest": [{"path": p, "energy_j": e} for p, e in self.largest],
        }


def _from_windows(pattern: str, windows: Sequence[WindowSummary]) -> WindowGroup:
    energies = [w.energy_j for w in windows]
    ordered = sorted(energies)
    if len(ordered) >= 2:
        cuts = statistics.quantiles(ordered, n=10, method="inclusive")
        p50, p90 = statistics.median(ordered), cuts[8]
    else:
        p50 = p90 = ordered[0]
    co2e = [w.co2e_g for w in windows]
    biggest = sorted(windows, key=lambda w: (-w.energy_j, w.started_unix_s))[:LARGEST]
    return WindowGroup(
        pattern=pattern,
        count=len(windows),
        energy_j=math.fsum(energies),
        duration_s=math.fsum(w.duration_s for w in windows),
        co2e_g=None if any(c is None for c in co2e) else math.fsum(c for c in co2e if c),
        mean_energy_j=math.fsum(energies) / len(energies),
        min_energy_j=ordered[0],
        max_energy_j=ordered[-1],
        p50_energy_j=p50,
        p90_energy_j=p90,
        largest=tuple((w.path, w.energy_j) for w in biggest),
        first_started_unix_s=min(w.started_unix_s for w in windows),
    )


def _number(stats: Mapping[str, Any], key: str) -> float | None:
    value = stats.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _from_stats(pattern: str, stats: Mapping[str, Any]) -> WindowGroup | None:
    n = stats.get("count")
    energy_j = _number(stats, "energy_j")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0 or energy_j is None:
        return None
    mean = _number(stats, "mean_energy_j")
    mean = energy_j / n if mean is None else mean
    low, high = _number(stats, "min_energy_j"), _number(stats, "max_energy_j")
    return WindowGroup(
        pattern=pattern,
        count=n,
        energy_j=energy_j,
        duration_s=_number(stats, "duration_s") or 0.0,
        co2e_g=_number(stats, "co2e_g"),
        mean_energy_j=mean,
        min_energy_j=mean if low is None else low,
        max_energy_j=mean if high is None else high,
    )


def group_windows(summary: RunSummary) -> list[WindowGroup]:
    """The run's windows by pattern, in the order each pattern first ran (patterns known
    only from ``extra["window_stats"]`` after them, by name). A pattern whose tracker
    statistics count more windows than the summary holds takes those totals (without
    percentiles)."""
    by_pattern: dict[str, list[WindowSummary]] = {}
    for w in sorted(summary.windows, key=lambda w: w.started_unix_s):
        by_pattern.setdefault(window_pattern(w.path), []).append(w)
    groups = {p: _from_windows(p, ws) for p, ws in by_pattern.items()}
    stats = summary.extra.get("window_stats")
    if isinstance(stats, Mapping):
        for pattern in sorted(stats, key=str):
            entry = stats[pattern]
            if not isinstance(entry, Mapping):
                continue
            group = _from_stats(str(pattern), entry)
            known = groups.get(str(pattern))
            if group is not None and (known is None or group.count > known.count):
                groups[str(pattern)] = group
    return list(groups.values())
