"""The eco2AI drop-in: eco2AI's file, training epochs, the encrypted copy, misuse."""

from __future__ import annotations

import csv
import re
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from carbonledger import open_ledger
from carbonledger.compat import eco2ai
from carbonledger.errors import InputError
from carbonledger.report.crypto import MAGIC, decrypt, generate_key, load_key
from carbonledger.testing import FakeClock, FakePowercap

from .conftest import CPU_W, RAM_W

#: eco2AI 0.3.12's columns (``Tracker._construct_attributes_dict``)
ECO2AI_0312_COLUMNS = [
    "id", "project_name", "experiment_description", "epoch", "start_time", "duration(s)",
    "power_consumption(kWh)", "CO2_emissions(kg)", "CPU_name", "GPU_name", "OS",
    "region/country", "cost",
]  # fmt: skip

KWH_PER_100_S = (CPU_W + RAM_W) * 100 / 3.6e6
LEVEL = 200.0  # kg/MWh


def make(hw: dict[str, Any], **kw: Any) -> eco2ai.Tracker:
    kw.setdefault("emission_level", LEVEL)
    kw.setdefault("alpha_2_code", "FR")
    return eco2ai.Tracker(_tracker_options=hw, **kw)


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def test_start_stop_writes_eco2ais_row(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    tracker = make(hw, project_name="bert", experiment_description="base")
    tracker.start()
    clock.advance(100)
    run_id = tracker.id()
    tracker.stop()
    header, (row,) = read(tmp_path / "emission.csv")
    assert header == ECO2AI_0312_COLUMNS
    assert row["id"] == run_id
    assert (row["project_name"], row["experiment_description"]) == ("bert", "base")
    assert row["epoch"] == "N/A"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["start_time"])
    assert float(row["duration(s)"]) == pytest.approx(100)
    assert float(row["power_consumption(kWh)"]) == pytest.approx(KWH_PER_100_S)
    assert float(row["CO2_emissions(kg)"]) == pytest.approx(KWH_PER_100_S * LEVEL / 1e3)
    assert row["CPU_name"] == "Fake Xeon/1 device(s), TDP:N/A"
    assert row["GPU_name"] == " 0 device(s)"
    assert row["region/country"] == "FR"
    assert row["cost"] == "0"
    summary = open_ledger().summary(run_id)
    assert summary.scope == "process"  # cpu_processes="current"
    assert summary.co2e_kg == pytest.approx(float(row["CO2_emissions(kg)"]))


def test_pue_and_machine_scope(hw: dict[str, Any], clock: FakeClock, tmp_path: Path) -> None:
    tracker = make(hw, pue=1.2, cpu_processes="all", alpha_2_code="DE", region="Bavaria")
    tracker.start()
    clock.advance(100)
    run_id = tracker.id()
    tracker.stop()
    _, (row,) = read(tmp_path / "emission.csv")
    assert float(row["power_consumption(kWh)"]) == pytest.approx(KWH_PER_100_S * 1.2)
    assert row["region/country"] == "DE/Bavaria"
    assert open_ledger().summary(run_id).scope == "machine"


def test_each_start_is_a_new_row(hw: dict[str, Any], clock: FakeClock, tmp_path: Path) -> None:
    tracker = make(hw)
    ids = []
    for _ in range(2):
        tracker.start()
        clock.advance(10)
        ids.append(tracker.id())
        tracker.stop()
    _, rows = read(tmp_path / "emission.csv")
    assert [r["id"] for r in rows] == ids
    assert ids[0] != ids[1]


