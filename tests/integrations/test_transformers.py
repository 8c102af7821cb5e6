"""The Transformers callback and generate helper, with a tiny randomly initialised GPT-2
built from a config (nothing downloaded)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")  # installed by the dev extra
torch = pytest.importorskip("torch")

import carbonledger as cl  # noqa: E402
from carbonledger.integrations.serving import RequestMeter  # noqa: E402
from carbonledger.integrations.transformers import (  # noqa: E402
    CarbonTrainerCallback,
    generate_measured,
)

from .conftest import fake_sensors  # noqa: E402

POWER_W = 100.0
VOCAB = 100
EOS = 99


@pytest.fixture(scope="module")
def model() -> Any:
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=1, n_head=2, n_embd=32, vocab_size=VOCAB, n_positions=64,
        bos_token_id=EOS, eos_token_id=EOS, pad_token_id=0,
    )  # fmt: skip
    return transformers.GPT2LMHeadModel(config).eval()


class _Data(torch.utils.data.Dataset):  # type: ignore[misc]
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(1)
        self.ids = torch.randint(1, VOCAB - 1, (n, 8), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def _trainer(model: Any, tmp_path: Path, **args: Any) -> Any:
    options = dict(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4,
        per_device_eval_batch_size=4, report_to=[], save_strategy="no", use_cpu=True,
        disable_tqdm=True, logging_strategy="epoch",
    )  # fmt: skip
    options.update(args)
    return transformers.Trainer(
        model=model,
        args=transformers.TrainingArguments(**options),
        train_dataset=_Data(8),
        eval_dataset=_Data(4),
    )


def test_trainer_windows_per_epoch_and_phase_in_logs(model: Any, tmp_path: Path) -> None:
    trainer = _trainer(model, tmp_path, num_train_epochs=2, eval_strategy="epoch")
    callback = CarbonTrainerCallback.attach(
        trainer, sensors=fake_sensors(POWER_W), ledger=False, handle_signals=False
    )
    assert trainer.callback_handler.callbacks[0] is callback
    trainer.train()
    summary = callback.summary
    assert summary is not None and summary.status == "completed"
    paths = [w.path for w in summary.windows]
    assert paths == [
        "epoch-1/train", "epoch-1/validation", "epoch-1",
        "epoch-2/train", "epoch-2/validation", "epoch-2",
    ]  # fmt: skip
    epochs = [w for w in summary.windows if "/" not in w.path]
    rows = [e for e in trainer.state.log_history if "carbon/epoch_energy_j" in e]
    logged = [e["carbon/epoch_energy_j"] for e in rows]
    assert logged == pytest.approx([w.energy_j for w in epochs])
    # each epoch's energy at the epoch's own step, in the row of its evaluation: never a
    # row (and a step) later
    assert [(e["epoch"], e["step"]) for e in rows] == [(1.0, 2), (2.0, 4)]
    assert all("eval_loss" in e for e in rows)
    assert epochs[0].energy_j == pytest.approx(POWER_W * epochs[0].duration_s, abs=0.05)
    assert summary.extra["forecast"]["windows_total"] == 2


class _StepsSeen(transformers.TrainerCallback):  # type: ignore[misc]
    """What a reporting integration (MLflow, W&B, TensorBoard) sees: each logged row with
    the step it is logged at."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, dict[str, Any]]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        self.rows.append((state.global_step, dict(logs or {})))


