"""A run measured by a system-on-chip reading (Apple silicon's CPU, GPU and ANE, from a fake
powermetrics) through the tracker and the ledger to the CSV export: CodeCarbon's columns take
the parts they have (cpu_energy, gpu_energy), ours the rest (npu_energy_kwh), and every part
is in the total."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.ledger import open_ledger
from carbonledger.models import COMPONENTS, ComponentEnergy, RunSummary
from carbonledger.report.export import (
    CODECARBON_COLUMNS,
    CSV_COLUMNS,
    OWN_COLUMNS,
    csv_row,
    export_text,
)
from carbonledger.sensors.registry import discover
from carbonledger.testing import FakeClock, FakePowermetrics

KWH_J = 3.6e6


def test_every_component_has_a_column_and_codecarbons_come_first() -> None:
    assert CSV_COLUMNS[: len(CODECARBON_COLUMNS)] == CODECARBON_COLUMNS
    for c in COMPONENTS:
        column = f"{c}_energy" if c in ("cpu", "gpu", "ram") else f"{c}_energy_kwh"
        assert column in (CODECARBON_COLUMNS if c in ("cpu", "gpu", "ram") else OWN_COLUMNS)


def test_a_soc_run_from_the_sensors_to_the_csv(tmp_path: Path) -> None:
    fake, clock = FakePowermetrics(), FakeClock()
    fake.emit(cpu_mw=1000, gpu_mw=500, ane_mw=0)
    found = discover(
        scope="machine",
        gpu=True,
        env={},
        powercap_root=tmp_path / "no-powercap",
        clock=clock,
        hardware={"apple-soc": fake},
    )
    soc = [s for s in found.sensors if s.info.soc == "apple"]
    for other in found.sensors:
        if other not in soc:
            other.close()
    ledger = tmp_path / "l.sqlite"
    with cl.Tracker(
        "m2", "soc", grid_g_per_kwh=400, pue=1.0, sensors=soc, ledger=str(ledger), clock=clock
    ) as run:
        # 10 s of work: CPU 6 W, GPU 18 W, ANE 2 W
        for _ in range(10):
            fake.emit(cpu_mw=6000, gpu_mw=18000, ane_mw=2000, elapsed_ms=1000)
            clock.advance(1.0)
    assert fake.closed  # the tracker closed the parts, the last one stopped powermetrics
    summary = run.summary()
    by = {c.device: c for c in summary.components}
    assert {d: (c.component, c.energy_j) for d, c in by.items()} == {
        "cpu:soc": ("cpu", pytest.approx(60.0)),
        "gpu:soc": ("gpu", pytest.approx(180.0)),
        "npu:ane": ("npu", pytest.approx(20.0)),
    }
    assert summary.energy_j == pytest.approx(260.0)
    assert summary.co2e_g == pytest.approx(260.0 / KWH_J * 400)
    assert summary.measured_share == pytest.approx(1.0)
    assert summary.embodied_co2e_g is None  # the SoC's GPU is no discrete card to amortise

    with open_ledger(str(ledger)) as led:
        stored = led.summary(summary.run_id)
    assert stored.energy_j == pytest.approx(260.0)
    row = next(csv.DictReader(io.StringIO(export_text([stored], "csv")[0])))
    assert float(row["cpu_energy"]) == pytest.approx(60.0 / KWH_J)
    assert float(row["gpu_energy"]) == pytest.approx(180.0 / KWH_J)
    assert row["ram_energy"] == ""  # not measured in this run: unknown, not zero
    assert float(row["npu_energy_kwh"]) == pytest.approx(20.0 / KWH_J)
    assert row["soc_energy_kwh"] == ""
    assert float(row["energy_consumed"]) == pytest.approx(260.0 / KWH_J)
    assert row["methods"] == "cpu:powermetrics;gpu:powermetrics;npu:powermetrics"


def test_an_indivisible_soc_rail_goes_to_its_own_column() -> None:
    """A Jetson-like rail covering CPU, GPU and CV at once is a ``soc`` component (energy
    columns only: a summary built by hand carries no accounted CO2e)."""
    summary = RunSummary(
        run_id="r",
        project="p",
        experiment="e",
        status="completed",
        started_unix_s=1_700_000_000.0,
        duration_s=100.0,
        components=(
            ComponentEnergy("soc", "soc:vdd_cpu_gpu_cv", "tegrastats", True, 720_000.0, 100.0),
            ComponentEnergy("ram", "ram", "ram-model", False, 36_000.0, 100.0, 18_000.0, 54_000.0),
        ),
        intensity_g_per_kwh=100.0,
        intensity_source="test",
        location="FR",
        location_source="argument",
        pue=1.0,
        pue_source="argument",
    )
    row = csv_row(summary)
    assert float(row["soc_energy_kwh"]) == pytest.approx(0.2)
    assert row["cpu_energy"] == row["gpu_energy"] == row["npu_energy_kwh"] == ""
    assert float(row["energy_consumed"]) == pytest.approx(0.21)
