"""The priors are derived from the calibration data by the documented procedure."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from carbonledger.predict import accelerator, default_priors, fit_priors
from carbonledger.predict._stats import T90_TABLE, Z80, t90
from carbonledger.predict.priors import benchmark_rows, calibration_runs

SRC = Path(__file__).resolve().parents[2] / "src" / "carbonledger" / "predict"


def test_t_quantiles() -> None:
    # published three-decimal values (NIST/SEMATECH e-Handbook, table 1.3.6.7.2, 0.10)
    for df, published in [(1, 3.078), (3, 1.638), (10, 1.372), (30, 1.310), (100, 1.290)]:
        assert t90(df) == pytest.approx(published, abs=5e-4)
    assert t90(math.inf) == Z80
    values = [t90(df) for df in [*range(1, 400), 10**4, 10**6]]
    assert all(a > b for a, b in itertools.pairwise(values)), "t(0.9, df) falls as df grows"
    assert values[-1] > Z80 and values[-1] - Z80 < 1e-6
    for bad in (0, 0.5, 2.5, -1, math.nan):
        with pytest.raises(ValueError, match="whole number"):
            t90(bad)


def test_t_quantiles_agree_with_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    assert len(T90_TABLE) == 100
    for df in [*range(1, 301), 500, 1000, 10**4, 10**6]:
        assert t90(df) == pytest.approx(float(stats.t.ppf(0.9, df)), rel=1e-11, abs=1e-11)


def test_calibration_tables_hold_the_published_runs() -> None:
    runs = {r.name: r for r in calibration_runs()}
    assert set(runs) == {"T5", "GPT3", "Gshard", "Switch", "XLM"}
    assert runs["GPT3"].efficiency == 0.197 and runs["GPT3"].avg_power_w == 330
    assert all(r.source for r in runs.values())
    assert len(benchmark_rows()) == 10


def test_group_centres_are_geometric_means_of_the_runs() -> None:
    p = default_priors()
    runs = calibration_runs()
    volta = [r.utilisation for r in runs if r.generation == "volta"]
    assert math.exp(p.u.groups["volta"].ln_mean) == pytest.approx(
        math.exp(sum(map(math.log, volta)) / len(volta))
    )
    tpu = [r.power_share for r in runs if r.generation == "tpu-v3"]
    assert math.exp(p.s.groups["tpu-v3"].ln_mean) == pytest.approx(
        math.exp(sum(map(math.log, tpu)) / len(tpu))
    )
    # the ten Megatron rows count as one run
    assert p.u.groups["ampere"].n_eff == 1
    mega = [b.utilisation for b in benchmark_rows()]
    assert min(mega) > 0.40 and max(mega) < 0.52


def test_the_estimator_knows_no_model_by_name() -> None:
    """Priors by hardware generation and scale only: no model name in the estimator."""
    text = "\n".join(
        (SRC / f).read_text() for f in ("estimate.py", "inference.py", "forecast.py", "spec.py")
    ).lower()
    for name in ("gpt3", "gpt-3", "t5", "gshard", "switch", "xlm", "llama", "bloom", "opt-"):
        assert f'"{name}' not in text and f"'{name}" not in text


def test_uncalibrated_generations_are_wider_than_calibrated_ones() -> None:
    p = default_priors()
    a100 = p.utilisation(accelerator("A100"), 1024)
    v100 = p.utilisation(accelerator("V100"), 1024)
    h100 = p.utilisation(accelerator("H100"), 1024)
    assert h100.sigma > a100.sigma and h100.sigma > v100.sigma
    assert "not calibrated" in h100.basis
    assert p.power_share(accelerator("H100")).sigma > p.power_share(accelerator("V100")).sigma
    # an assumed TDP widens the power prior further
    assert p.power_share(accelerator("TPUv5e")).sigma > p.power_share(accelerator("TPUv4")).sigma


def test_scale_outside_the_calibrated_range_widens_only() -> None:
    p = default_priors()
    a100 = accelerator("A100")
    inside, one = p.utilisation(a100, 1024), p.utilisation(a100, 1)
    assert one.median == inside.median
    assert one.sigma > inside.sigma
    assert p.utilisation(a100, 64).sigma == inside.sigma


def test_leave_one_out_refits() -> None:
    full = default_priors()
    loo = fit_priors(exclude=["GPT3"])
    assert loo.u.groups["volta"].n_eff == 1
    assert loo.u.groups["volta"].ln_mean != full.u.groups["volta"].ln_mean
    assert loo.excluded == ("gpt3",)


def test_prior_interval_is_80_percent_of_a_lognormal() -> None:
    prior = default_priors().utilisation(accelerator("TPUv3"), 512)
    assert prior.low == pytest.approx(prior.median * math.exp(-Z80 * prior.sigma))
    assert prior.low < prior.median < prior.high
