"""Advice from a run's own numbers: region, start hour, accelerator; estimates with ranges."""

from __future__ import annotations

import pytest

from carbonledger.accounting import CarbonContext, RunFacts, account
from carbonledger.models import ComponentEnergy, RunSummary
from carbonledger.predict.hardware import accelerator
from carbonledger.reduce.advice import advise
from carbonledger.units import j_to_kwh

T0 = 1_714_564_800  # 2024-05-01T12:00:00Z
KWH_J = 3.6e6


def summary(location: str = "DE", intensity: float = 400.0, gpu_model: str = "V100") -> RunSummary:
    return account(
        RunFacts(
            run_id="r1",
            project="p",
            experiment="e",
            status="completed",
            started_unix_s=T0,
            duration_s=2 * 3600,
        ),
        (
            ComponentEnergy("gpu", "gpu:0", "nvml", True, 8 * KWH_J, 7200, model=gpu_model),
            ComponentEnergy(
                "cpu", "cpu", "tdp-model", False, 2 * KWH_J, 7200, 1.6 * KWH_J, 2.4 * KWH_J
            ),
        ),
        CarbonContext(
            location=location,
            location_source="given",
            intensity_g_per_kwh=intensity,
            intensity_source="test",
            pue=1.2,
            pue_source="given",
        ),
    )


def test_largest_savings_first_each_with_a_range() -> None:
    s = summary()
    hourly = {T0 + h * 3600: v for h, v in enumerate([400, 400, 100, 100, 400])}
    hourly.update({T0 - h * 3600: 400.0 for h in range(1, 14)})
    hourly.update({T0 + h * 3600: 400.0 for h in range(5, 16)})
    advice = advise(s, hourly_g_per_kwh=hourly)
    assert {a.kind for a in advice} == {"region", "start_hour", "accelerator"}
    assert [a.saving_g for a in advice] == sorted((a.saving_g for a in advice), reverse=True)
    for a in advice:
        assert a.co2e_now_g == pytest.approx(s.co2e_g)
        assert a.co2e_after_low_g <= a.co2e_after_g <= a.co2e_after_high_g
        assert 0 < a.saving_fraction < 1 and a.method and a.to_dict()["estimated"] is True
    hour = next(a for a in advice if a.kind == "start_hour")
    assert hour.change == "start at 14:00 UTC"
    assert hour.co2e_after_g == pytest.approx(s.co2e_g * 100 / 400)


def test_accelerator_advice_from_the_catalogue() -> None:
    s = summary()
    a = next(x for x in advise(s) if x.kind == "accelerator")
    v100 = accelerator("V100")
    best_name = a.change.split("use ")[1].split(" instead")[0]
    best = accelerator(best_name)
    assert best.peak_tflops / best.tdp_w > v100.peak_tflops / v100.tdp_w
    assert best.memory_gb >= v100.memory_gb
    gpu_kwh = 8 * (v100.peak_tflops / v100.tdp_w) / (best.peak_tflops / best.tdp_w)
    cpu_kwh = 2 * v100.peak_tflops / best.peak_tflops
    assert a.co2e_after_g == pytest.approx((gpu_kwh + cpu_kwh) * 1.2 * 400)


def test_region_advice_and_limits() -> None:
    s = summary(location="aws:eu-central-1", intensity=400)
    advice = advise(s, limit=1)
    assert len(advice) == 1
    region = next(a for a in advise(s) if a.kind == "region")
    assert "(same geography)" in region.change and region.change != "run in aws:eu-central-1"
    assert j_to_kwh(s.energy_j) == pytest.approx(10)


def test_nothing_to_advise_for_an_empty_or_clean_run() -> None:
    s = summary(intensity=0.0)
    assert advise(s) == []
    no_gpu = summary(gpu_model="no-such-gpu")
    assert all(a.kind != "accelerator" for a in advise(no_gpu))


def test_format_advice_for_show_and_reports() -> None:
    from carbonledger.reduce.advice import format_advice

    lines = format_advice(advise(summary()))
    assert lines[0].startswith("To cut this run's CO2e")
    assert len(lines) == 3 and all(" CO2e instead of " in line for line in lines[1:])
    assert all(line.rstrip(")").endswith(("g", "kg", "t")) for line in lines[1:])
    assert format_advice([]) == []
