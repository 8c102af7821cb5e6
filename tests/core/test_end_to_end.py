"""End to end through the real Tracker: a killed process, a live forecast, live metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from carbonledger.ledger import open_ledger
from carbonledger.run.journal import replay_pending

KILLED = textwrap.dedent(
    """
    import sys, time, pathlib
    import carbonledger as cl
    run = cl.Tracker("crash", grid_g_per_kwh=300, ledger=sys.argv[1], interval_s=0.05,
                     gpu=False).start()
    pathlib.Path(sys.argv[2]).write_text(run.run_id)
    while True:  # burn CPU until killed
        sum(i * i for i in range(10_000))
    """
)


def wait_for(path: Path, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def test_sigkill_loses_at_most_one_interval_and_shows_interrupted(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    marker = tmp_path / "run_id"
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    p = subprocess.Popen([sys.executable, str(script), ledger, str(marker)])
    run_id = wait_for(marker)
    time.sleep(0.6)  # a dozen samples
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    now = open_ledger(ledger)
    try:
        # what the killed tracker signed but had not committed yet (its ticks are committed
        # every few seconds) is in its journal: replayed as the next writer here does
        assert sum(r.batches for r in replay_pending(now) if r.done) > 0
        live = now.summary(run_id)
    finally:
        now.close()
    assert live.status == "running", live  # its lease has not expired yet
    # a later reader (clock past the lease TTL) sees it interrupted, energy kept
    later = open_ledger(ledger, clock=lambda: time.time() + 3600)
    try:
        s = later.summary(run_id)
    finally:
        later.close()
    assert s.status == "interrupted", s
    cpu = next(c for c in s.components if c.component == "cpu")
    assert cpu.energy_j > 0 and cpu.method in ("tdp-model", "vcpu-model"), (cpu, s.errors)
    assert s.energy_j == pytest.approx(live.energy_j), (live.components, s.components)


def _run_and_kill(tmp_path: Path, name: str, code: str) -> tuple[str, float]:
    """`carbonledger run` of ``code``, SIGKILLed with its child 1.5 s after the ledger holds
    the run: the run's status and CPU energy (J) as the ledger holds them once what the
    process signed is replayed (as the next writer on this machine does)."""
    ledger = str(tmp_path / f"{name}.sqlite")
    env = {**os.environ, "CARBONLEDGER_NO_CLOUD_PROBE": "1"}
    p = subprocess.Popen(
        [sys.executable, "-m", "carbonledger", "run", "--ledger", ledger, "--grid", "300",
         "--interval", "0.1", "--project", name, "--", sys.executable, "-c", code],
        env=env, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the ledger holds 1.5 s of the run
        time.sleep(0.2)
        if not os.path.exists(ledger):
            continue
        try:
            with open_ledger(ledger, read_only=True) as reader:
                runs = reader.list_runs(project=name)
        except Exception:  # the ledger is being created
            continue
        if runs:
            break
    time.sleep(1.5)
    os.killpg(p.pid, signal.SIGKILL)  # carbonledger and its child, at once
    p.wait(timeout=30)
    reader = open_ledger(ledger, clock=lambda: time.time() + 3600)
    try:
        replay_pending(reader)
        (s,) = reader.list_runs(project=name)
    finally:
        reader.close()
    return s.status, s.component_energy_j("cpu")


def test_carbonledger_run_killed_in_its_second_second_counts_its_child(tmp_path: Path) -> None:
    """`carbonledger run` counts the command it spawned from its birth, found within one
    interval: killed 1.5 s in, what it signed holds the busy child's CPU energy."""
    busy = "import time\nend = time.time() + 60\nwhile time.time() < end: sum(range(10_000))"
    status, busy_j = _run_and_kill(tmp_path, "busy", busy)
    assert status == "interrupted"
    _, sleeping_j = _run_and_kill(tmp_path, "sleeping", "import time; time.sleep(60)")
    # a busy core for about a second, against a child that only sleeps
    assert busy_j > 2 * sleeping_j and busy_j > 0, (busy_j, sleeping_j)


FORECASTING = textwrap.dedent(
    """
    import sys, time, pathlib
    import carbonledger as cl
    with cl.Tracker("fc", grid_g_per_kwh=300, ledger=sys.argv[1], interval_s=0.05,
                    gpu=False, expected_epochs=10) as run:
        for i in range(3):
            with run.window(f"epoch-{i}"):
                sum(j * j for j in range(200_000))
        pathlib.Path(sys.argv[2]).write_text(run.run_id)
        time.sleep(60)  # still running while the test looks
    """
)


def test_show_displays_forecast_of_running_run(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    marker = tmp_path / "run_id"
    script = tmp_path / "fc.py"
    script.write_text(FORECASTING)
    p = subprocess.Popen([sys.executable, str(script), ledger, str(marker)])
    try:
        run_id = wait_for(marker)
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "carbonledger",
                "show",
                run_id[:10],
                "--ledger",
                ledger,
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout.strip().splitlines()[-1])
        assert data["status"] == "running"
        fc = data["forecast"]
        assert fc["windows_done"] == 3 and fc["windows_total"] == 10
        assert fc["energy_low_j"] <= fc["energy_j"] <= fc["energy_high_j"]
        text = subprocess.run(
            [sys.executable, "-m", "carbonledger", "show", run_id, "--ledger", ledger],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "forecast" in text.stdout and "3/10" in text.stdout
    finally:
        p.kill()
        p.wait(timeout=30)


def test_monitor_serves_prometheus_metrics(tmp_path: Path) -> None:
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "carbonledger",
            "monitor",
            "--no-ledger",
            "--grid",
            "200",
            "--interval",
            "0.1",
            "--duration",
            "30",
            "--prometheus-port",
            "0",
            "--quiet",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stderr is not None
        url = ""
        deadline = time.monotonic() + 60
        while not url and time.monotonic() < deadline:
            line = p.stderr.readline()
            if "serving Prometheus metrics at" in line:
                url = line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        time.sleep(0.3)
        body = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "carbonledger_energy_joules_total{" in body
        assert 'component="cpu"' in body
        assert 'method="tdp-model"' in body or 'method="vcpu-model"' in body
        assert "carbonledger_emissions_grams_total" in body
    finally:
        # SIGTERM, not SIGINT: a job started in the background by a non-interactive shell
        # (as CI may be) inherits SIGINT ignored, and then Ctrl-C cannot reach it anyway
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=60)
    assert p.returncode == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "interrupted" and summary["scope"] == "machine"
