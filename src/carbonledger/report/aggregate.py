"""What several runs add up to, for the dashboard's pages and the reports: totals with their
ranges and measured share, totals per month (for the organisation or per project), a filter
over runs, labels that name a run by its name and date, and experiments compared with
:func:`carbonledger.report.compare.compare_runs`.

**Ranges of a total.** A total's low end is the sum of its runs' low ends and its high end
the sum of their high ends: the estimates' errors are taken as fully correlated (the same
model over- or under-estimates every run the same way), which gives the widest range, never
one narrower than the runs' own. A measured component has no range (low = high = value).

**Measured share of a total.** The energy from hardware counters over the whole energy of
the runs (not a mean of the runs' shares).

**Months** are calendar months of UTC, a run counted whole in the month it started.

Reads nothing: every function takes :class:`~carbonledger.models.RunSummary` values (from
``Ledger.list_runs`` or ``Ledger.summary``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from carbonledger.models import RunSummary
from carbonledger.report.compare import Comparison, compare_runs

__all__ = [
    "COMPARED_STATUS",
    "ExperimentComparison",
    "MonthTotals",
    "RunFilter",
    "Totals",
    "compare_experiments",
    "month_of",
    "monthly_totals",
    "run_label",
    "run_labels",
    "run_tags",
    "totals",
]

#: the runs an experiment comparison takes: finished ones (a running run's figures are
#: partial; a failed or interrupted one did not do the work)
COMPARED_STATUS = "completed"


@dataclass(frozen=True)
class Totals:
    """Several runs added up: energy (J) and CO2e (g) with their ranges (see the module
    docstring), the measured energy (J), the summed duration (s) and the first and last
    start (Unix s; None when there is no run). ``damaged`` runs (a record that cannot be
    read: no figure is known) are counted apart and left out of every sum."""

    runs: int = 0
    energy_j: float = 0.0
    energy_low_j: float = 0.0
    energy_high_j: float = 0.0
    measured_j: float = 0.0
    co2e_g: float = 0.0
    co2e_low_g: float = 0.0
    co2e_high_g: float = 0.0
    duration_s: float = 0.0
    first_started_unix_s: float | None = None
    last_started_unix_s: float | None = None
    damaged: int = 0

    @property
    def measured_share(self) -> float:
        """Share (0..1) of the energy that hardware counters measured."""
        return self.measured_j / self.energy_j if self.energy_j > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "energy_j": self.energy_j,
            "energy_low_j": self.energy_low_j,
            "energy_high_j": self.energy_high_j,
            "measured_share": self.measured_share,
            "co2e_g": self.co2e_g,
            "co2e_low_g": self.co2e_low_g,
            "co2e_high_g": self.co2e_high_g,
            "duration_s": self.duration_s,
            "first_started_unix_s": self.first_started_unix_s,
            "last_started_unix_s": self.last_started_unix_s,
            "damaged": self.damaged,
        }


def totals(summaries: Iterable[RunSummary]) -> Totals:
    """The runs added up (see the module docstring for the ranges and the measured share)."""
    every = list(summaries)
    runs = [s for s in every if s.status != "damaged"]
    if not runs:
        return Totals(damaged=len(every))
    starts = [s.started_unix_s for s in runs]
    return Totals(
        damaged=len(every) - len(runs),
        runs=len(runs),
        energy_j=math.fsum(s.energy_j for s in runs),
        energy_low_j=math.fsum(s.energy_low_j for s in runs),
        energy_high_j=math.fsum(s.energy_high_j for s in runs),
        measured_j=math.fsum(c.energy_j for s in runs for c in s.components if c.measured),
        co2e_g=math.fsum(s.co2e_g for s in runs),
        co2e_low_g=math.fsum(s.co2e_low_g for s in runs),
        co2e_high_g=math.fsum(s.co2e_high_g for s in runs),
        duration_s=math.fsum(s.duration_s for s in runs),
        first_started_unix_s=min(starts),
        last_started_unix_s=max(starts),
    )


@dataclass(frozen=True)
class RunFilter:
    """Which runs to keep: a project, an experiment, a status, tags (``(key, value)`` pairs;
    a value of None: the tag is set, whatever its value) and a start in
    ``[since_unix_s, until_unix_s)``. An unset criterion keeps every run."""

    project: str | None = None
    experiment: str | None = None
    status: str | None = None
    tags: tuple[tuple[str, str | None], ...] = ()
    since_unix_s: float | None = None
    until_unix_s: float | None = None

    def matches(self, s: RunSummary) -> bool:
        if self.project is not None and s.project != self.project:
            return False
        if self.experiment is not None and s.experiment != self.experiment:
            return False
        if self.status is not None and s.status != self.status:
            return False
        if self.since_unix_s is not None and s.started_unix_s < self.since_unix_s:
            return False
        if self.until_unix_s is not None and s.started_unix_s >= self.until_unix_s:
            return False
        if self.tags:
            tags = run_tags(s)
            for key, value in self.tags:
                if key not in tags or (value is not None and tags[key] != value):
                    return False
        return True

    def apply(self, summaries: Iterable[RunSummary]) -> list[RunSummary]:
        """The runs that match, in their order."""
        return [s for s in summaries if self.matches(s)]


def run_tags(s: RunSummary) -> dict[str, str]:
    """The run's tags as recorded (``{}`` when it has none)."""
    tags = s.extra.get("tags")
    if not isinstance(tags, dict):
        return {}
    return {str(k): str(v) for k, v in tags.items()}