def test_the_row_is_updated_while_running(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    tracker = make(hw, measure_period=0.05)
    tracker.start()
    clock.advance(100)
    path = tmp_path / "emission.csv"
    for _ in range(400):  # the writer runs every 0.05 s; wait for its first row
        if path.exists():
            break
        time.sleep(0.025)
    _, (running,) = read(path)
    assert float(running["power_consumption(kWh)"]) == pytest.approx(KWH_PER_100_S)
    clock.advance(100)
    tracker.stop()
    _, (final,) = read(path)  # replaced, not appended
    assert float(final["power_consumption(kWh)"]) == pytest.approx(2 * KWH_PER_100_S)


def test_training_writes_one_row_per_epoch(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    tracker = make(hw)
    tracker.start_training()
    run_id = tracker.id()
    clock.advance(100)
    tracker.new_epoch({"loss": 0.5, "accuracy": 0.9})
    clock.advance(200)
    tracker.new_epoch({"loss": 0.25})
    clock.advance(50)
    tracker.stop_training()
    _, rows = read(tmp_path / "emission.csv")
    assert [r["epoch"] for r in rows] == [
        "epoch: 1, loss: 0.5, accuracy: 0.9, ",
        "epoch: 2, loss: 0.25, ",
    ]
    assert {r["id"] for r in rows} == {run_id}
    assert [float(r["duration(s)"]) for r in rows] == pytest.approx([100, 200])
    assert [float(r["power_consumption(kWh)"]) for r in rows] == pytest.approx(
        [KWH_PER_100_S, 2 * KWH_PER_100_S]
    )
    windows = open_ledger().windows(run_id)
    assert sorted(w.name for w in windows) == ["epoch-1", "epoch-2", "epoch-3"]


def test_start_training_epoch_must_be_int(hw: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        make(hw).start_training("1")  # type: ignore[arg-type]


def test_misuse_is_logged_not_raised(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make(hw)
    tracker.stop()
    tracker.new_epoch({"loss": 1})
    tracker.stop_training()
    assert "stop() before start()" in caplog.text
    assert "start_training() first" in caplog.text
    assert not (tmp_path / "emission.csv").exists()


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"measure_period": 0}, ValueError),
        ({"file_name": "out.txt"}, eco2ai.NotNeededExtensionError),
        ({"file_name": ""}, TypeError),
        ({"encode_file": "enc.bin"}, eco2ai.NotNeededExtensionError),
        ({"encode_file": False}, TypeError),
        ({"alpha_2_code": None, "region": "Bavaria"}, eco2ai.NoCountryCodeError),
    ],
)
def test_arguments_eco2ai_rejects_are_rejected(kw: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        eco2ai.Tracker(**kw)


def test_unknown_arguments_are_named(hw: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    make(hw, colour="green")
    assert "colour" in caplog.text


def test_encode_file_is_real_encryption(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    monkeypatch.setenv("CARBONLEDGER_ENCODE_KEY", key.hex())
    tracker = make(hw, encode_file=True)
    tracker.start()
    clock.advance(10)
    tracker.stop()
    blob = (tmp_path / "encoded_emission.csv").read_bytes()
    assert blob.startswith(MAGIC)
    assert b"project_name" not in blob
    assert decrypt(blob, key) == (tmp_path / "emission.csv").read_bytes()
    with pytest.raises(InputError):
        decrypt(blob, generate_key())


def test_encode_file_without_a_key_makes_one_in_the_user_config(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make(hw, encode_file="secret.csv")
    tracker.start()
    clock.advance(10)
    tracker.stop()
    key_file = tmp_path / "config" / "carbonledger" / "encode.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in caplog.text
    plain = decrypt((tmp_path / "secret.csv").read_bytes(), load_key(key_file=key_file))
    assert plain == (tmp_path / "emission.csv").read_bytes()


def test_a_file_with_other_columns_is_kept_aside(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "emission.csv"
    path.write_text("id,project_name\n1,old\n")
    tracker = make(hw)
    tracker.start()
    clock.advance(1)
    tracker.stop()
    assert (tmp_path / "emission.csv.bak").read_text() == "id,project_name\n1,old\n"
    header, rows = read(path)
    assert header == ECO2AI_0312_COLUMNS and len(rows) == 1


def test_track_decorator_with_real_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    powercap = FakePowercap(tmp_path / "powercap")
    powercap.add_package(0)
    monkeypatch.setenv("CARBONLEDGER_POWERCAP_ROOT", str(powercap.root))

    @eco2ai.track
    def fit(x: int) -> int:
        return x + 1

    assert fit(1) == 2
    header, (row,) = read(tmp_path / "emission.csv")
    assert header == ECO2AI_0312_COLUMNS
    assert row["project_name"] == "default project name"
    assert float(row["power_consumption(kWh)"]) >= 0


def test_electricity_pricing_is_not_made_up(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make(hw, electricity_pricing={"8:30-19:00": 0, "19:00-6:00": 0.5, "6:00-8:30": 1})
    assert "electricity_pricing" in caplog.text
    tracker.start()
    clock.advance(10)
    tracker.stop()
    _, (row,) = read(tmp_path / "emission.csv")
    assert row["cost"] == ""
