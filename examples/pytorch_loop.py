"""A hand-written PyTorch loop with a window per epoch and per phase (TrainingLoop).

python examples/pytorch_loop.py            # 10 epochs
python examples/pytorch_loop.py --quick    # 2 small epochs
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

import torch

from carbonledger.integrations.pytorch import TrainingLoop


def report(epoch: int, metrics: Mapping[str, float]) -> None:
    forecast = metrics.get("carbon/forecast_co2e_g")
    line = (
        f"epoch {epoch}: {metrics['carbon/epoch_energy_j']:.1f} J "
        f"(train {metrics.get('carbon/train_energy_j', 0):.1f} J, "
        f"validation {metrics.get('carbon/validation_energy_j', 0):.1f} J)"
    )
    if forecast is not None:
        line += f", whole run forecast {forecast:.3g} gCO2e"
    print(line)


def main(argv: list[str] | None = None) -> TrainingLoop:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced size, for tests")
    args = parser.parse_args(argv)
    epochs, samples = (2, 256) if args.quick else (10, 20_000)
    torch.manual_seed(0)
    x = torch.randn(samples, 32)
    y = (x[:, :4].sum(dim=1, keepdim=True) > 0).float()
    split = samples * 4 // 5
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    with TrainingLoop(
        epochs, project="examples", experiment="pytorch-loop", on_epoch=report
    ) as loop:
        for _ in loop.epochs():
            with loop.phase("train"):
                model.train()
                for i in range(0, split, 64):
                    optimiser.zero_grad()
                    loss_fn(model(x[i : i + 64]), y[i : i + 64]).backward()
                    optimiser.step()
            with loop.phase("validation"), torch.no_grad():
                model.eval()
                accuracy = ((model(x[split:]) > 0).float() == y[split:]).float().mean().item()
        loop.tracker.log_metric("accuracy", accuracy)
    assert loop.summary is not None
    print(f"accuracy {accuracy:.3f}; run {loop.summary.run_id}: {loop.summary.energy_j:.1f} J")
    return loop


if __name__ == "__main__":
    main()
