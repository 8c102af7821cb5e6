"""What several runs add up to (carbonledger.report.aggregate): totals with ranges and
measured share, months with their gaps, the runs filter, run labels, experiments compared.
The runs are made by the one accounting step (``carbonledger.accounting.account``)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from carbonledger.accounting import CarbonContext, RunFacts, account
from carbonledger.models import ComponentEnergy, RunSummary
from carbonledger.report.aggregate import (
    RunFilter,
    compare_experiments,
    monthly_totals,
    run_label,
    run_labels,
    totals,
)
from carbonledger.report.compare import compare_runs

FR = CarbonContext("FR", "argument", 56.0, "test", 1.2, "argument")


def _t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def run(
    run_id: str,
    started: str,
    *,
    measured_j: float = 1000.0,
    estimated_j: float = 0.0,
    project: str = "p",
    experiment: str = "e",
    status: str = "completed",
    tags: dict[str, str] | None = None,
) -> RunSummary:
    comps = [ComponentEnergy("cpu", "cpu:package-0", "rapl", True, measured_j, 60.0)]
    if estimated_j:
        comps.append(ComponentEnergy("ram", "ram", "ram-model", False, estimated_j, 60.0,
                                     0.5 * estimated_j, 1.5 * estimated_j))  # fmt: skip
    facts = RunFacts(run_id, project, experiment, status, _t(started), 60.0)  # type: ignore[arg-type]
    return account(facts, comps, FR, extra={"tags": tags or {}})


def test_totals_add_ranges_and_weigh_the_measured_share_by_energy() -> None:
    a = run("a", "2024-05-01 10:00", measured_j=1000.0)
    b = run("b", "2024-05-02 10:00", measured_j=0.0, estimated_j=3000.0)
    t = totals([a, b])
    assert t.runs == 2
    assert t.energy_j == 4000.0
    assert t.measured_share == 0.25  # 1,000 J of 4,000, not the mean of 100% and 0%
    assert t.co2e_g == pytest.approx(a.co2e_g + b.co2e_g)
    assert t.co2e_low_g == pytest.approx(a.co2e_low_g + b.co2e_low_g)
    assert t.co2e_high_g == pytest.approx(a.co2e_high_g + b.co2e_high_g)
    assert t.co2e_low_g < t.co2e_g < t.co2e_high_g
    assert t.energy_low_j == 1000.0 + 1500.0 and t.energy_high_j == 1000.0 + 4500.0
    assert (t.first_started_unix_s, t.last_started_unix_s) == (a.started_unix_s, b.started_unix_s)
    assert totals([]).runs == 0 and totals([]).measured_share == 0.0


def test_months_run_from_the_first_to_the_last_with_their_gaps() -> None:
    runs = [
        run("a", "2023-12-31 23:59", project="x"),
        run("b", "2024-01-01 00:00", project="x"),
        run("c", "2024-01-15 00:00", project="y", estimated_j=500.0),
        run("d", "2024-03-03 00:00", project="x"),
    ]
    months = monthly_totals(runs)
    assert [m.month for m in months] == ["2023-12", "2024-01", "2024-02", "2024-03"]
    assert [m.totals.runs for m in months] == [1, 2, 0, 1]
    assert set(months[1].parts) == {"x", "y"}
    assert months[1].parts["y"].co2e_high_g == pytest.approx(runs[2].co2e_high_g)
    assert months[2].parts == {} and months[2].totals.co2e_g == 0.0
    by_experiment = monthly_totals(runs, by="experiment")
    assert set(by_experiment[1].parts) == {"e"}
    with pytest.raises(ValueError, match="project or experiment"):
        monthly_totals(runs, by="host")
    assert monthly_totals([]) == []


def test_the_runs_filter() -> None:
    runs = [
        run("a", "2024-05-01 00:00", tags={"seed": "1", "team": "nlp"}),
        run("b", "2024-05-01 23:59", tags={"seed": "2"}, status="failed"),
        run("c", "2024-05-02 00:00", experiment="f"),
    ]
    ids = lambda f: [s.run_id for s in f.apply(runs)]  # noqa: E731
    assert ids(RunFilter()) == ["a", "b", "c"]
    assert ids(RunFilter(tags=(("seed", None),))) == ["a", "b"]
    assert ids(RunFilter(tags=(("seed", "1"), ("team", "nlp")))) == ["a"]
    assert ids(RunFilter(tags=(("seed", "1"), ("team", "cv")))) == []
    assert ids(RunFilter(status="failed")) == ["b"]
    assert ids(RunFilter(experiment="f")) == ["c"]
    may_1 = _t("2024-05-01 00:00")
    assert ids(RunFilter(since_unix_s=may_1, until_unix_s=may_1 + 86400)) == ["a", "b"]
    assert ids(RunFilter(since_unix_s=_t("2024-05-01 00:00:01"))) == ["b", "c"]


def test_run_labels_name_runs_and_are_unique() -> None:
    a = run("aaaaaaaa1111", "2024-05-01 10:00:05", experiment="gelu")
    b = run("bbbbbbbb2222", "2024-05-01 10:00:40", experiment="gelu")
    c = run("cccccccc3333", "2024-05-01 11:00", experiment="gelu", tags={"name": "lr=3e-4"})
    d = run("dddddddd4444", "2024-05-01 12:00", experiment="esc\x1b[2J")
    assert run_label(a) == "gelu 2024-05-01 10:00"
    assert run_label(c) == "lr=3e-4 2024-05-01 11:00"
    assert run_label(d) == "esc\\x1b[2J 2024-05-01 12:00"  # printable
    labels = run_labels([a, b, c])
    assert labels == ["gelu 2024-05-01 10:00:05 (aaaaaaaa)", "gelu 2024-05-01 10:00:40 (bbbbbbbb)",
                      "lr=3e-4 2024-05-01 11:00"]  # fmt: skip


def test_experiments_compared_against_a_baseline() -> None:
    base = [run(f"b{k}", f"2024-05-0{k + 1} 10:00", experiment="base",
                measured_j=1000.0 + 10 * k) for k in range(3)]  # fmt: skip
    gelu = [run(f"g{k}", f"2024-05-0{k + 2} 12:00", experiment="gelu",
                measured_j=1300.0 + 10 * k) for k in range(2)]  # fmt: skip
    failed = run("g9", "2024-05-09 12:00", experiment="gelu", status="failed", measured_j=9e9)
    single = run("s0", "2024-05-09 13:00", experiment="solo")
    baseline, entries = compare_experiments([*gelu, failed, single, *base])
    assert baseline == "base"  # the experiment that ran first
    assert [x.experiment for x in entries] == ["base", "gelu", "solo"]
    assert entries[0].comparison is None
    gelu_entry = entries[1]
    assert gelu_entry.totals.runs == 3 and gelu_entry.compared_runs == 2  # the failed run kept out
    assert gelu_entry.comparison == compare_runs(base, gelu)
    energy = gelu_entry.comparison.deltas[0]
    assert energy.name == "energy_j" and energy.exceeds_spread is True
    solo = entries[2].comparison
    assert solo is not None and solo.deltas[0].exceeds_spread is None  # one run a side
    other, entries = compare_experiments([*base, *gelu], baseline="gelu")
    assert other == "gelu" and entries[1].comparison == compare_runs(gelu, base)
    with pytest.raises(ValueError, match="no experiment 'nope'"):
        compare_experiments(base, baseline="nope")
    assert compare_experiments([]) == (None, [])
