"""The one accounting step used by the tracker and the ledger."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.accounting import (
    CarbonContext,
    EmbodiedCarbon,
    HourlyIntensity,
    RunFacts,
    account,
    co2e_g,
    co2e_range_g,
    facility_energy_j,
    facility_energy_kwh,
    hourly_co2e_g,
    window_co2e_g,
)
from carbonledger.models import ComponentEnergy, RunSummary
from carbonledger.units import J_PER_KWH

FACTS = RunFacts("r1", "p", "e", "completed", 1_700_000_000.0, 3600.0, "process", ("h",))
CTX = CarbonContext("FR", "argument", 50.0, "table", pue=1.2, pue_source="argument")


def _ce(energy_j: float, measured: bool = True) -> ComponentEnergy:
    low, high = (None, None) if measured else (energy_j * 0.5, energy_j * 2)
    return ComponentEnergy("cpu", "cpu:0", "rapl", measured, energy_j, 3600.0, low, high)


def test_yearly_intensity_market_and_embodied() -> None:
    ctx = CarbonContext("FR", "argument", 50.0, "table", 1.2, "arg", market_g_per_kwh=10.0)
    s = account(FACTS, [_ce(3.6e6)], ctx, embodied=EmbodiedCarbon(7.0))
    assert s.energy_kwh == pytest.approx(1.0)
    assert s.co2e_g == pytest.approx(1.0 * 1.2 * 50.0)
    assert s.market_co2e_g == pytest.approx(1.0 * 1.2 * 10.0)
    assert s.embodied_co2e_g == 7.0 and s.co2e_g < 61  # reported apart, never added
    assert s.intensity_source == "table" and "hourly_fallback" not in s.extra


def test_hourly_overrides_the_yearly_figure_and_says_so() -> None:
    hourly = HourlyIntensity(80.0, "hourly: fake", fallback="2 of 3 hours missing")
    s = account(FACTS, [_ce(3.6e6, measured=False)], CTX, hourly=hourly)
    assert s.intensity_g_per_kwh == 80.0 and s.intensity_source == "hourly: fake"
    assert s.extra["hourly_fallback"] == "2 of 3 hours missing"
    assert s.co2e_low_g == pytest.approx(0.5 * 1.2 * 80.0)
    assert s.co2e_high_g == pytest.approx(2.0 * 1.2 * 80.0)


def test_stored_records_round_trip_and_reject_garbage() -> None:
    h = HourlyIntensity(80.0, "x", None, ((1_700_000_000, 75.0), (1_700_003_600, 85.0)))
    assert HourlyIntensity.from_dict(h.to_dict()) == h
    older = {"intensity_g_per_kwh": 80.0, "source": "x"}  # before per-hour figures were kept
    assert HourlyIntensity.from_dict(older) == HourlyIntensity(80.0, "x")
    for bad in (None, 3, {"intensity_g_per_kwh": "80"}, {"intensity_g_per_kwh": float("nan")},
                {"intensity_g_per_kwh": -1}):  # fmt: skip
        assert HourlyIntensity.from_dict(bad) is None
    e = EmbodiedCarbon(5.0, "m")
    assert EmbodiedCarbon.from_dict(e.to_dict()) == e
    assert EmbodiedCarbon.from_dict(12.5) == EmbodiedCarbon(12.5)  # older ledgers: a number
    assert EmbodiedCarbon.from_dict(True) is None and EmbodiedCarbon.from_dict("x") is None


def test_window_co2e_uses_yearly_intensity_and_pue() -> None:
    assert window_co2e_g(3.6e6, CTX) == pytest.approx(60.0)


# ----------------------------------------------------------------------------- the arithmetic

finite_energy_j = st.floats(0.0, 1e15, allow_nan=False, allow_infinity=False)
pues = st.floats(1.0, 3.0)
# a grid intensity: none, or from a thousandth of a gram to 2 kg per kWh (no subnormals)
intensities = st.just(0.0) | st.floats(1e-3, 2000.0)


def test_co2e_units() -> None:
    # 1 kWh of IT energy at PUE 1.2 from a 50 g/kWh grid: 60 g
    assert co2e_g(J_PER_KWH, pue=1.2, intensity_g_per_kwh=50.0) == pytest.approx(60.0)
    assert co2e_g(0.0, pue=3.0, intensity_g_per_kwh=2000.0) == 0.0
    assert facility_energy_j(1000.0, 1.5) == pytest.approx(1500.0)
    assert facility_energy_kwh(J_PER_KWH, 1.1) == pytest.approx(1.1)


@given(energy=finite_energy_j, pue=pues, intensity=intensities)
def test_co2e_is_kwh_times_pue_times_intensity(energy: float, pue: float, intensity: float) -> None:
    grams = co2e_g(energy, pue=pue, intensity_g_per_kwh=intensity)
    assert math.isfinite(grams) and grams >= 0
    assert grams == pytest.approx(energy / J_PER_KWH * pue * intensity, rel=1e-12, abs=1e-300)
    double = co2e_g(2 * energy, pue=pue, intensity_g_per_kwh=intensity)
    assert double == pytest.approx(2 * grams, rel=1e-12, abs=1e-300)


@given(
    energies=st.lists(finite_energy_j, min_size=3, max_size=3).map(sorted),
    pue=pues,
    intensity=intensities,
)
def test_the_range_holds_the_central_figure(
    energies: list[float], pue: float, intensity: float
) -> None:
    low_j, mid_j, high_j = energies
    r = co2e_range_g(mid_j, low_j, high_j, pue=pue, intensity_g_per_kwh=intensity)
    assert r.low_g <= r.co2e_g <= r.high_g
    assert r.co2e_g == co2e_g(mid_j, pue=pue, intensity_g_per_kwh=intensity)


@given(
    hours=st.dictionaries(
        st.integers(0, 1000).map(lambda h: 1_700_000_000 + 3600 * h),
        # an hour's energy: none, or a microjoule to 1e12 J (about 280 MWh)
        st.tuples(st.just(0.0) | st.floats(1e-6, 1e12), intensities),
        min_size=1,
        max_size=30,
    ),
    pue=pues,
)
def test_hourly_figure_is_each_hour_at_its_intensity(
    hours: dict[int, tuple[float, float]], pue: float
) -> None:
    energy = {h: e for h, (e, _) in hours.items()}
    grid = {h: g for h, (_, g) in hours.items()}
    result = hourly_co2e_g(energy, grid, pue=pue)
    expected = sum(e / J_PER_KWH * pue * g for e, g in hours.values())
    assert result.co2e_g == pytest.approx(expected, rel=1e-9, abs=1e-9)
    if sum(energy.values()) > 0:
        # the energy-weighted mean lies between the cleanest and dirtiest hour used
        used = [g for e, g in hours.values() if e > 0]
        assert result.intensity_g_per_kwh is not None
        assert min(used) * (1 - 1e-9) <= result.intensity_g_per_kwh <= max(used) * (1 + 1e-9)
        # and gives the same grams as the hours one by one
        same = co2e_g(sum(energy.values()), pue=pue, intensity_g_per_kwh=result.intensity_g_per_kwh)
        assert same == pytest.approx(result.co2e_g, rel=1e-9, abs=1e-9)
    else:
        assert result.intensity_g_per_kwh is None


def test_one_intensity_every_hour_is_the_plain_figure() -> None:
    energy = {0: 1e6, 3600: 2.6e6}
    result = hourly_co2e_g(energy, {0: 300.0, 3600: 300.0}, pue=1.1)
    assert result.co2e_g == pytest.approx(co2e_g(3.6e6, pue=1.1, intensity_g_per_kwh=300.0))
    assert result.intensity_g_per_kwh == pytest.approx(300.0)


def test_the_summary_holds_its_co2e_as_values() -> None:
    s = account(FACTS, [_ce(3.6e6, measured=False)], CTX)
    assert (s.co2e_low_g, s.co2e_g, s.co2e_high_g) == pytest.approx((30.0, 60.0, 120.0))
    assert s.co2e_kg == pytest.approx(0.06)
    d = s.to_dict()
    assert d["co2e_g"] == s.co2e_g and d["co2e_low_kg"] == pytest.approx(0.03)
    assert d["co2e_high_kg"] == pytest.approx(0.12)
    assert "co2e_low_g" not in d and "co2e_high_g" not in d  # the JSON format is unchanged
    # a summary built by hand, without the accounting step, holds no made-up figure
    by_hand = RunSummary(
        "r", "p", "e", "completed", 0.0, 1.0, (_ce(3.6e6),), 50.0, "t", "FR", "a", 1.2, "a"
    )
    assert math.isnan(by_hand.co2e_g) and math.isnan(by_hand.co2e_high_g)
