"""The Lightning callback, with the real Lightning on the CPU (a tiny model, a few batches)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from carbonledger.integrations.lightning import CarbonCallback
from carbonledger.ledger import open_ledger

from .conftest import fake_sensors

lightning = pytest.importorskip("lightning")  # installed by the dev extra: never skipped there
torch = pytest.importorskip("torch")

POWER_W = 100.0


class TinyModule(lightning.LightningModule):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _loader() -> Any:
    g = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(16, 4, generator=g), torch.randn(16, 1))
    return torch.utils.data.DataLoader(data, batch_size=4)


def _fit(tmp_path: Path, callback: CarbonCallback, **trainer_options: Any) -> Any:
    trainer = lightning.Trainer(
        accelerator="cpu",
        devices=1,
        logger=lightning.pytorch.loggers.CSVLogger(str(tmp_path), name="logs"),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
        **trainer_options,
    )
    trainer.fit(TinyModule(), _loader(), _loader())
    return trainer


def test_windows_per_epoch_and_phase_logged_to_lightning(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    callback = CarbonCallback(
        sensors=fake_sensors(POWER_W), ledger=str(ledger), grid_g_per_kwh=400, pue=1.0,
        handle_signals=False,
    )  # fmt: skip
    trainer = _fit(tmp_path, callback, max_epochs=3, limit_train_batches=2, limit_val_batches=1)
    summary = callback.summary
    assert summary is not None and summary.status == "completed"
    paths = [w.path for w in summary.windows]
    for n in (1, 2, 3):
        assert {f"epoch-{n}", f"epoch-{n}/train", f"epoch-{n}/validation"} <= set(paths)
    # the sanity check before training is no phase of any epoch
    assert [p for p in paths if "/" not in p] == ["epoch-1", "epoch-2", "epoch-3"]
    epoch = next(w for w in summary.windows if w.path == "epoch-3")
    assert epoch.energy_j == pytest.approx(POWER_W * epoch.duration_s, abs=0.05)
    train = next(w for w in summary.windows if w.path == "epoch-3/train")
    val = next(w for w in summary.windows if w.path == "epoch-3/validation")
    assert train.energy_j + val.energy_j <= epoch.energy_j + 1e-9
    # what Lightning logged is the epoch's own window
    logged = trainer.callback_metrics
    assert float(logged["carbon/epoch_energy_j"]) == pytest.approx(epoch.energy_j)
    assert float(logged["carbon/train_energy_j"]) == pytest.approx(train.energy_j)
    assert float(logged["carbon/epoch_co2e_g"]) == pytest.approx(epoch.co2e_g)
    with Path(trainer.logger.log_dir, "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    energies = [r["carbon/epoch_energy_j"] for r in rows if r.get("carbon/epoch_energy_j")]
    assert len(energies) == 3
    # max_epochs fed the forecast
    assert summary.extra["forecast"]["windows_total"] == 3
    led = open_ledger(str(ledger))
    try:
        stored = led.summary(summary.run_id)
    finally:
        led.close()
    assert {w.path for w in stored.windows} == set(paths)


def test_validation_inside_an_epoch_reopens_the_train_phase(tmp_path: Path) -> None:
    callback = CarbonCallback(sensors=fake_sensors(POWER_W), ledger=False, handle_signals=False)
    _fit(
        tmp_path, callback, max_epochs=1, limit_train_batches=4, limit_val_batches=1,
        val_check_interval=2, num_sanity_val_steps=0,
    )  # fmt: skip
    assert callback.summary is not None
    paths = [w.path for w in callback.summary.windows]
    assert paths == [
        "epoch-1/train", "epoch-1/validation", "epoch-1/train-2", "epoch-1/validation-2",
        "epoch-1",
    ]  # fmt: skip
    metrics = callback.last_metrics
    trains = [w for w in callback.summary.windows if w.name.startswith("train")]
    assert metrics["carbon/train_energy_j"] == pytest.approx(sum(w.energy_j for w in trains))


def test_a_tracker_of_ones_own_is_used_and_left_running(tmp_path: Path) -> None:
    import carbonledger as cl

    with cl.Tracker(sensors=fake_sensors(POWER_W), ledger=False, handle_signals=False) as run:
        callback = CarbonCallback(run)
        _fit(tmp_path, callback, max_epochs=2, limit_train_batches=1, limit_val_batches=1)
        run.energy_j()  # still running: the callback did not stop it
        assert run.expected_epochs == 2
    assert [w.path for w in run.summary().windows if "/" not in w.path] == ["epoch-1", "epoch-2"]


@pytest.mark.slow
def test_ddp_ranks_join_one_run_and_log_the_jobs_total(tmp_path: Path) -> None:
    """torchrun with no rendezvous id (its run id is "none"): rank 0's run id is shared, each
    rank counts its own device, and what Lightning logs is the sum over ranks."""
    import json
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = Path(__file__).parent / "scripts" / "lightning_ddp.py"
    env = {k: v for k, v in os.environ.items() if k != "TORCHELASTIC_RUN_ID"}
    subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         "--master_addr=127.0.0.1", f"--master_port={port}", str(script), str(tmp_path)],
        check=True, env=env, capture_output=True, timeout=300,
    )  # fmt: skip
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["run_id"] == ranks[1]["run_id"]
    led = open_ledger(str(tmp_path / "ledger.sqlite"))
    try:
        stored = led.summary(ranks[0]["run_id"])
        runs = led.list_runs()
    finally:
        led.close()
    assert len(runs) == 1
    assert stored.energy_j == pytest.approx(ranks[0]["energy_j"] + ranks[1]["energy_j"])
    with (tmp_path / "logs" / "version_0" / "metrics.csv").open() as f:
        logged = [float(r["carbon/epoch_energy_j"]) for r in csv.DictReader(f)]
    sums = [a + b for a, b in zip(ranks[0]["epochs"], ranks[1]["epochs"], strict=True)]
    assert logged == pytest.approx(sums, rel=1e-5)
