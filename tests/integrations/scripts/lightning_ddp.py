"""One rank of a 2-process Lightning DDP job on the CPU (run by torchrun from the tests).

Each rank has its own fake device drawing 100 W x (rank + 1); prints its summary as JSON."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import lightning
import torch

from carbonledger.integrations.lightning import CarbonCallback
from carbonledger.models import SensorInfo
from carbonledger.testing import FakeSensor


class Tiny(lightning.LightningModule):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def main() -> None:
    out = Path(sys.argv[1])
    rank = int(os.environ["RANK"])
    info = SensorInfo("gpu", f"gpu:{rank}", "fake-counter", True, uid=f"GPU-rank{rank}")
    sensor = FakeSensor(info, 100.0 * (rank + 1), time.monotonic)
    callback = CarbonCallback(
        sensors=[sensor], ledger=str(out / "ledger.sqlite"), handle_signals=False
    )
    trainer = lightning.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_epochs=2,
        logger=lightning.pytorch.loggers.CSVLogger(str(out), name="logs", version=0),
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[callback],
    )  # fmt: skip
    data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.randn(16, 1))
    trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=4))
    summary = callback.summary
    assert summary is not None
    epochs = [w.energy_j for w in summary.windows if "/" not in w.path]
    record = {
        "rank": rank,
        "run_id": summary.run_id,
        "energy_j": summary.energy_j,
        "epochs": epochs,
    }
    (out / f"rank{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
