"""The model card's co2_eq_emissions block, read back by the Hub's own parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carbonledger.cli.main import main

from .conftest import Tracked

CARD = """---
license: apache-2.0
# a comment the update keeps
tags:
- vision
co2_eq_emissions:
  emissions: 1
  source: an old guess
library_name: transformers
---

# My model

Trained on *images*. Here is some YAML that is text, not metadata:

---
co2_eq_emissions: 99
---
"""


def _shown(tracked: Tracked, run: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["show", run, "--ledger", str(tracked.ledger), "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert isinstance(data, dict)
    return data


def test_the_block_parses_as_a_model_card(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    from huggingface_hub import ModelCard

    shown = _shown(tracked, tracked.fr, capsys)
    assert main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "model-card"]) == 0
    text = capsys.readouterr().out
    card = ModelCard(text + "\n# A model\n")
    block = card.data.co2_eq_emissions
    assert block["emissions"] == pytest.approx(shown["co2e_g"])
    assert block["source"].startswith("carbonledger ") and f"run {tracked.fr}" in block["source"]
    assert "ledger head" in block["source"]
    assert block["training_type"] == "pre-training"  # the run's tag task_stage=training
    assert block["geographical_location"] == "France"
    assert block["hardware_used"] == "NVIDIA H100 80GB HBM3 GPU, Intel(R) Xeon(R) Gold 6248 CPU"


def test_unknown_training_type_is_left_out(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    from huggingface_hub import ModelCard

    assert main(["report", tracked.aws, "-l", str(tracked.ledger), "-f", "model-card"]) == 0
    block = ModelCard(capsys.readouterr().out).data.co2_eq_emissions
    assert "training_type" not in block
    assert block["geographical_location"] == "aws:eu-west-3 (Paris, France)"
    assert main(["report", tracked.aws, "-l", str(tracked.ledger), "-f", "model-card",
                 "--task", "training_type=fine-tuning"]) == 0  # fmt: skip
    assert (
        ModelCard(capsys.readouterr().out).data.co2_eq_emissions["training_type"] == "fine-tuning"
    )


def test_write_updates_a_card_in_place(
    tracked: Tracked, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from huggingface_hub import ModelCard

    readme = tmp_path / "README.md"
    readme.write_text(CARD)
    before = ModelCard(CARD)
    assert main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "model-card",
                 "--write", str(readme)]) == 0  # fmt: skip
    assert capsys.readouterr().out == ""
    text = readme.read_text()
    after = ModelCard(text)
    shown = _shown(tracked, tracked.fr, capsys)
    assert after.data.co2_eq_emissions["emissions"] == pytest.approx(shown["co2e_g"])
    # every other key, the comment and the card's text are as they were
    old, new = before.data.to_dict(), after.data.to_dict()
    assert {k: v for k, v in old.items() if k != "co2_eq_emissions"} == {
        k: v for k, v in new.items() if k != "co2_eq_emissions"
    }
    assert "# a comment the update keeps" in text
    assert after.text == before.text
    assert text.endswith(CARD[CARD.index("\n# My model") :])
    # a card without metadata gets a block on top, its text untouched
    bare = tmp_path / "bare.md"
    bare.write_text("# Bare\n")
    assert main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "model-card",
                 "--write", str(bare)]) == 0  # fmt: skip
    assert ModelCard(bare.read_text()).text.strip() == "# Bare"


def test_write_needs_an_existing_card(
    tracked: Tracked, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none" / "README.md"
    code = main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "model-card",
                 "--write", str(missing)])  # fmt: skip
    out, err = capsys.readouterr()
    assert out == ""
    assert code == 2 and "no model card at" in err and len(err.strip().splitlines()) == 1
    code = main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "md", "--write", "x.md"])
    assert code == 2 and "--format model-card" in capsys.readouterr().err
