"""The one accounting step used by the tracker and the ledger."""

from __future__ import annotations

import pytest

from carbonledger.accounting import (
    CarbonContext,
    EmbodiedCarbon,
    HourlyIntensity,
    RunFacts,
    account,
    window_co2e_g,
)
from carbonledger.models import ComponentEnergy

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
