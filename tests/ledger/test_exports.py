"""CSV (CodeCarbon's columns), JSON Lines and AES-GCM encryption of exports."""

from __future__ import annotations

import base64
import csv
import io
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from carbonledger.errors import InputError
from carbonledger.ledger import MemberRecord, RunRecord, open_ledger
from carbonledger.models import ComponentEnergy, RunSummary
from carbonledger.report.crypto import decrypt, decrypt_file, encrypt, generate_key, load_key
from carbonledger.report.export import (
    CODECARBON_COLUMNS,
    CSV_COLUMNS,
    csv_row,
    export_text,
    write_jsonl,
)

from .conftest import Clock, Writer

T0 = 1_700_000_000.0

#: CodeCarbon's emissions.csv header, as CodeCarbon writes it
CODECARBON_HEADER = (
    "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,"
    "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,"
    "country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,"
    "codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,"
    "ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,"
    "ram_utilization_percent,ram_used_gb,on_cloud,pue,wue"
)

META = {
    "os": "Linux-6.1-x86_64",
    "python_version": "3.11.7",
    "carbonledger_version": "0.1.0",
    "cpu_model": "Intel Xeon Gold 6248",
    "cpu_count": 40,
    "gpu_model": "NVIDIA A100",
    "gpu_count": 1,
    "ram_total_gb": 256.0,
    "country_name": "France",
    "country_iso_code": "FRA",
    "region": "",
}


@pytest.fixture
def summary(tmp_path: Path, make_run: Callable[..., RunRecord]) -> RunSummary:
    clock = Clock(T0 + 100)
    led = open_ledger(tmp_path / "l.sqlite", clock=clock)
    write = Writer(led, clock)
    try:
        write.open(make_run(meta=META, tags={"team": "vision"}),
                   MemberRecord("m", "run-1", "h1", 1, T0), 5)  # fmt: skip
        write.finish(
            "run-1",
            "m",
            [
                ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 360_000.0, 100.0),
                ComponentEnergy("gpu", "gpu:0", "nvml-energy", True, 3_600_000.0, 100.0),
                ComponentEnergy(
                    "ram", "ram", "ram-model", False, 36_000.0, 100.0, 30_000.0, 42_000.0
                ),
            ],
            "completed",
        )
        return led.summary("run-1")
    finally:
        led.close()


def test_csv_columns_are_codecarbons_then_ours(summary: RunSummary) -> None:
    assert len(CODECARBON_COLUMNS) == 38
    assert ",".join(CODECARBON_COLUMNS) == CODECARBON_HEADER
    text, n = export_text([summary], "csv")
    assert n == 1
    header = text.splitlines()[0]
    assert header.startswith(CODECARBON_HEADER + ",")
    assert header.split(",")[38:] == list(CSV_COLUMNS[38:])
    assert {"measured_share", "methods", "co2e_low_kg", "co2e_high_kg", "status"} <= set(
        CSV_COLUMNS[38:]
    )


def test_csv_values_in_codecarbon_units(summary: RunSummary) -> None:
    row = next(csv.DictReader(io.StringIO(export_text([summary], "csv")[0])))
    assert row["timestamp"] == "2023-11-14T22:15:00"  # the run's end, UTC
    assert row["project_name"] == "proj" and row["experiment_id"] == "exp"
    assert float(row["duration"]) == pytest.approx(100.0)
    total_kwh = (360_000 + 3_600_000 + 36_000) / 3.6e6
    assert float(row["energy_consumed"]) == pytest.approx(total_kwh)
    assert float(row["cpu_energy"]) == pytest.approx(0.1)
    assert float(row["gpu_energy"]) == pytest.approx(1.0)
    assert float(row["cpu_power"]) == pytest.approx(3600.0)  # W
    assert float(row["emissions"]) == pytest.approx(total_kwh * 1.2 * 50 / 1000)  # kg
    assert float(row["emissions_rate"]) == pytest.approx(float(row["emissions"]) / 100)
    assert row["country_name"] == "France" and row["cpu_count"] == "40"
    assert float(row["ram_total_size"]) == pytest.approx(256e9 / 2**30)  # GiB, as CodeCarbon
    assert row["tracking_mode"] == "process" and row["pue"] == "1.2"
    # unknown stays empty, never guessed
    for column in (
        "region",
        "cloud_provider",
        "on_cloud",
        "longitude",
        "water_consumed",
        "wue",
        "codecarbon_version",
        "cpu_utilization_percent",
    ):
        assert row[column] == "", column
    assert row["status"] == "completed"
    assert row["methods"] == "cpu:rapl;gpu:nvml-energy;ram:ram-model"
    assert float(row["co2e_low_kg"]) < float(row["emissions"]) < float(row["co2e_high_kg"])
    assert 0.99 < float(row["measured_share"]) < 1.0
    assert json.loads(row["tags"]) == {"team": "vision"}