@pytest.mark.parametrize("logging", ["epoch", "steps"])
def test_each_epochs_energy_is_logged_at_its_own_step(
    model: Any, tmp_path: Path, logging: str
) -> None:
    trainer = _trainer(model, tmp_path, num_train_epochs=3, logging_strategy=logging)
    seen = _StepsSeen()
    trainer.add_callback(seen)  # after the attached callback, as report_to integrations are
    callback = CarbonTrainerCallback.attach(
        trainer, sensors=fake_sensors(POWER_W), ledger=False, handle_signals=False
    )
    trainer.train()
    assert callback.summary is not None
    epochs = [w for w in callback.summary.windows if "/" not in w.path]
    rows = [(step, r) for step, r in seen.rows if "carbon/epoch_energy_j" in r]
    assert [step for step, _ in rows] == [2, 4, 6]  # 2 steps per epoch: epoch N at step 2N
    assert [r["epoch"] for _, r in rows] == [1.0, 2.0, 3.0]
    assert [r["carbon/epoch_energy_j"] for _, r in rows] == pytest.approx(
        [w.energy_j for w in epochs]
    )
    if logging == "epoch":  # in the Trainer's own row of that step, beside the loss
        assert all("loss" in r for _, r in rows[:-1])


def test_a_callback_given_in_the_list_puts_epochs_at_their_steps_in_the_history(
    model: Any, tmp_path: Path
) -> None:
    trainer = _trainer(model, tmp_path, num_train_epochs=2, logging_strategy="steps")
    callback = CarbonTrainerCallback(
        sensors=fake_sensors(POWER_W), ledger=False, handle_signals=False
    )
    trainer.add_callback(callback)
    trainer.train()
    rows = [e for e in trainer.state.log_history if "carbon/epoch_energy_j" in e]
    assert [e["step"] for e in rows] == [2, 4]


def test_trainer_without_evaluation_and_with_max_steps(model: Any, tmp_path: Path) -> None:
    trainer = _trainer(model, tmp_path, max_steps=2)
    callback = CarbonTrainerCallback(
        sensors=fake_sensors(POWER_W), ledger=False, handle_signals=False
    )
    trainer.add_callback(callback)
    trainer.train()
    assert callback.summary is not None
    assert [w.path for w in callback.summary.windows] == ["epoch-1/train", "epoch-1"]
    assert "forecast" not in callback.summary.extra  # a step budget gives no epoch count


def test_generate_counts_tokens_and_marks_prefill_and_decode(model: Any) -> None:
    tracker = cl.Tracker(sensors=fake_sensors(POWER_W), ledger=False, handle_signals=False).start()
    meter = RequestMeter(tracker)
    input_ids = torch.tensor([[0, 0, 5, 6, 7], [0, 8, 9, 10, 11]])  # left-padded with 0
    mask = (input_ids != 0).long()
    out = generate_measured(
        model, meter, input_ids, attention_mask=mask, max_new_tokens=4, min_new_tokens=4,
        do_sample=False,
    )  # fmt: skip
    assert out.shape == (2, 9)
    records = meter.records
    assert [r.input_tokens for r in records] == [3, 4]
    assert [r.output_tokens for r in records] == [4, 4]
    for r in records:
        assert r.prefill_energy_j is not None and r.prefill_energy_j > 0
        assert r.decode_energy_j is not None and r.decode_energy_j > 0
        assert r.energy_j == pytest.approx(r.prefill_energy_j + r.decode_energy_j)
    stats = meter.stats()
    assert stats.energy_per_output_token_j == pytest.approx(stats.energy_j / 8)
    # both rows ran together: their share follows their tokens, all of it is accounted
    assert stats.energy_j + stats.idle_energy_j == pytest.approx(
        POWER_W * sum(r.duration_s for r in records) / 2, rel=0.05
    )
    tracker.stop()


def test_generate_stops_counting_at_end_of_sequence(model: Any) -> None:
    from carbonledger.integrations.transformers import _output_tokens

    assert _output_tokens([5, 6, EOS, 0, 0], {EOS}, {0}) == 3
    assert _output_tokens([5, 6, 7], {EOS}, {0}) == 3
    tracker = cl.Tracker(sensors=fake_sensors(POWER_W), ledger=False, handle_signals=False).start()
    meter = RequestMeter(tracker)
    generate_measured(model, meter, torch.tensor([[3, 4]]), max_new_tokens=3, num_beams=2)
    (record,) = meter.records
    assert record.prefill_energy_j is None  # beam search: no streamer, one segment
    assert 1 <= record.output_tokens <= 3
    tracker.stop()
