"""The examples run, in their reduced size (``--quick``), in this process (so the
frameworks are imported once for every test module)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sklearn_forests(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _load("sklearn_forests").main(["--quick"])
    assert [r[0] for r in rows] == [5, 10, 20]
    assert all(0.5 < accuracy <= 1 and energy_j > 0 for _, accuracy, energy_j, _ in rows)
    assert "accuracy" in capsys.readouterr().out


def test_pytorch_loop(capsys: pytest.CaptureFixture[str]) -> None:
    loop = _load("pytorch_loop").main(["--quick"])
    assert loop.summary is not None and loop.summary.status == "completed"
    assert loop.summary.extra["metrics"]["accuracy"] > 0
    assert [w.path for w in loop.summary.windows if "/" not in w.path] == ["epoch-1", "epoch-2"]
    assert "epoch 2:" in capsys.readouterr().out


def test_lightning_module(capsys: pytest.CaptureFixture[str]) -> None:
    callback = _load("lightning_module").main(["--quick"])
    assert callback.summary is not None and len(callback.summary.windows) == 6
    assert "carbon/run_co2e_g" in capsys.readouterr().out


def test_transformers_trainer(capsys: pytest.CaptureFixture[str]) -> None:
    callback = _load("transformers_trainer").main(["--quick"])
    assert callback.summary is not None
    assert [w.path for w in callback.summary.windows] == [
        "epoch-1/train",
        "epoch-1/validation",
        "epoch-1",
    ]
    assert "epoch 1.0:" in capsys.readouterr().out


def test_generate_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    stats = _load("generate_tokens").main(["--quick"])
    assert stats.requests == 4 and stats.output_tokens == 32
    assert stats.energy_per_output_token_j is not None and stats.energy_per_output_token_j > 0
    assert "J/output token" in capsys.readouterr().out
