"""``carbonledger runs | show | verify | export | decrypt``."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from carbonledger.events import WindowEnded
from carbonledger.ledger import MemberRecord, RunRecord, open_ledger
from carbonledger.models import ComponentEnergy, Sample, WindowSummary
from carbonledger.report.crypto import generate_key

from .conftest import Clock, Writer, run_cli

T0 = 1_700_000_000.0
FORECAST = {
    "energy_j": 7.2e6,
    "energy_low_j": 6.0e6,
    "energy_high_j": 9.0e6,
    "co2e_g": 120.0,
    "co2e_low_g": 100.0,
    "co2e_high_g": 150.0,
    "windows_done": 3,
    "windows_total": 10,
}


@pytest.fixture
def ledger_path(
    tmp_path: Path, make_run: Callable[..., RunRecord], monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.delenv("CARBONLEDGER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = str(tmp_path / "l.sqlite")
    clock = Clock(T0)
    led = open_ledger(path, clock=clock)
    write = Writer(led, clock)
    try:
        cpu = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 3600.0, 10.0)
        ram = ComponentEnergy("ram", "ram", "ram-model", False, 360.0, 10.0, 300.0, 420.0)
        for k, (rid, project) in enumerate([("a1b2c3-first", "vision"), ("d4e5f6-second", "nlp")]):
            clock.t = T0 + k
            run = make_run(rid, started=T0 + k, project=project, meta={"forecast": FORECAST})
            write.open(run, MemberRecord(f"m{k}", rid, "node1", 10, T0 + k), 5)
            write(rid, f"m{k}", WindowEnded(WindowSummary("epoch-1", "epoch-1", T0, 5.0, (cpu,))))
            clock.advance(10)
            write.finish(rid, f"m{k}", [cpu, ram], "completed", ["one warning"])
        clock.t = T0 + 5
        write.open(make_run("live-run", started=T0 + 5),
                   MemberRecord("m9", "live-run", "node1", 10, T0 + 5), 1e9)  # fmt: skip
        write.samples("live-run", "m9", Sample(T0 + 6, "cpu", "cpu:package-0", 42.0), at=T0 + 6)
    finally:
        led.close()
    return path


def test_runs_json(ledger_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "runs", "--ledger", ledger_path, "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["run_id"] for r in rows] == ["live-run", "d4e5f6-second", "a1b2c3-first"]
    first = rows[2]
    for key in (
        "run_id",
        "project",
        "experiment",
        "status",
        "started_at",
        "duration_s",
        "energy_kwh",
        "co2e_kg",
    ):
        assert key in first
    assert first["started_at"] == "2023-11-14T22:13:20+00:00"
    assert first["status"] == "completed" and rows[0]["status"] == "running"
    assert first["energy_kwh"] == pytest.approx(3960 / 3.6e6)
    code, out, _ = run_cli(capsys, "runs", "--ledger", ledger_path, "--json", "-p", "nlp")
    assert [r["run_id"] for r in json.loads(out)] == ["d4e5f6-second"]
    code, out, _ = run_cli(capsys, "runs", "--ledger", ledger_path, "--json", "--limit", "1")
    assert len(json.loads(out)) == 1


def test_runs_text_and_env(
    ledger_path: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARBONLEDGER_LEDGER", ledger_path)
    code, out, _ = run_cli(capsys, "runs")
    assert code == 0
    assert "a1b2c3-first" in out and "vision/exp" in out and "completed" in out


def test_runs_without_a_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger named but absent is an error (exit 2, as for show and verify); the default
    ledger not made yet just has no runs."""
    code, _, err = run_cli(capsys, "runs", "--ledger", str(tmp_path / "none.sqlite"), "--json")
    assert code == 2 and "no ledger at" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "none.sqlite").exists()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "fresh"))
    monkeypatch.delenv("CARBONLEDGER_LEDGER", raising=False)
    code, out, _ = run_cli(capsys, "runs", "--json")
    assert code == 0 and json.loads(out) == []
    assert not (tmp_path / "fresh").exists()


