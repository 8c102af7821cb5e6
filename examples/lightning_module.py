"""A Lightning module trained with carbonledger's callback (energy in Lightning's logs).

python examples/lightning_module.py            # 5 epochs
python examples/lightning_module.py --quick    # 2 epochs of 2 batches
"""

from __future__ import annotations

import argparse
import tempfile
from typing import Any

import lightning
import torch

from carbonledger.integrations.lightning import CarbonCallback


class Regressor(lightning.LightningModule):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
        )

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def main(argv: list[str] | None = None) -> CarbonCallback:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced size, for tests")
    args = parser.parse_args(argv)
    epochs, batches = (2, 2) if args.quick else (5, None)
    torch.manual_seed(0)
    x = torch.randn(2048, 16)
    data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    train = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
    val = torch.utils.data.DataLoader(data, batch_size=256)
    callback = CarbonCallback(project="examples", experiment="lightning")
    with tempfile.TemporaryDirectory() as logs:
        trainer = lightning.Trainer(
            max_epochs=epochs, limit_train_batches=batches, limit_val_batches=batches,
            accelerator="cpu", callbacks=[callback], default_root_dir=logs,
            enable_progress_bar=False, enable_checkpointing=False,
        )  # fmt: skip
        trainer.fit(Regressor(), train, val)
    for name in ("carbon/epoch_energy_j", "carbon/run_energy_j", "carbon/run_co2e_g"):
        print(f"{name} = {float(trainer.callback_metrics[name]):.4g}")
    return callback


if __name__ == "__main__":
    main()
