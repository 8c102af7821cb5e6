"""A script written for CodeCarbon runs unchanged once its import line is swapped."""

from __future__ import annotations

import csv
from pathlib import Path

from carbonledger import open_ledger

from ._scripts import run_swapped
from .test_codecarbon import CODECARBON_332_COLUMNS

#: CodeCarbon's documented ways in: a with block, the decorator, start/stop with tasks
CODECARBON_SCRIPT = """
import sys

from codecarbon import EmissionsTracker, OfflineEmissionsTracker, track_emissions

OUT = sys.argv[1]


def train(n):
    return sum(i * i for i in range(n))


with EmissionsTracker(project_name="ctx", measure_power_secs=1, output_dir=OUT) as tracker:
    train(20_000)


@track_emissions(project_name="deco", offline=True, country_iso_code="CAN", output_dir=OUT)
def fit():
    return train(20_000)


fit()

tracker = OfflineEmissionsTracker(
    country_iso_code="FRA", project_name="tasks", experiment_name="exp", output_dir=OUT
)
tracker.start()
try:
    for name in ("load", "train"):
        tracker.start_task(name)
        train(20_000)
        data = tracker.stop_task()
        print("TASK", name, data.energy_consumed, data.duration)
finally:
    emissions = tracker.stop()
print("EMISSIONS", emissions, tracker.final_emissions_data.run_id)
"""


def test_codecarbon_script_runs_after_swapping_the_import(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    done = run_swapped(
        tmp_path,
        CODECARBON_SCRIPT,
        "from codecarbon import",
        "from carbonledger.compat.codecarbon import",
        args=(str(out),),
        dram=True,
    )
    lines = done.stdout.splitlines()
    tasks = [line.split() for line in lines if line.startswith("TASK")]
    assert [t[1] for t in tasks] == ["load", "train"]
    assert all(float(t[2]) >= 0 and float(t[3]) > 0 for t in tasks)
    _, emissions, run_id = next(line for line in lines if line.startswith("EMISSIONS")).split()
    assert float(emissions) >= 0

    with (out / "emissions.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == CODECARBON_332_COLUMNS
        rows = list(reader)
    assert [r["project_name"] for r in rows] == ["ctx", "deco", "tasks"]
    assert rows[1]["country_iso_code"] == "CAN"
    assert rows[2]["run_id"] == run_id
    with (out / f"emissions_exp_{run_id}.csv").open(newline="") as fh:
        assert [r["task_name"] for r in csv.DictReader(fh)] == ["load", "train"]

    runs = open_ledger().list_runs()
    assert sorted(r.project for r in runs) == ["ctx", "deco", "tasks"]
    assert all(r.status == "completed" for r in runs)
