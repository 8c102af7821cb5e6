"""`carbonledger run` and `carbonledger doctor` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carbonledger.ledger import open_ledger


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carbonledger", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_run_json_last_line_and_exit_code(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    child = "import sys; print('hello from child'); sum(i*i for i in range(200000)); sys.exit(3)"
    r = cli(
        "run",
        "--json",
        "--ledger",
        ledger,
        "--grid",
        "100",
        "--interval",
        "0.05",
        "--project",
        "cli",
        "--",
        sys.executable,
        "-c",
        child,
    )
    assert r.returncode == 3, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "hello from child"
    data = json.loads(lines[-1])
    for key in ("run_id", "duration_s", "energy_kwh", "co2e_kg", "components"):
        assert key in data
    assert data["exit_code"] == 3 and data["status"] == "failed"
    comps = {c["component"]: c for c in data["components"]}
    assert {"cpu", "ram"} <= set(comps)
    for c in data["components"]:
        for key in ("component", "device", "energy_j", "power_w", "method", "measured"):
            assert key in c
        if not c["measured"]:
            assert c["low_j"] <= c["energy_j"] <= c["high_j"]
    assert comps["cpu"]["energy_j"] > 0
    led = open_ledger(ledger)
    try:
        assert led.summary(data["run_id"]).project == "cli"
    finally:
        led.close()


def test_run_missing_command_is_127() -> None:
    r = cli("run", "--no-ledger", "--grid", "1", "--", "definitely-not-a-command-xyz")
    assert r.returncode == 127
    assert "command not found: definitely-not-a-command-xyz" in r.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--no-ledger"], "no command given"),
        (["run", "--scope", "galaxy", "--", "true"], "unknown scope"),
        (["run", "--interval", "0", "--", "true"], "--interval must be between 0.01 s"),
        (["run", "--interval", "inf", "--", "true"], "--interval must be between 0.01 s"),
        (["run", "--interval", "1e-9", "--", "true"], "--interval must be between 0.01 s"),
        (["monitor", "--interval", "90000"], "--interval must be between 0.01 s"),
        (["run", "--tag", "novalue", "--", "true"], "--tag takes KEY=VALUE"),
        (["run", "--no-ledger", "--project", "p" * 201, "--", "true"], "at most 200"),
        (["run", "--no-ledger", "--country", "Atlantis", "--", "true"], "unknown zone"),
    ],
)
def test_run_bad_input_is_exit_2(args: list[str], needle: str) -> None:
    r = cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr


def test_run_sigterm_is_forwarded_and_recorded(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    marker = tmp_path / "started"
    child = f"import pathlib, time; pathlib.Path({str(marker)!r}).write_text('x'); time.sleep(60)"
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "carbonledger",
            "run",
            "--json",
            "--ledger",
            ledger,
            "--grid",
            "1",
            "--interval",
            "0.05",
            "--",
            sys.executable,
            "-c",
            child,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists()
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGTERM, err
    data = json.loads(out.strip().splitlines()[-1])
    assert data["status"] == "interrupted"
    led = open_ledger(ledger)
    try:
        assert led.summary(data["run_id"]).status == "interrupted"
    finally:
        led.close()


def test_doctor_explains_every_sensor(tmp_path: Path) -> None:
    from carbonledger.testing import FakePowercap

    root = tmp_path / "powercap"
    fake = FakePowercap(root)
    fake.add_package(0, dram=True)
    r = cli("doctor", "--json", env={"CARBONLEDGER_POWERCAP_ROOT": str(root)})
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    methods = {(s["component"], s["method"], s["in_use"]) for s in report["sensors"]}
    assert ("cpu", "rapl", True) in methods
    assert ("ram", "rapl", True) in methods
    gpu = [s for s in report["sensors"] if s["component"] == "gpu"]
    assert gpu and all(not s["available"] and s["reason"] for s in gpu)


def test_doctor_without_rapl_says_why(tmp_path: Path) -> None:
    r = cli("doctor", env={"CARBONLEDGER_POWERCAP_ROOT": str(tmp_path / "missing")})
    assert r.returncode == 0, r.stderr
    assert "tdp-model" in r.stdout and "why:" in r.stdout and "fix:" in r.stdout