def month_of(unix_s: float) -> str:
    """The UTC calendar month of a moment: ``"2024-05"``."""
    return datetime.fromtimestamp(unix_s, tz=timezone.utc).strftime("%Y-%m")


def _months_between(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


@dataclass(frozen=True)
class MonthTotals:
    """One UTC month: its runs' totals, and the same per project (or per experiment)."""

    month: str
    totals: Totals
    parts: dict[str, Totals] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            **self.totals.to_dict(),
            "parts": {k: v.to_dict() for k, v in self.parts.items()},
        }


def monthly_totals(summaries: Iterable[RunSummary], by: str = "project") -> list[MonthTotals]:
    """Totals per UTC month of the runs' starts, oldest first, every month from the first
    run's to the last run's (a month without runs holds zero totals, so a chart shows the
    gap); each month split by ``by``: ``"project"`` or ``"experiment"``."""
    if by not in ("project", "experiment"):
        raise ValueError(f"monthly totals split by project or experiment, not {by!r}")
    groups: dict[str, list[RunSummary]] = {}
    for s in summaries:
        groups.setdefault(month_of(s.started_unix_s), []).append(s)
    if not groups:
        return []
    out = []
    for month in _months_between(min(groups), max(groups)):
        runs = groups.get(month, [])
        parts: dict[str, list[RunSummary]] = {}
        for s in runs:
            parts.setdefault(s.project if by == "project" else s.experiment, []).append(s)
        out.append(
            MonthTotals(month, totals(runs), {k: totals(v) for k, v in sorted(parts.items())})
        )
    return out


def run_label(s: RunSummary) -> str:
    """A run named for people: its ``name`` tag, else its experiment, and its start (UTC,
    to the minute): ``"gelu 2024-05-01 12:00"`` (control characters written as escapes:
    :func:`~carbonledger.report.text.printable`)."""
    from carbonledger.report.text import printable

    name = run_tags(s).get("name") or s.experiment
    at = datetime.fromtimestamp(s.started_unix_s, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    return printable(f"{name} {at}")


def run_labels(summaries: Sequence[RunSummary]) -> list[str]:
    """:func:`run_label` of each run, made unique (charts draw one bar per distinct label):
    runs that would share a label get the start's seconds, then the run id's first 8
    characters."""
    labels = [run_label(s) for s in summaries]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    out = []
    for s, label in zip(summaries, labels, strict=True):
        if seen[label] > 1:
            seconds = datetime.fromtimestamp(s.started_unix_s, tz=timezone.utc).strftime(":%S")
            label = f"{label}{seconds} ({s.run_id[:8]})"
        out.append(label)
    return out


@dataclass(frozen=True)
class ExperimentComparison:
    """One experiment of a project: the totals of all its runs, how many of them were
    compared (:data:`COMPARED_STATUS`), and its comparison with the baseline experiment
    (None for the baseline itself, or when either side has no compared run)."""

    experiment: str
    totals: Totals
    compared_runs: int
    comparison: Comparison | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "totals": self.totals.to_dict(),
            "compared_runs": self.compared_runs,
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
        }


def compare_experiments(
    summaries: Iterable[RunSummary], baseline: str | None = None
) -> tuple[str | None, list[ExperimentComparison]]:
    """Each experiment of ``summaries`` (one project's runs) compared with ``baseline`` (by
    default the experiment whose first run started first) by
    :func:`~carbonledger.report.compare.compare_runs` over their completed runs: side A the
    baseline's, side B the experiment's. Returns the baseline used and one entry per
    experiment, the baseline first, then by first start. ``baseline`` names an experiment
    that is not among the runs: ValueError."""
    by_experiment: dict[str, list[RunSummary]] = {}
    for s in sorted(summaries, key=lambda s: (s.started_unix_s, s.run_id)):
        by_experiment.setdefault(s.experiment, []).append(s)
    if not by_experiment:
        return None, []
    if baseline is None:
        baseline = next(iter(by_experiment))
    elif baseline not in by_experiment:
        raise ValueError(f"no experiment {baseline!r} among these runs")
    done = {k: [s for s in v if s.status == COMPARED_STATUS] for k, v in by_experiment.items()}
    order = [baseline] + [k for k in by_experiment if k != baseline]
    out = []
    for name in order:
        comparison = None
        if name != baseline and done[name] and done[baseline]:
            comparison = compare_runs(done[baseline], done[name])
        out.append(
            ExperimentComparison(name, totals(by_experiment[name]), len(done[name]), comparison)
        )
    return baseline, out
