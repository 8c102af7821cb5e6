"""TrainingLoop: windows per epoch and phase for a hand-written loop (no framework)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest

import carbonledger as cl
from carbonledger.errors import InputError
from carbonledger.integrations._common import EpochRecorder, epochs_from, is_rank_zero, rank
from carbonledger.integrations.pytorch import TrainingLoop
from carbonledger.models import RunSummary
from carbonledger.testing import FakeClock

from .conftest import fake_sensors


class ListSink:
    """A sink that keeps what it is given (an experiment tracker's stand-in)."""

    def __init__(self) -> None:
        self.epochs: list[tuple[int, dict[str, float]]] = []
        self.runs: list[RunSummary] = []

    def log_epoch(self, metrics: Mapping[str, float], step: int) -> None:
        self.epochs.append((step, dict(metrics)))

    def log_run(self, summary: RunSummary) -> None:
        self.runs.append(summary)


def test_epochs_and_phases_measure_what_the_device_used(clock: FakeClock) -> None:
    sink = ListSink()
    seen: list[int] = []
    loop = TrainingLoop(
        3, sinks=[sink], on_epoch=lambda n, m: seen.append(n),
        sensors=fake_sensors(10.0, clock), clock=clock, ledger=False, grid_g_per_kwh=360,
        pue=1.0, handle_signals=False,
    )  # fmt: skip
    with loop:
        for epoch in loop.epochs():
            with loop.phase("train"):
                clock.advance(2.0)  # 20 J
            clock.advance(0.5)  # 5 J between phases: the epoch's, no phase's
            with loop.phase("validation"):
                clock.advance(1.0)  # 10 J
            assert epoch == len(seen) + 1
    assert seen == [1, 2, 3]
    summary = loop.summary
    assert summary is not None and summary.energy_j == pytest.approx(3 * 35)
    step, metrics = sink.epochs[-1]
    assert step == 3
    assert metrics["carbon/epoch_energy_j"] == pytest.approx(35)
    assert metrics["carbon/train_energy_j"] == pytest.approx(20)
    assert metrics["carbon/validation_energy_j"] == pytest.approx(10)
    assert metrics["carbon/run_energy_j"] == pytest.approx(105)
    # 105 J = 105/3.6e6 kWh at 360 g/kWh
    assert metrics["carbon/run_co2e_g"] == pytest.approx(105 / 3.6e6 * 360)
    assert metrics["carbon/forecast_energy_j"] == pytest.approx(105, rel=0.01)
    assert sink.runs == [summary]


def test_a_break_and_an_error_end_the_windows(clock: FakeClock) -> None:
    loop = TrainingLoop(5, sensors=fake_sensors(10.0, clock), clock=clock, ledger=False,
                        handle_signals=False)  # fmt: skip
    with pytest.raises(RuntimeError), loop:
        for epoch in loop.epochs():
            clock.advance(1)
            if epoch == 2:
                raise RuntimeError("diverged")
    assert loop.summary is not None and loop.summary.status == "failed"
    assert [w.path for w in loop.summary.windows] == ["epoch-1", "epoch-2"]


def test_only_rank_zero_feeds_the_sinks(clock: FakeClock) -> None:
    assert rank({"RANK": "3"}) == 3 and rank({"SLURM_PROCID": "1"}) == 1 and rank({}) == 0
    assert is_rank_zero({}) and not is_rank_zero({"RANK": "1"})
    sink = ListSink()
    tracker = cl.Tracker(sensors=fake_sensors(1.0, clock), clock=clock, ledger=False,
                         handle_signals=False)  # fmt: skip
    recorder = EpochRecorder(tracker, sinks=[sink], env={"RANK": "1"})
    recorder.begin_run(2)
    recorder.begin_epoch(1)
    clock.advance(1)
    assert recorder.end_epoch()["carbon/epoch_energy_j"] == pytest.approx(1.0)
    recorder.end_run()
    assert sink.epochs == [] and sink.runs == []


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match="epochs"):
        TrainingLoop(0)
    loop = TrainingLoop(1, ledger=False, sensors=fake_sensors(1.0), handle_signals=False)
    with loop, pytest.raises(InputError, match="phase"):
        for _ in loop.epochs():
            with loop.phase("test"):
                pass
    assert epochs_from(3) == 3 and epochs_from(3.0) == 3
    assert epochs_from(-1) is None and epochs_from(2.5) is None and epochs_from(None) is None


@pytest.mark.parametrize(
    ("module", "hidden"),
    [
        ("lightning", ("lightning", "lightning.pytorch", "pytorch_lightning")),
        ("keras", ("keras",)),
        ("transformers", ("transformers",)),
        ("mlflow", ("mlflow",)),
        ("wandb", ("wandb",)),
    ],
)
def test_a_missing_framework_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, hidden: tuple[str, ...]
) -> None:
    import importlib
    import sys

    for name in hidden:
        monkeypatch.setitem(sys.modules, name, None)  # what an absent package looks like
    target = f"carbonledger.integrations.{module}"
    monkeypatch.delitem(sys.modules, target, raising=False)
    with pytest.raises(ImportError, match=r"pip install 'carbonledger\[integrations\]'"):
        module_obj = importlib.import_module(target)
        if module in ("mlflow", "wandb"):  # imported lazily: the first use says it
            getattr(module_obj, "MlflowSink" if module == "mlflow" else "WandbSink")()


def test_a_carbon_budget_stops_the_loop_without_an_exception(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """on_budget="stop": the loop ends after the epoch that exceeded the budget; the run is
    recorded with what happened, and nothing is raised into the training code."""
    loop = TrainingLoop(
        10, sensors=fake_sensors(1000.0, clock), clock=clock, ledger=False,
        grid_g_per_kwh=1000, pue=1.0, handle_signals=False,
        budget_kg=1e-6, on_budget="stop",
    )  # fmt: skip
    done: list[int] = []
    with caplog.at_level(logging.WARNING, logger="carbonledger"), loop:
        for epoch in loop.epochs():
            clock.advance(10.0)  # 10 kJ an epoch: 2.8 g, far past 1 mg
            done.append(epoch)
    assert done and len(done) < 10
    assert loop.recorder.stop_requested and loop.summary is not None
    said = [r.getMessage() for r in caplog.records]
    assert sum("carbon budget 1.00 mg CO2e exceeded" in m for m in said) == 1  # said once
    assert any("the carbon budget stopped the run" in m for m in said)
    assert loop.summary.status == "interrupted"
    assert loop.summary.extra["status_reason"] == "budget"
    # when training ends, the callback prints the run's id and total
    out = capsys.readouterr().out
    assert f"carbonledger: run {loop.summary.run_id} interrupted (budget): " in out
