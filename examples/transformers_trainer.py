"""A Transformers Trainer with carbonledger's callback: a tiny GPT-2 built from a config
(randomly initialised, nothing downloaded), energy per epoch in the Trainer's logs.

    python examples/transformers_trainer.py            # 3 epochs
    python examples/transformers_trainer.py --quick    # 1 short epoch
"""

from __future__ import annotations

import argparse
import tempfile
from typing import Any

import torch
import transformers

from carbonledger.integrations.transformers import CarbonTrainerCallback


class Tokens(torch.utils.data.Dataset):  # type: ignore[misc]
    def __init__(self, n: int, length: int = 32) -> None:
        self.ids = torch.randint(1, 200, (n, length), generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def main(argv: list[str] | None = None) -> CarbonTrainerCallback:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced size, for tests")
    args = parser.parse_args(argv)
    epochs, samples = (1, 16) if args.quick else (3, 512)
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=64, vocab_size=200, n_positions=64)
    model = transformers.GPT2LMHeadModel(config)
    with tempfile.TemporaryDirectory() as out:
        trainer = transformers.Trainer(
            model=model,
            args=transformers.TrainingArguments(
                output_dir=out, num_train_epochs=epochs, per_device_train_batch_size=8,
                eval_strategy="epoch", logging_strategy="epoch", save_strategy="no",
                report_to=[], use_cpu=True, disable_tqdm=True,
            ),
            train_dataset=Tokens(samples),
            eval_dataset=Tokens(max(8, samples // 8)),
        )  # fmt: skip
        callback = CarbonTrainerCallback.attach(trainer, project="examples", experiment="trainer")
        trainer.train()
    for entry in trainer.state.log_history:
        if "carbon/epoch_energy_j" in entry:
            print(
                f"epoch {entry.get('epoch')}: {entry['carbon/epoch_energy_j']:.1f} J, "
                f"{entry['carbon/epoch_co2e_g']:.3g} gCO2e"
            )
    return callback


if __name__ == "__main__":
    main()
