"""``carbonledger import slurm`` on a saved sacct output (tests/cluster/data/sacct.txt, made
with ``sacct --parsable2 --format=...``): estimated runs with the models' figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carbonledger.cli.main import build_app
from carbonledger.ledger import open_ledger
from carbonledger.run.slurm import parse_sacct
from carbonledger.sensors.cpu.vcpu import vcpu_power
from carbonledger.sensors.memory import W_PER_GB

SACCT = Path(__file__).parent / "data" / "sacct.txt"
A100_TDP_W = 400.0


def test_parse_keeps_allocations_that_ran() -> None:
    jobs = {j.job_id: j for j in parse_sacct(SACCT.read_text())}
    assert set(jobs) == {"1001", "1002", "1003"}  # steps and the pending job left out
    j = jobs["1001"]
    assert (j.cpus, j.gpus, j.gpu_model, j.duration_s) == (64, 8, "a100", 7200.0)
    assert j.mem_bytes == 512 * 1024**3
    assert j.cpu_utilisation == pytest.approx(80 * 3600 / (64 * 7200))


def test_missing_fields_say_how_to_run_sacct() -> None:
    from carbonledger.errors import InputError

    with pytest.raises(InputError, match="--parsable2 --format="):
        parse_sacct("JobID|State\n1|COMPLETED\n")


def test_import_writes_estimated_runs_once(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.sqlite")
    runner = CliRunner()
    args = ["import", "slurm", str(SACCT), "--ledger", ledger, "--grid-g-per-kwh", "100",
            "--json"]  # fmt: skip
    first = runner.invoke(build_app(), args)
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout.strip().splitlines()[-1])
    assert out == {"imported": ["slurm-1001", "slurm-1002"], "skipped": ["slurm-1003"]}
    again = runner.invoke(build_app(), args)
    assert json.loads(again.stdout.strip().splitlines()[-1])["imported"] == []

    led = open_ledger(ledger, read_only=True)
    try:
        s = led.summary("slurm-1001")
        cancelled = led.summary("slurm-1002")
    finally:
        led.close()
    assert s.status == "completed" and cancelled.status == "interrupted"
    assert s.duration_s == pytest.approx(7200)
    assert all(not c.measured for c in s.components)
    by = {c.component: c for c in s.components}
    row = vcpu_power(None)
    util = 80 * 3600 / (64 * 7200)
    cpu_j = 64 * (row.min_w + (row.max_w - row.min_w) * util) * 7200
    assert by["cpu"].energy_j == pytest.approx(cpu_j)
    assert by["gpu"].energy_j == pytest.approx(8 * A100_TDP_W * 0.7 * 7200)
    assert (by["gpu"].low_j, by["gpu"].high_j) == pytest.approx(
        (8 * A100_TDP_W * 0.4 * 7200, 8 * A100_TDP_W * 7200)
    )
    assert by["ram"].energy_j == pytest.approx(512 * 1024**3 / 1e9 * W_PER_GB * 7200)
    assert "sacct" in by["gpu"].method


def test_unknown_gpu_needs_watts_and_no_sacct_is_exit_2(tmp_path: Path) -> None:
    text = SACCT.read_text().replace("gres/gpu:a100=8", "gres/gpu:zz9=8")
    path = tmp_path / "sacct.txt"
    path.write_text(text)
    runner = CliRunner()
    bad = runner.invoke(build_app(), ["import", "slurm", str(path), "-l", str(tmp_path / "l.db")])
    assert bad.exit_code == 2 and "--gpu-watts" in bad.output
    ok = runner.invoke(build_app(), ["import", "slurm", str(path), "-l", str(tmp_path / "l.db"),
                                     "--gpu-watts", "300", "--grid-g-per-kwh", "50"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    missing = runner.invoke(build_app(), ["import", "slurm", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_a_job_tracked_live_is_not_imported_again(tmp_path: Path) -> None:
    import carbonledger as cl
    from carbonledger.models import SensorInfo
    from carbonledger.testing import FakeClock, FakeSensor

    ledger = str(tmp_path / "ledger.sqlite")
    cpu = FakeSensor(SensorInfo("cpu", "cpu:package-0", "rapl", True), 10.0, FakeClock())
    with cl.Tracker("live", run_id="slurm-1002.0", sensors=[cpu], ledger=ledger,
                    grid_g_per_kwh=100, handle_signals=False):  # fmt: skip
        pass
    result = CliRunner().invoke(
        build_app(),
        ["import", "slurm", str(SACCT), "-l", ledger, "--grid-g-per-kwh", "1", "--json"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["imported"] == ["slurm-1001"]
    assert "slurm-1002" in out["skipped"]
