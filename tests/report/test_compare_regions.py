"""compare_runs (deltas, uncertainty, spread, metrics) and rank_regions."""

from __future__ import annotations

import json
import math
from pathlib import Path

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


def _placed(rid: str, energy_j: float, location: str, intensity: float, pue: float,
            scope: str = "process", source: str = "t") -> RunSummary:  # fmt: skip
    comp = ComponentEnergy("gpu", "gpu:0", "nvml", True, energy_j, 10.0)
    return account(
        RunFacts(rid, "p", "e", "completed", 0.0, 10.0, scope=scope), (comp,),
        CarbonContext(location, "a", intensity, source, pue, "a"),
    )  # fmt: skip


def test_the_co2e_delta_splits_exactly_over_energy_pue_and_intensity() -> None:
    a = [_placed("a", 1000.0, "FR", 50.0, 1.0)]
    b = [_placed("b", 1100.0, "DE", 400.0, 1.2)]
    result = compare_runs(a, b)
    shares = result.co2e_shares
    assert shares is not None and sum(shares.values()) == pytest.approx(1.0)
    # the grid moved CO2e by a factor 8, the energy by 1.1, the PUE by 1.2: logs set the parts
    assert shares["intensity"] / shares["energy"] == pytest.approx(math.log(8) / math.log(1.1))
    assert shares["pue"] / shares["energy"] == pytest.approx(math.log(1.2) / math.log(1.1))
    kinds = {m.kind: m for m in result.mismatches}
    assert set(kinds) == {"location", "pue"}  # same scope; the location covers the source
    assert (kinds["location"].a, kinds["location"].b) == ("FR", "DE")
    assert kinds["location"].co2e_share == pytest.approx(shares["intensity"])
    assert kinds["location"].co2e_share > 0.8  # the grid explains most of the delta
    assert result.to_dict()["mismatches"][0]["kind"] == "location"


def test_alike_sides_have_no_mismatch_and_scope_or_source_is_named() -> None:
    same = compare_runs([_placed("a", 1000.0, "FR", 50.0, 1.0)],
                        [_placed("b", 800.0, "FR", 50.0, 1.0)])  # fmt: skip
    assert same.mismatches == ()
    assert same.co2e_shares is not None and same.co2e_shares["energy"] == pytest.approx(1.0)
    scoped = compare_runs(
        [_placed("a", 1000.0, "FR", 50.0, 1.0, scope="process")],
        [_placed("b", 3000.0, "FR", 56.0, 1.0, scope="machine", source="other dataset")],
    )
    kinds = {m.kind: m for m in scoped.mismatches}
    assert set(kinds) == {"scope", "intensity_source"}
    assert (kinds["scope"].a, kinds["scope"].b, kinds["scope"].factor) == (
        "process", "machine", "energy")  # fmt: skip
    assert kinds["intensity_source"].b == "other dataset"


def test_compare_prints_the_mismatches_with_their_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import carbonledger as cl
    from carbonledger.cli.main import main
    from carbonledger.testing import FakeClock, FakeSensor

    ledger = tmp_path / "ledger.db"
    clock = FakeClock(1000.0)
    ids = []
    for country, watts in (("FR", 100.0), ("DE", 90.0)):
        sensor = FakeSensor(cl.SensorInfo("gpu", "gpu:0", "fake", True), watts, clock)
        tracker = cl.Tracker(sensors=[sensor], ledger=str(ledger), country=country,
                             handle_signals=False, clock=clock)  # fmt: skip
        tracker.start()
        clock.advance(60)
        ids.append(tracker.stop().run_id)
    assert main(["compare", *ids, "--ledger", str(ledger)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("warning:"))
    assert "differ in location (A: FR; B: DE)" in line and "grid intensity explains" in line
    assert "CO2e delta explained by: IT energy" in out
    assert main(["compare", *ids, "--ledger", str(ledger), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["kind"] for m in data["mismatches"]] == ["location"]
    assert data["mismatches"][0]["co2e_share"] > 0.9
