"""The live status line of ``carbonledger run``: drawn on a terminal (a real pty), absent
when output is not a terminal."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from carbonledger.accounting import CarbonContext, RunFacts, account
from carbonledger.cli._live import status_line
from carbonledger.models import ComponentEnergy, RunSummary

ARGS = [sys.executable, "-m", "carbonledger.cli.main", "run", "--no-ledger", "--country", "FR",
        "--cpu-watts", "20", "--ram-watts", "3", "--interval", "0.1", "--",
        sys.executable, "-c", "import time; time.sleep(1.0)"]  # fmt: skip
MONITOR = [sys.executable, "-m", "carbonledger.cli.main", "monitor", "--no-ledger", "--country",
           "FR", "--cpu-watts", "20", "--ram-watts", "3", "--interval", "0.2", "--duration", "1"]  # fmt: skip
MARK = " CO2e | "  # only the status line has it


def _summary(duration_s: float, cpu_j: float) -> RunSummary:
    cpu = ComponentEnergy("cpu", "cpu", "rapl", True, cpu_j, duration_s)
    ram = ComponentEnergy("ram", "ram", "ram-model", False, 3.0 * duration_s, duration_s)
    return account(RunFacts("r", "p", "e", "running", 0.0, duration_s), (cpu, ram),
                   CarbonContext("FR", "a", 100.0, "t", 1.0, "a"))  # fmt: skip


def test_status_line_shows_power_over_the_last_interval() -> None:
    line = status_line(_summary(10.0, 1000.0), _summary(9.0, 850.0))
    assert line.startswith("10.0 s | cpu 150 W  ram 3.00 W | 1.03 kJ | ")
    assert line.endswith(" CO2e | 97.1% measured")


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(XDG_CONFIG_HOME=str(tmp_path), CARBONLEDGER_NO_CLOUD_PROBE="1", TERM="xterm")
    return env


@pytest.mark.parametrize("args", [ARGS, MONITOR], ids=["run", "monitor"])
def test_no_status_line_when_not_a_terminal(tmp_path: Path, args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    assert MARK not in done.stderr and MARK not in done.stdout
    assert "carbonledger run" in done.stderr  # the final summary is still printed


@pytest.mark.parametrize("args", [ARGS, MONITOR], ids=["run", "monitor"])
def test_status_line_on_a_terminal(tmp_path: Path, args: list[str]) -> None:
    master, slave = os.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=_env(tmp_path))
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(timeout=30)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert MARK in text and "% measured" in text and "cpu " in text
    assert "carbonledger run" in text  # the summary follows the (erased) status line