def test_empty_components_leave_power_cells_empty(summary: RunSummary) -> None:
    from dataclasses import replace

    bare = replace(summary, components=(), extra={})
    row = csv_row(bare)
    assert row["cpu_power"] == "" and row["cpu_energy"] == "" and row["os"] == ""
    assert row["energy_consumed"] == "0.0"


def test_jsonl_one_object_per_run(summary: RunSummary) -> None:
    buf = io.StringIO()
    assert write_jsonl([summary, summary], buf) == 2
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    obj = json.loads(lines[0])
    assert obj["run_id"] == "run-1" and obj["status"] == "completed"
    assert obj["started_at"] == "2023-11-14T22:13:20+00:00"
    assert obj["components"][2]["low_j"] == 30_000.0
    assert obj["meta"]["cpu_model"] == "Intel Xeon Gold 6248"


def test_encrypt_round_trip_and_format() -> None:
    key = generate_key()
    blob = encrypt(b"run_id,energy\nr1,1.0\n", key)
    assert blob[:8] == b"CLEDGENC" and blob[8] == 1
    assert b"energy" not in blob
    assert decrypt(blob, key) == b"run_id,energy\nr1,1.0\n"
    assert encrypt(b"x", key) != encrypt(b"x", key)  # fresh nonce each time


def test_wrong_key_and_any_flipped_byte_are_errors() -> None:
    key = generate_key()
    blob = encrypt(b"secret figures", key)
    with pytest.raises(InputError, match="wrong key"):
        decrypt(blob, generate_key())
    for i in range(len(blob)):
        flipped = bytearray(blob)
        flipped[i] ^= 0x01
        with pytest.raises(InputError):
            decrypt(bytes(flipped), key)
    with pytest.raises(InputError, match="truncated"):
        decrypt(blob[:20], key)
    with pytest.raises(InputError, match="not an encrypted"):
        decrypt(b"timestamp,project_name\n", key)


def test_keys_from_files_and_environment(tmp_path: Path) -> None:
    key = generate_key()
    raw = tmp_path / "raw.key"
    raw.write_bytes(key)
    hexed = tmp_path / "hex.key"
    hexed.write_text(key.hex() + "\n")
    b64 = tmp_path / "b64.key"
    b64.write_text(base64.b64encode(key).decode())
    for path in (raw, hexed, b64):
        path.chmod(0o600)  # a key others can read is refused
        assert load_key(key_file=path) == key
    assert load_key(key_env="K", env={"K": key.hex()}) == key
    assert load_key(key_env="K", env={"K": base64.urlsafe_b64encode(key).decode()}) == key
    short = tmp_path / "short.key"
    short.write_bytes(b"\x00\x01\xff")
    short.chmod(0o600)
    with pytest.raises(InputError, match="not 32 bytes"):
        load_key(key_file=short)
    for password in ("hunter2", "correct horse battery staple 12\n", "x" * 32):
        text = tmp_path / "password.key"
        text.write_text(password)
        text.chmod(0o600)
        with pytest.raises(InputError, match=r"password.*head -c32 /dev/urandom"):
            load_key(key_file=text)
    with pytest.raises(InputError, match="not set"):
        load_key(key_env="MISSING", env={})
    with pytest.raises(InputError, match="cannot read key file"):
        load_key(key_file=tmp_path / "none")
    with pytest.raises(InputError, match="exactly one"):
        load_key()


def test_decrypt_file_writes_nothing_on_failure(tmp_path: Path) -> None:
    key = generate_key()
    src = tmp_path / "export.enc"
    src.write_bytes(encrypt(b"a,b\n1,2\n", key))
    out = tmp_path / "out.csv"
    with pytest.raises(InputError):
        decrypt_file(src, out, generate_key())
    assert not out.exists()
    assert decrypt_file(src, out, key) == 8
    assert out.read_bytes() == b"a,b\n1,2\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # plaintext: readable by its owner only


def test_output_through_a_link_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    """The plaintext is written to a new file renamed over the name: a symbolic link planted
    at the output path is replaced, the file it points at is left alone."""
    key = generate_key()
    src = tmp_path / "export.enc"
    src.write_bytes(encrypt(b"secret\n", key))
    victim = tmp_path / "victim"
    victim.write_text("keep")
    out = tmp_path / "out.csv"
    out.symlink_to(victim)
    decrypt_file(src, out, key)
    assert victim.read_text() == "keep"
    assert not out.is_symlink() and out.read_bytes() == b"secret\n"
