"""`carbonledger run --start-within` and `--budget-kg`, end to end through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from carbonledger.ledger import open_ledger


def _cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARBONLEDGER_NO_CLOUD_PROBE": "1"}
    env.pop("CARBONLEDGER_ELECTRICITYMAPS_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "carbonledger", *args], capture_output=True, text=True,
        env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip


def test_start_within_starts_now_when_now_is_lowest_and_keeps_the_choice(
    tmp_path: Path,
) -> None:
    hour = int(time.time() // 3600) * 3600
    values = [80, 300, 300, 300, 300, 300]  # this hour is the cleanest: no wait
    path = tmp_path / "forecast.json"
    path.write_text(json.dumps(
        [{"timestamp": hour + i * 3600, "intensity_g_per_kwh": v} for i, v in enumerate(values)]
    ))  # fmt: skip
    ledger = str(tmp_path / "l.sqlite")
    out = _cli(
        "run", "--ledger", ledger, "--country", "GB", "--start-within", "3h",
        "--duration", "1h", "--forecast", str(path), "--json", "--", "true",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "carbonledger:" in out.stderr  # said when it starts and why
    run_id = json.loads(out.stdout.strip().splitlines()[-1])["run_id"]
    with open_ledger(ledger, read_only=True) as led:
        meta = led.run_record(run_id).meta
    schedule = meta["schedule"]
    assert schedule["choice"] and "realised" in schedule, schedule


def test_start_within_needs_the_job_length(tmp_path: Path) -> None:
    out = _cli("run", "--no-ledger", "--start-within", "3h", "--", "true", tmp_path=tmp_path)
    assert out.returncode == 2 and "--duration or --estimate" in out.stderr


def test_budget_stop_interrupts_the_command(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    busy = "import time\nend = time.time() + 60\nwhile time.time() < end: sum(range(10_000))"
    began = time.monotonic()
    out = _cli(
        "run", "--ledger", ledger, "--grid", "2000", "--interval", "0.1",
        "--budget-kg", "1e-12", "--on-budget", "stop", "--json",
        "--", sys.executable, "-c", busy, tmp_path=tmp_path,
    )  # fmt: skip
    assert time.monotonic() - began < 50, "the command ran to its end: the budget did not stop it"
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "interrupted", (summary["status"], out.stderr)
    with open_ledger(ledger, read_only=True) as led:
        budget = led.run_record(summary["run_id"]).meta["budget"]
    assert budget["exceeded"] is True, budget
