"""``carbonledger doctor`` states the watts each estimating model assumes, and why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def doctor(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        **os.environ,
        "CARBONLEDGER_POWERCAP_ROOT": str(tmp_path / "no-powercap"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    return subprocess.run(
        [sys.executable, "-m", "carbonledger", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **env},
        cwd=tmp_path,
    )


def test_doctor_states_the_assumed_watts_and_their_source(tmp_path: Path) -> None:
    r = doctor(tmp_path, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    cpu = next(a for a in report["assumed_power"] if a["component"] == "cpu")
    assert cpu["method"] in ("tdp-model", "vcpu-model")
    assert (cpu["method"] == "vcpu-model") == bool(report["virtual_machine"])
    assert 0 < cpu["idle_w"] < cpu["max_w"] and cpu["low_w"] <= cpu["max_w"] <= cpu["high_w"]
    assert cpu["source"] and cpu["basis"]
    ram = next(a for a in report["assumed_power"] if a["component"] == "ram")
    assert ram["method"] == "ram-model" and "W/GB" in ram["basis"]
    text = doctor(tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Watts assumed" in text.stdout and "source:" in text.stdout


def test_doctor_shows_the_users_watts_from_the_environment_and_config(tmp_path: Path) -> None:
    r = doctor(tmp_path, "--json", CARBONLEDGER_CPU_WATTS="45", CARBONLEDGER_RAM_WATTS="6")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    got = {a["component"]: (a["method"], a["max_w"]) for a in report["assumed_power"]}
    assert got == {"cpu": ("user-cpu-watts", 45.0), "ram": ("user-ram-watts", 6.0)}
    (tmp_path / "carbonledger.toml").write_text("cpu_watts = 30\n")
    r = doctor(tmp_path)
    assert r.returncode == 0, r.stderr
    assert "user-cpu-watts" in r.stdout and "30 W set by the user" in r.stdout


def test_doctor_refuses_bad_watts_with_exit_2(tmp_path: Path) -> None:
    r = doctor(tmp_path, CARBONLEDGER_CPU_WATTS="-5")
    assert r.returncode == 2
    assert "CARBONLEDGER_CPU_WATTS" in r.stderr and "positive" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.skipif(sys.platform == "darwin", reason="this checks a host that is not a Mac")
def test_doctor_lists_the_system_on_chip_reading_and_why_not_here(tmp_path: Path) -> None:
    r = doctor(tmp_path, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    devices = [row["device"] for row in report["sensors"]]
    assert devices[0] == "soc:apple"  # the registry's order: a system-on-chip is tried first
    soc = report["sensors"][0]
    assert (soc["component"], soc["method"], soc["soc"]) == ("soc", "powermetrics", "apple")
    assert not soc["available"] and not soc["in_use"] and "not macOS" in soc["reason"]
    text = doctor(tmp_path)
    assert text.returncode == 0, text.stderr
    line = next(x for x in text.stdout.splitlines() if "soc:apple" in x)
    assert line.split()[:4] == ["--", "soc", "soc:apple", "powermetrics"]
    assert "why: not macOS" in text.stdout


def test_doctor_says_each_explanation_once_on_bare_metal_without_rapl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CPU missing from the TDP table: the assumption is said once (it used to be said
    twice in one sentence, and that sentence three times: sensor, choices, watts assumed)."""
    from carbonledger.cli.doctor import _gather, _print

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n"
        "model name\t: Obscure CPU 9000\nphysical id\t: 0\nflags\t\t: fpu vme de pse tsc\n\n"
    )
    report = _gather(
        "machine", cpuinfo=cpuinfo, powercap_root=tmp_path / "no-powercap", gpu=False,
        sys_root=tmp_path / "sys",
    )  # fmt: skip
    assert not report["virtual_machine"]
    cpu = next(a for a in report["assumed_power"] if a["component"] == "cpu")
    assert cpu["method"] == "tdp-model" and cpu["basis"].count("not in the TDP table") == 1
    _print(report)
    out = capsys.readouterr().out
    assert out.count("not in the TDP table") == 1, out
    assert "(basis above)" in out  # the choice refers to the sensor's line
    assert "cpu: tdp-model: " in out  # the watts assumed are still stated
