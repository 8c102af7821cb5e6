"""A script written for eco2AI runs unchanged once its import line is swapped."""

from __future__ import annotations

import csv
from pathlib import Path

from carbonledger import open_ledger

from ._scripts import run_swapped
from .test_eco2ai import ECO2AI_0312_COLUMNS

#: eco2AI's documented ways in: start/stop, a training with epochs, the decorator
ECO2AI_SCRIPT = """
import eco2ai


def train(n):
    return sum(i * i for i in range(n))


tracker = eco2ai.Tracker(
    project_name="demo", experiment_description="plain", alpha_2_code="FR", measure_period=5
)
tracker.start()
train(20_000)
tracker.stop()

tracker = eco2ai.Tracker(project_name="demo", experiment_description="epochs", alpha_2_code="FR")
tracker.start_training(start_epoch=1)
for epoch in range(3):
    loss = 1 / (epoch + 1)
    train(20_000)
    tracker.new_epoch({"loss": loss})
tracker.stop_training()


@eco2ai.track
def fit():
    return train(20_000)


fit()
"""


def test_eco2ai_script_runs_after_swapping_the_import(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    run_swapped(
        tmp_path,
        ECO2AI_SCRIPT,
        "import eco2ai\n",
        "import carbonledger.compat.eco2ai as eco2ai\n",
        cwd=work,
    )
    with (work / "emission.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ECO2AI_0312_COLUMNS
        rows = list(reader)
    assert [r["experiment_description"] for r in rows] == [
        "plain",
        "epochs",
        "epochs",
        "epochs",
        "default experiment description",
    ]
    assert [r["epoch"] for r in rows[1:4]] == [
        "epoch: 1, loss: 1.0, ",
        "epoch: 2, loss: 0.5, ",
        "epoch: 3, loss: 0.3333333333333333, ",
    ]
    assert all(float(r["power_consumption(kWh)"]) >= 0 for r in rows)
    runs = open_ledger().list_runs()
    assert len(runs) == 3
    assert {r.run_id for r in runs} == {r["id"] for r in rows}
