"""MLflow (a local sqlite store) and Weights & Biases (offline mode) fed by the sinks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carbonledger.integrations.pytorch import TrainingLoop
from carbonledger.testing import FakeClock

from .conftest import fake_sensors

mlflow = pytest.importorskip("mlflow")  # installed by the dev extra: never skipped there
wandb = pytest.importorskip("wandb")


def _train(clock: FakeClock, sinks: list[Any]) -> TrainingLoop:
    loop = TrainingLoop(
        2, sinks=sinks, sensors=fake_sensors(10.0, clock), clock=clock, ledger=False,
        grid_g_per_kwh=100, pue=1.0, handle_signals=False,
    )  # fmt: skip
    with loop:
        for _ in loop.epochs():
            with loop.phase("train"):
                clock.advance(3.0)  # 30 J per epoch
    return loop


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("carbon", artifact_location=str(folder / "artifacts"))
    mlflow.set_experiment("carbon")
    yield uri
    mlflow.set_tracking_uri(None)


def test_mlflow_gets_epochs_run_totals_and_the_summary(
    mlflow_store: str, clock: FakeClock, tmp_path: Path
) -> None:
    from carbonledger.integrations.mlflow import MlflowSink

    with mlflow.start_run() as active:
        loop = _train(clock, [MlflowSink()])
    client = mlflow.tracking.MlflowClient(mlflow_store)
    history = client.get_metric_history(active.info.run_id, "carbon/epoch_energy_j")
    assert [(m.step, m.value) for m in history] == [(1, pytest.approx(30)), (2, pytest.approx(30))]
    run = client.get_run(active.info.run_id)
    assert run.data.metrics["carbon/energy_j"] == pytest.approx(60)
    assert run.data.metrics["carbon/co2e_g"] == pytest.approx(60 / 3.6e6 * 100)
    assert run.data.metrics["carbon/measured_share"] == pytest.approx(1.0)
    names = {a.path for a in client.list_artifacts(active.info.run_id, "carbonledger")}
    assert names == {
        f"carbonledger/{n}" for n in ("summary.json", "summary.txt", "report.md", "report.html")
    }
    local = client.download_artifacts(
        active.info.run_id, "carbonledger/summary.json", str(tmp_path)
    )
    stored = json.loads(Path(local).read_text())
    assert loop.summary is not None and stored["run_id"] == loop.summary.run_id
    page = client.download_artifacts(active.info.run_id, "carbonledger/report.html", str(tmp_path))
    assert loop.summary.run_id in Path(page).read_text()


def test_wandb_offline_gets_epochs_run_totals_and_the_summary(
    clock: FakeClock, tmp_path: Path
) -> None:
    from carbonledger.integrations.wandb import WandbSink

    run = wandb.init(project="carbon", mode="offline", dir=str(tmp_path))
    try:
        loop = _train(clock, [WandbSink()])
        assert run.summary["carbon/energy_j"] == pytest.approx(60)
        assert run.summary["carbon/epoch_energy_j"] == pytest.approx(30)
        assert run.summary["carbon/epoch"] == 2
    finally:
        run.finish()
    # offline, the run's records (summary, artifact) are in its .wandb file for `wandb sync`;
    # wandb's own service process writes that file, and on a loaded machine it may still be
    # writing it when finish() returns: read it until it holds them (at most 30 s)
    (record_file,) = Path(run.dir).parent.glob("*.wandb")
    deadline = time.monotonic() + 30.0
    while True:
        records = record_file.read_bytes()
        if b"carbon/co2e_g" in records and b"carbon-footprint" in records:
            break
        assert time.monotonic() < deadline, f"the records never reached {record_file}"
        time.sleep(0.2)
    assert loop.summary is not None
    staged = [p for p in Path(tmp_path).rglob("staging/*") if p.is_file()]
    texts = [p.read_text(errors="replace") for p in staged]
    assert any(loop.summary.run_id in t and t.lstrip().startswith("{") for t in texts)


def test_a_missing_run_is_a_clear_error() -> None:
    from carbonledger.errors import StateError
    from carbonledger.integrations.wandb import WandbSink

    assert wandb.run is None
    with pytest.raises(StateError, match=r"wandb.init"):
        WandbSink().log_epoch({"carbon/epoch_energy_j": 1.0}, 1)
