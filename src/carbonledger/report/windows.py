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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from carbonledger.models import RunSummary, WindowSummary, window_pattern

__all__ = [
    "LARGEST",
    "WindowDigest",
    "WindowGroup",
    "digest_windows",
    "group_windows",
    "window_pattern",
]

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


class _Tally:
    """One pattern's windows as they stream by: what :class:`WindowGroup` needs of them (the
    energies for the percentiles, the sums, the largest few), not the windows."""

    __slots__ = ("co2e", "co2e_known", "durations", "energies", "first_started", "largest")

    def __init__(self) -> None:
        self.energies: list[float] = []
        self.durations: list[float] = []
        self.co2e: list[float] = []
        self.co2e_known = True
        self.first_started = math.inf
        #: the largest windows so far as (-energy, started, path), smallest key first
        self.largest: list[tuple[float, float, str]] = []

    def add(self, w: WindowSummary) -> None:
        self.energies.append(w.energy_j)
        self.durations.append(w.duration_s)
        if w.co2e_g is None:
            self.co2e_known = False
        else:
            self.co2e.append(w.co2e_g)
        self.first_started = min(self.first_started, w.started_unix_s)
        key = (-w.energy_j, w.started_unix_s, w.path)
        if len(self.largest) < LARGEST or key[:2] < self.largest[-1][:2]:
            self.largest.append(key)
            self.largest.sort(key=lambda k: (k[0], k[1]))
            del self.largest[LARGEST:]

    def group(self, pattern: str) -> WindowGroup:
        energies = self.energies
        ordered = sorted(energies)
        if len(ordered) >= 2:
            cuts = statistics.quantiles(ordered, n=10, method="inclusive")
            p50, p90 = statistics.median(ordered), cuts[8]
        else:
            p50 = p90 = ordered[0]
        total = math.fsum(energies)
        return WindowGroup(
            pattern=pattern,
            count=len(energies),
            energy_j=total,
            duration_s=math.fsum(self.durations),
            co2e_g=math.fsum(self.co2e) if self.co2e_known else None,
            mean_energy_j=total / len(energies),
            min_energy_j=ordered[0],
            max_energy_j=ordered[-1],
            p50_energy_j=p50,
            p90_energy_j=p90,
            largest=tuple((path, -neg) for neg, _, path in self.largest),
            first_started_unix_s=self.first_started,
        )


@dataclass(frozen=True)
class WindowDigest:
    """A run's windows read once, in the order they began: the first ``keep`` of them
    (``first``), how many there are, and their groups by pattern."""

    first: tuple[WindowSummary, ...]
    count: int
    groups: tuple[WindowGroup, ...]


def digest_windows(
    windows: Iterable[WindowSummary],
    stats: Mapping[str, Any] | None = None,
    *,
    keep: int = 0,
) -> WindowDigest:
    """:func:`group_windows` of ``windows`` (oldest first, as the ledger gives them) read
    one at a time, keeping only the first ``keep`` windows themselves; ``stats`` is a
    tracker's ``extra["window_stats"]``."""
    tallies: dict[str, _Tally] = {}
    first: list[WindowSummary] = []
    count = 0
    for w in windows:
        count += 1
        if len(first) < keep:
            first.append(w)
        pattern = window_pattern(w.path)
        tally = tallies.get(pattern)
        if tally is None:
            tally = tallies[pattern] = _Tally()
        tally.add(w)
    groups = {p: t.group(p) for p, t in tallies.items()}
    if isinstance(stats, Mapping):
        for pattern in sorted(stats, key=str):
            entry = stats[pattern]
            if not isinstance(entry, Mapping):
                continue
            group = _from_stats(str(pattern), entry)
            known = groups.get(str(pattern))
            if group is not None and (known is None or group.count > known.count):
                groups[str(pattern)] = group
    return WindowDigest(tuple(first), count, tuple(groups.values()))


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
    ordered = sorted(summary.windows, key=lambda w: w.started_unix_s)
    return list(digest_windows(ordered, summary.extra.get("window_stats")).groups)
