"""inference() and forecast()."""

from __future__ import annotations

import random

import pytest

from carbonledger.errors import InputError
from carbonledger.predict import forecast, inference


def serve(**kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "params": 7e9,
        "accelerator": "A100",
        "grid_g_per_kwh": 400,
        "input_tokens": 500,
        "output_tokens": 500,
    }
    args.update(kw)
    return inference(**args)  # type: ignore[arg-type]


def test_batch_one_decode_is_bandwidth_bound() -> None:
    est = serve(batch_size=1)
    assert est.regime == "memory-bound"
    # 500 tokens, each reading 14 GB of weights at 0.7 x 2,039 GB/s
    t_decode = 500 * 14e9 / (0.7 * 2039e9)
    assert est.device_seconds_per_request == pytest.approx(t_decode, rel=0.02)
    assert est.energy_per_1k_tokens_wh == pytest.approx(est.energy_per_request_wh, rel=1e-9)
    assert (
        est.energy_per_1k_tokens_wh_low
        < est.energy_per_1k_tokens_wh
        < est.energy_per_1k_tokens_wh_high
    )


def test_larger_batches_cost_less_per_token() -> None:
    costs = [serve(batch_size=b).energy_per_1k_tokens_wh for b in (1, 8, 64, 512)]
    assert costs == sorted(costs, reverse=True)
    assert serve(batch_size=4096).regime == "compute-bound"


def test_given_utilisation_is_compute_time() -> None:
    est = serve(utilisation=0.5, avg_power_w=400, pue=1.2)
    seconds = 2 * 7e9 * 1000 / (0.5 * 312e12)
    assert est.device_seconds_per_request == pytest.approx(seconds)
    assert est.energy_per_request_wh == pytest.approx(seconds * 400 * 1.2 / 3600)
    assert est.co2e_per_request_g == pytest.approx(seconds * 400 * 1.2 / 3.6e6 * 400)
    assert est.energy_per_request_wh_low == est.energy_per_request_wh_high


def test_deployment_totals() -> None:
    est = serve(batch_size=8, requests_per_day=1e6, days=30)
    d = est.to_dict()
    assert est.total_requests == 3e7
    assert d["deployment_energy_kwh"] == pytest.approx(est.energy_per_request_wh * 3e7 / 1000)
    assert d["deployment_co2e_kg"] == pytest.approx(est.co2e_per_request_g * 3e7 / 1000)
    assert d["deployment_embodied_kg"] > 0
    assert d["deployment_co2e_kg_low"] < d["deployment_co2e_kg"] < d["deployment_co2e_kg_high"]
    assert serve().to_dict()["deployment_co2e_kg"] is None


def test_moe_reads_only_the_experts_it_uses_at_batch_one() -> None:
    dense = serve(params=47e9, devices=2)
    moe = serve(params=47e9, active_params=13e9, devices=2)
    assert moe.energy_per_1k_tokens_wh < dense.energy_per_1k_tokens_wh / 3


def test_inference_bad_input() -> None:
    with pytest.raises(InputError):
        serve(batch_size=0)
    with pytest.raises(InputError):
        serve(utilisation=2)
    with pytest.raises(InputError, match="at least one token"):
        serve(input_tokens=0, output_tokens=0)
    with pytest.raises(InputError, match="cannot exceed"):
        serve(params=7e9, active_params=8e9)


# --- forecast --------------------------------------------------------------------------


def epochs(n: int, seed: int = 0) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    e = [150e3] + [100e3 * (1 + 0.03 * rng.gauss(0, 1)) for _ in range(n - 1)]
    return e, [60.0] + [40.0] * (n - 1)


def test_forecast_needs_a_window_and_a_sane_total() -> None:
    with pytest.raises(InputError, match="at least one measured window"):
        forecast([], [], 10, intensity_g_per_kwh=300)
    with pytest.raises(InputError, match="smaller than the windows already done"):
        forecast([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], 2, intensity_g_per_kwh=300)
    with pytest.raises(InputError, match="durations"):
        forecast([1.0, 2.0], [1.0], 5, intensity_g_per_kwh=300)
    with pytest.raises(InputError):
        forecast([-1.0], [1.0], 5, intensity_g_per_kwh=300)


def test_one_window_gives_a_wide_but_finite_interval() -> None:
    f = forecast([100e3], [40.0], 20, intensity_g_per_kwh=300)
    assert f.energy_j == pytest.approx(20 * 100e3)
    assert 0 < f.energy_low_j < f.energy_j < f.energy_high_j < float("inf")
    assert f.energy_high_j / f.energy_low_j > 2


def test_interval_narrows_as_windows_accrue() -> None:
    e, d = epochs(20)
    widths = []
    for n in (1, 2, 3, 5, 10, 15, 19, 20):
        f = forecast(e[:n], d[:n], 20, intensity_g_per_kwh=300)
        widths.append((f.energy_high_j - f.energy_low_j) / f.energy_j)
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] == 0


def test_warmup_window_is_left_out_once_there_are_three() -> None:
    e, d = epochs(20)
    two = forecast(e[:2], d[:2], 20, intensity_g_per_kwh=300)
    four = forecast(e[:4], d[:4], 20, intensity_g_per_kwh=300)
    assert not two.warmup_excluded and four.warmup_excluded
    assert four.energy_per_window_j == pytest.approx(sum(e[1:4]) / 3)
    assert four.energy_j == pytest.approx(sum(e[:4]) + 16 * sum(e[1:4]) / 3)
    assert four.duration_s == pytest.approx(60 + 19 * 40)


def test_the_truth_lies_inside_for_stationary_and_drifting_runs() -> None:
    inside = 0
    for seed in range(50):
        e, d = epochs(20, seed)
        f = forecast(e[:5], d[:5], 20, intensity_g_per_kwh=300)
        inside += f.energy_low_j <= sum(e) <= f.energy_high_j
    assert inside >= 40  # 80% nominal
    drift = [100e3 * (1 + 0.05 * i) for i in range(10)]
    f = forecast(drift[:6], [40.0] * 6, 10, intensity_g_per_kwh=300)
    assert f.energy_low_j <= sum(drift) <= f.energy_high_j


def test_forecast_co2e() -> None:
    f = forecast([3.6e6, 3.6e6], [10.0, 10.0], 4, intensity_g_per_kwh=300, pue=1.5)
    assert f.energy_j == pytest.approx(4 * 3.6e6)
    assert f.co2e_g == pytest.approx(4 * 1.5 * 300)
    doc = f.to_dict()
    for key in ("energy_j", "energy_low_j", "energy_high_j", "co2e_g", "co2e_low_g", "co2e_high_g"):
        assert key in doc
    assert doc["windows_done"] == 2 and doc["windows_total"] == 4
