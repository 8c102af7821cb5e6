"""Progress wherever output goes: a line through the "carbonledger" logger every so many
seconds and at each top-level window when stderr is not a terminal (a CI log, nohup, SLURM);
the run's total at the end; `--quiet` and the log level silence them."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import carbonledger as cl
from carbonledger.models import SensorInfo
from carbonledger.testing import FakeSensor

LINE = "carbonledger: run "


def _sensors() -> list[FakeSensor]:
    return [FakeSensor(SensorInfo("cpu", "cpu:0", "rapl", True), 40.0, time.monotonic)]


def test_the_python_tracker_logs_progress_and_its_windows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="carbonledger"):
        with cl.Tracker(
            "p", grid_g_per_kwh=100, sensors=_sensors(), ledger=False, interval_s=0.1,
            progress_s=1, handle_signals=False,
        ) as run:  # fmt: skip
            for epoch in range(2):
                with run.window(f"epoch-{epoch}"):
                    time.sleep(0.7)
    lines = [r.getMessage() for r in caplog.records]
    progress = [m for m in lines if m.startswith(LINE + run.run_id[:12] + ": ")]
    assert progress, lines  # at least one line after 1 s
    assert " CO2e | 100% measured" in progress[0] and "cpu 40.0 W" in progress[0]
    assert any(m.startswith("carbonledger: epoch-0: ") and " CO2e in " in m for m in lines)
    (end,) = [m for m in lines if m.startswith(f"{LINE}{run.run_id[:12]} completed: ")]
    assert " CO2e in " in end


def test_no_progress_lines_when_asked_for_none(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="carbonledger"):
        with cl.Tracker(
            "p", grid_g_per_kwh=100, sensors=_sensors(), ledger=False, interval_s=0.05,
            progress_s=0, handle_signals=False,
        ) as run:  # fmt: skip
            with run.window("epoch-0"):
                time.sleep(0.3)
    assert not [r for r in caplog.records if r.getMessage().startswith(LINE)]


def _cli(
    tmp_path: Path, *args: str, sigint_ignored: bool = False
) -> subprocess.CompletedProcess[str]:
    """The command line with stderr a pipe (not a terminal), as in a CI log; ``sigint_ignored``
    starts it as a script's background job starts (``cmd &``): with SIGINT ignored, which
    its own children inherit."""
    env = {**os.environ, "CARBONLEDGER_NO_CLOUD_PROBE": "1"}

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.run(
        [sys.executable, "-m", "carbonledger", *args],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
        preexec_fn=ignore_sigint if sigint_ignored else None,
    )  # fmt: skip


def test_run_logs_progress_to_a_file_not_a_terminal(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    code = "import time; time.sleep(3.2)"
    out = _cli(tmp_path, "run", "--ledger", ledger, "--grid", "100", "--interval", "0.2",
               "--progress", "1", "--", sys.executable, "-c", code)  # fmt: skip
    assert out.returncode == 0, out.stderr
    progress = [line for line in out.stderr.splitlines() if line.startswith(LINE)]
    assert len(progress) >= 3, out.stderr  # about one a second, and the end
    assert any(" measured" in line and " | " in line for line in progress)
    assert progress[-1].split(": ")[1].endswith("completed")


def test_run_quiet_says_nothing_but_the_summary(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    out = _cli(tmp_path, "run", "--ledger", ledger, "--grid", "100", "--interval", "0.2",
               "--progress", "1", "--quiet", "--", sys.executable, "-c",
               "import time; time.sleep(2.2)")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert not [line for line in out.stderr.splitlines() if line.startswith(LINE)]
    assert "carbonledger run " in out.stderr  # the summary at the end


def test_run_with_a_budget_says_whether_it_stayed_within(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    over = _cli(tmp_path, "run", "--ledger", ledger, "--grid", "100", "--interval", "0.1",
                "--cpu-watts", "100", "--budget-kg", "1e-12", "--", sys.executable, "-c",
                "import time; time.sleep(0.5)")  # fmt: skip
    assert over.returncode == 0, over.stderr
    assert "carbon budget 1.00 ng CO2e exceeded: CO2e so far" in over.stderr
    assert "over its carbon budget: the run used" in over.stderr
    within = _cli(tmp_path, "run", "--ledger", ledger, "--grid", "100", "--budget-kg", "5",
                  "--", sys.executable, "-c", "pass")  # fmt: skip
    assert within.returncode == 0, within.stderr
    assert "within its carbon budget: the run used" in within.stderr
    stopped = _cli(tmp_path, "run", "--ledger", ledger, "--grid", "100", "--interval", "0.1",
                   "--cpu-watts", "100", "--budget-kg", "1e-9", "--on-budget", "stop", "--json",
                   "--", sys.executable, "-c", "import time; time.sleep(30)")  # fmt: skip
    assert "the carbon budget stopped the run" in stopped.stderr
    import json

    summary = json.loads(stopped.stdout.strip().splitlines()[-1])
    assert summary["status"] == "interrupted" and summary["status_reason"] == "budget"
    assert summary["duration_s"] < 5  # checked at every sample, not every 5 s
    runs = _cli(tmp_path, "runs", "--ledger", ledger)
    assert "interrupted (budget)" in runs.stdout


def test_monitor_logs_progress_when_not_on_a_terminal(tmp_path: Path) -> None:
    out = _cli(tmp_path, "monitor", "--no-ledger", "--grid", "100", "--interval", "0.5",
               "--duration", "2.6", "--progress", "1")  # fmt: skip
    assert out.returncode == 0, out.stderr
    progress = [line for line in out.stderr.splitlines() if line.startswith(LINE)]
    assert len(progress) >= 2, out.stderr


def _budget_stop(tmp_path: Path, code: str, **kw: bool) -> dict[str, Any]:
    """``carbonledger run --on-budget stop`` of a command running ``code`` (30 s unless
    stopped), over its budget at the first sample: the summary (JSON)."""
    ledger = str(tmp_path / "l.sqlite")
    stopped = _cli(tmp_path, "run", "--ledger", ledger, "--grid", "100", "--interval", "0.1",
                   "--cpu-watts", "100", "--budget-kg", "1e-9", "--on-budget", "stop", "--json",
                   "--", sys.executable, "-c", code, **kw)  # fmt: skip
    assert "the carbon budget stopped the run" in stopped.stderr, stopped.stderr
    summary: dict[str, Any] = json.loads(stopped.stdout.strip().splitlines()[-1])
    assert summary["status"] == "interrupted" and summary["status_reason"] == "budget"
    return summary


def test_a_budget_stop_stops_a_command_started_with_sigint_ignored(tmp_path: Path) -> None:
    """A script's background job (``carbonledger run ... &``) starts with SIGINT ignored, and
    so does the command under it: the stop is then SIGTERM, at once."""
    summary = _budget_stop(tmp_path, "import time; time.sleep(30)", sigint_ignored=True)
    assert summary["duration_s"] < 5, summary["duration_s"]
    assert summary["exit_code"] == -signal.SIGTERM


def test_a_budget_stop_escalates_when_the_command_ignores_sigint(tmp_path: Path) -> None:
    """A command that ignores SIGINT itself gets SIGTERM after the grace period."""
    from carbonledger.cli._run_plan import STOP_GRACE_S

    code = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(30)"
    summary = _budget_stop(tmp_path, code)
    assert STOP_GRACE_S <= summary["duration_s"] < STOP_GRACE_S + 5, summary["duration_s"]
    assert summary["exit_code"] == -signal.SIGTERM