def test_show_by_prefix(ledger_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "show", "a1b2", "--ledger", ledger_path, "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["run_id"] == "a1b2c3-first"
    ram = next(c for c in obj["components"] if c["component"] == "ram")
    assert ram["method"] == "ram-model" and ram["measured"] is False
    assert (ram["low_j"], ram["high_j"]) == (300.0, 420.0)
    assert obj["windows"][0]["name"] == "epoch-1"
    assert obj["errors"] == ["one warning"]
    assert obj["forecast"] == FORECAST
    code, out, _ = run_cli(capsys, "show", "a1b2", "--ledger", ledger_path)
    assert code == 0
    assert "rapl" in out and "ram-model" in out and "epoch-1" in out and "one warning" in out
    # the run has ended: its forecast is named for what it was, beside the measured total
    assert "forecast made during the run, after 3 of 10 expected windows: 2.00 kWh" in out
    assert "forecast for the whole run" not in out


def test_show_unknown_or_ambiguous_run_exits_2(
    ledger_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "show", "zzz", "--ledger", ledger_path)
    assert code == 2 and "unknown run 'zzz'" in err
    code, _, err = run_cli(capsys, "show", "", "--ledger", ledger_path)
    assert code == 2 and "ambiguous" in err


def test_verify_exit_codes(ledger_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "verify", ledger_path)
    assert code == 0 and "intact" in out
    code, out, _ = run_cli(capsys, "verify", ledger_path, "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    # the ledger as --ledger too, like every other command; two different ones are refused
    code, out, _ = run_cli(capsys, "verify", "--ledger", ledger_path)
    assert code == 0 and "intact" in out
    code, _, err = run_cli(capsys, "verify", ledger_path, "-l", ledger_path + ".other")
    assert code == 2 and "two ledgers given" in err
    conn = sqlite3.connect(ledger_path)
    conn.execute("UPDATE runs SET pue = 1.0 WHERE run_id = 'd4e5f6-second'")
    conn.commit()
    conn.close()
    code, out, _ = run_cli(capsys, "verify", ledger_path)
    assert code == 1
    assert "d4e5f6-second: modified: run.pue: sealed 1.2, now 1.0" in out
    code, out, _ = run_cli(capsys, "verify", ledger_path, "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert report["problems"][0]["ref"] == "d4e5f6-second"
    assert report["problems"][0]["kind"] == "modified"


def test_verify_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a ledger " * 100)
    code, _, err = run_cli(capsys, "verify", str(bad))
    assert code == 1 and str(bad) in err
    code, _, err = run_cli(capsys, "verify", str(tmp_path / "missing.sqlite"))
    assert code == 2 and "no ledger at" in err


def test_export_csv_and_jsonl(
    ledger_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_csv = tmp_path / "e.csv"
    code, _, err = run_cli(capsys, "export", "--csv", str(out_csv), "--ledger", ledger_path)
    assert code == 0 and "exported 3 run(s)" in err
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert [r["run_id"] for r in rows] == ["a1b2c3-first", "d4e5f6-second", "live-run"]
    out_jsonl = tmp_path / "e.jsonl"
    code, _, _ = run_cli(
        capsys, "export", "--jsonl", str(out_jsonl), "-p", "vision", "--ledger", ledger_path
    )
    assert code == 0
    lines = out_jsonl.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["project"] == "vision"
    code, out, _ = run_cli(capsys, "export", "--csv", "-", "--ledger", ledger_path)
    assert code == 0 and out.startswith("timestamp,project_name,run_id")
    code, _, err = run_cli(capsys, "export", "--ledger", ledger_path)
    assert code == 2 and "exactly one" in err


def test_encrypted_export_and_decrypt(
    ledger_path: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = generate_key()
    key_file = tmp_path / "k"
    key_file.write_text(key.hex())
    key_file.chmod(0o600)
    enc = tmp_path / "e.csv.enc"
    code, _, _ = run_cli(
        capsys,
        "export",
        "--csv",
        str(enc),
        "--encrypt",
        "--key-file",
        str(key_file),
        "--ledger",
        ledger_path,
    )
    assert code == 0
    assert enc.read_bytes().startswith(b"CLEDGENC") and b"a1b2c3" not in enc.read_bytes()
    plain = tmp_path / "plain.csv"
    monkeypatch.setenv("EXPORT_KEY", key.hex())
    code, _, _ = run_cli(capsys, "decrypt", str(enc), "-o", str(plain), "--key-env", "EXPORT_KEY")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(plain.read_text())))
    assert len(rows) == 3
    # a wrong key and a flipped byte: clear errors, no output
    monkeypatch.setenv("OTHER_KEY", generate_key().hex())
    bad_out = tmp_path / "bad.csv"
    code, _, err = run_cli(
        capsys, "decrypt", str(enc), "-o", str(bad_out), "--key-env", "OTHER_KEY"
    )
    assert code == 2 and "wrong key" in err and not bad_out.exists()
    blob = bytearray(enc.read_bytes())
    blob[40] ^= 0x80
    enc.write_bytes(bytes(blob))
    code, _, err = run_cli(
        capsys, "decrypt", str(enc), "-o", str(bad_out), "--key-file", str(key_file)
    )
    assert code == 2 and "changed" in err and not bad_out.exists()
    code, _, err = run_cli(
        capsys, "export", "--csv", str(enc), "--encrypt", "--ledger", ledger_path
    )
    assert code == 2 and "exactly one" in err


def test_encrypted_export_without_cryptography_says_what_to_do(
    ledger_path: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``cryptography`` is a dependency: a broken install stops with exit 2 saying so, and
    nothing is written."""
    for name in ("cryptography.hazmat.primitives.ciphers.aead", "cryptography.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)  # None: the import fails
    key_file = tmp_path / "k"
    key_file.write_text(generate_key().hex())
    key_file.chmod(0o600)
    enc = tmp_path / "e.csv.enc"
    code, _, err = run_cli(
        capsys, "export", "--csv", str(enc), "--encrypt", "--key-file", str(key_file),
        "--ledger", ledger_path,
    )  # fmt: skip
    assert code == 2 and "reinstall" in err and not enc.exists()
