"""compare_runs (deltas, uncertainty, spread, metrics) and rank_regions."""

from __future__ import annotations

import pytest

from carbonledger.accounting import CarbonContext, RunFacts, account
from carbonledger.errors import InputError
from carbonledger.models import ComponentEnergy, RunSummary
from carbonledger.report.compare import compare_runs
from carbonledger.report.regions import NOT_SUGGESTED, rank_regions


def _run(rid: str, energy_j: float, *, spread_j: float = 0.0, **metrics: float) -> RunSummary:
    if spread_j:
        comp = ComponentEnergy("gpu", "gpu:0", "tdp", False, energy_j, 10.0,
                               energy_j - spread_j, energy_j + spread_j)  # fmt: skip
    else:
        comp = ComponentEnergy("gpu", "gpu:0", "nvml", True, energy_j, 10.0)
    extra = {"metrics": dict(metrics)} if metrics else {}
    return account(RunFacts(rid, "p", "e", "completed", 0.0, 10.0), (comp,),
                   CarbonContext("FR", "a", 100.0, "t", 1.0, "a"), extra=extra)  # fmt: skip


def test_single_runs_delta_and_percent() -> None:
    result = compare_runs([_run("a", 1000.0)], [_run("b", 830.0)])
    energy = result.deltas[0]
    assert energy.name == "energy_j"
    assert energy.delta == pytest.approx(-170.0)
    assert energy.delta_pct == pytest.approx(-17.0)
    assert energy.exceeds_uncertainty is True  # both measured: zero-width ranges
    assert energy.exceeds_spread is None  # one run per side: no spread known


def test_estimate_ranges_that_overlap_do_not_exceed_uncertainty() -> None:
    result = compare_runs([_run("a", 1000.0, spread_j=200.0)], [_run("b", 900.0, spread_j=200.0)])
    energy, co2e = result.deltas[0], result.deltas[1]
    assert energy.exceeds_uncertainty is False and co2e.exceeds_uncertainty is False
    assert energy.a_range == pytest.approx((800.0, 1200.0))


def test_run_to_run_spread_decides_with_several_runs() -> None:
    a = [_run("a1", 1000.0), _run("a2", 1010.0), _run("a3", 990.0)]
    clear = compare_runs(a, [_run("b1", 800.0), _run("b2", 805.0), _run("b3", 795.0)])
    assert clear.deltas[0].exceeds_spread is True
    noisy = compare_runs(a, [_run("b1", 1200.0), _run("b2", 700.0), _run("b3", 1050.0)])
    assert noisy.deltas[0].exceeds_spread is False
    assert noisy.deltas[0].stderr is not None and noisy.deltas[0].stderr > 0


def test_metrics_logged_on_both_sides_are_compared() -> None:
    result = compare_runs(
        [_run("a", 10.0, accuracy=0.90, loss=1.0)], [_run("b", 8.0, accuracy=0.93)]
    )
    names = [d.name for d in result.deltas]
    assert "metric:accuracy" in names and "metric:loss" not in names
    acc = next(d for d in result.deltas if d.name == "metric:accuracy")
    assert acc.delta == pytest.approx(0.03)


def test_empty_side_is_an_input_error() -> None:
    with pytest.raises(InputError, match="each side"):
        compare_runs([], [_run("b", 1.0)])


def test_regions_ranked_with_saving_against_the_reference() -> None:
    options = rank_regions(3.6e6, pue=1.0, reference_g_per_kwh=500.0)
    assert [o.intensity_g_per_kwh for o in options] == sorted(
        o.intensity_g_per_kwh for o in options
    )
    first = options[0]
    assert first.co2e_g == pytest.approx(first.intensity_g_per_kwh)  # 1 kWh
    assert first.saving_g == pytest.approx(500.0 - first.co2e_g)
    codes = {o.code for o in options}
    assert not codes & NOT_SUGGESTED
    assert "FR" in codes and "WORLD" not in codes


def test_territories_only_when_asked_and_clouds_on_request() -> None:
    everything = {o.code for o in rank_regions(3.6e6, include_all=True)}
    assert everything >= NOT_SUGGESTED
    clouds = rank_regions(3.6e6, clouds=["gcp"], countries=False)
    assert clouds and all(o.code.startswith("gcp:") for o in clouds)
    with pytest.raises(InputError, match="unknown cloud provider"):
        rank_regions(1.0, clouds=["nimbus"])
    with pytest.raises(InputError):
        rank_regions(-1.0)
