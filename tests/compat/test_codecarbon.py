"""The CodeCarbon drop-in: arguments, return values, records, CSV files and misuse."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from carbonledger import __version__, open_ledger
from carbonledger.compat.codecarbon import (
    EmissionsData,
    EmissionsTracker,
    LoggerOutput,
    OfflineEmissionsTracker,
    OutputMethod,
    track_emissions,
)
from carbonledger.report.export import CODECARBON_COLUMNS
from carbonledger.testing import FakeClock

from .conftest import CPU_W, RAM_W

#: CodeCarbon 3.3.2's ``EmissionsData`` fields, the header of its ``emissions.csv``
CODECARBON_332_COLUMNS = [
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions",
    "emissions_rate", "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy",
    "ram_energy", "energy_consumed", "water_consumed", "country_name", "country_iso_code",
    "region", "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version",
    "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude",
    "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
]  # fmt: skip

#: the header of CodeCarbon 3.3.2's task file for an offline run in a country, no region
#: (``TaskEmissionsData`` less its columns empty in every row: region, longitude, latitude)
CODECARBON_332_TASK_COLUMNS_OFFLINE = [
    "task_name", "timestamp", "project_name", "run_id", "duration", "emissions",
    "emissions_rate", "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy",
    "ram_energy", "energy_consumed", "water_consumed", "country_name", "country_iso_code",
    "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version", "cpu_count",
    "cpu_model", "gpu_count", "gpu_model", "ram_total_size", "tracking_mode",
    "cpu_utilization_percent", "gpu_utilization_percent", "ram_utilization_percent",
    "ram_used_gb", "on_cloud",
]  # fmt: skip

KWH_PER_100_S = (CPU_W + RAM_W) * 100 / 3.6e6  # 0.0011 kWh
INTENSITY = 100.0  # g/kWh, forced


def make(hw: dict[str, Any], cls: type[EmissionsTracker] = EmissionsTracker, **kw: Any) -> Any:
    kw.setdefault("force_carbon_intensity_g_co2e_kwh", INTENSITY)
    return cls(_tracker_options=hw, **kw)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def header(path: Path) -> list[str]:
    with path.open(newline="") as fh:
        return next(csv.reader(fh))


def test_columns_are_codecarbons() -> None:
    assert [f.name for f in dataclasses.fields(EmissionsData)] == CODECARBON_332_COLUMNS
    assert list(CODECARBON_COLUMNS) == CODECARBON_332_COLUMNS


def test_stop_returns_kg_and_writes_emissions_csv(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    tracker = make(hw, project_name="svm")
    tracker.start()
    clock.advance(100)
    emissions = tracker.stop()
    assert isinstance(emissions, float)
    assert emissions == pytest.approx(KWH_PER_100_S * INTENSITY / 1e3)
    data = tracker.final_emissions_data
    assert isinstance(data, EmissionsData)
    assert data.emissions == emissions
    assert data.duration == pytest.approx(100)
    assert data.cpu_power == pytest.approx(CPU_W)
    assert data.ram_power == pytest.approx(RAM_W)
    assert data.gpu_power == 0.0
    assert data.energy_consumed == pytest.approx(KWH_PER_100_S)
    assert data.project_name == "svm"
    assert data.tracking_mode == "machine"  # CodeCarbon's default
    assert data.cpu_model == "Fake Xeon"
    assert data.run_id == tracker.run_id
    path = tmp_path / "emissions.csv"
    assert header(path) == CODECARBON_332_COLUMNS
    (row,) = rows(path)
    assert float(row["emissions"]) == pytest.approx(emissions)
    assert row["run_id"] == tracker.run_id
    assert row["gpu_utilization_percent"] == ""  # not known: empty, never a made-up 0
    # the machine's, measured over the run (empty when it was shorter than one CPU clock
    # tick: no interval, no figure; the exact values: test_utilisation_columns_...)
    cpu = row["cpu_utilization_percent"]
    assert cpu == "" or 0.0 <= float(cpu) <= 100.0
    assert 0.0 < float(row["ram_utilization_percent"]) < 100.0
    assert row["codecarbon_version"] == f"3.3.2+carbonledger.{__version__}"
    assert row["experiment_id"] == "base"  # CodeCarbon's default experiment name
    installed = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert float(row["ram_total_size"]) == pytest.approx(installed / 2**30)  # GiB, as CodeCarbon


def test_pue_multiplies_energy_and_power_as_in_codecarbon(
    hw: dict[str, Any], clock: FakeClock
) -> None:
    tracker = make(hw, pue=1.5, save_to_file=False)
    tracker.start()
    clock.advance(100)
    emissions = tracker.stop()
    data = tracker.final_emissions_data
    assert data.cpu_power == pytest.approx(CPU_W * 1.5)
    assert data.energy_consumed == pytest.approx(KWH_PER_100_S * 1.5)
    assert emissions == pytest.approx(data.energy_consumed * INTENSITY / 1e3)
    assert data.pue == 1.5


def test_misuse_is_logged_not_raised(
    hw: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make(hw, save_to_file=False)
    assert tracker.stop() is None
    assert "never started" in caplog.text
    assert tracker.flush() is None
    assert tracker.stop_task() is None
    assert "No active task" in caplog.text
    tracker.start()
    tracker.start()
    assert "Already started" in caplog.text
    clock.advance(10)
    first = tracker.stop()
    assert first is not None
    assert tracker.stop() == first  # a second stop returns the run's figure, with a warning


def test_tasks_are_windows_with_rows_in_the_task_file(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make(hw, experiment_name="grid", country_iso_code="FRA")
    tracker.start()
    clock.advance(50)
    tracker.start_task("load")
    clock.advance(100)
    tracker.start_task("other")  # one task at a time, as in CodeCarbon
    assert "already under measure" in caplog.text
    load = tracker.stop_task()
    assert isinstance(load, EmissionsData)
    assert load.duration == pytest.approx(100)
    assert load.energy_consumed == pytest.approx(KWH_PER_100_S)
    tracker.start_task("load")  # the same name again gets a suffix
    clock.advance(200)
    total = tracker.stop()  # ends the open task first
    assert total == pytest.approx(3.5 * KWH_PER_100_S * INTENSITY / 1e3)
    task_file = tmp_path / f"emissions_grid_{tracker.run_id}.csv"
    task_rows = rows(task_file)
    assert len(task_rows) == 2
    assert task_rows[0]["task_name"] == "load"
    assert task_rows[1]["task_name"].startswith("load_")
    assert float(task_rows[1]["energy_consumed"]) == pytest.approx(2 * KWH_PER_100_S)
    assert header(task_file) == CODECARBON_332_TASK_COLUMNS_OFFLINE
    windows = open_ledger().windows(tracker.run_id)
    assert sorted(w.duration_s for w in windows) == pytest.approx([100, 200])


def test_task_without_start_starts_the_run(hw: dict[str, Any], clock: FakeClock) -> None:
    tracker = make(hw, save_to_file=False)
    tracker.start_task("only")
    clock.advance(100)
    data = tracker.stop_task()
    assert data.energy_consumed == pytest.approx(KWH_PER_100_S)
    assert tracker.stop() == pytest.approx(KWH_PER_100_S * INTENSITY / 1e3)


def test_flush_appends_a_row_and_update_mode_replaces_it(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    tracker = make(hw)
    tracker.start()
    clock.advance(100)
    so_far = tracker.flush()
    assert so_far == pytest.approx(KWH_PER_100_S * INTENSITY / 1e3)
    clock.advance(100)
    tracker.stop()
    assert [float(r["duration"]) for r in rows(tmp_path / "emissions.csv")] == [100.0, 200.0]

    updating = make(hw, on_csv_write="update", output_file="u.csv")
    updating.start()
    clock.advance(10)
    updating.flush()
    clock.advance(10)
    updating.stop()
    (row,) = rows(tmp_path / "u.csv")
    assert float(row["duration"]) == pytest.approx(20)


def test_older_header_is_backed_up_as_codecarbon_does(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "emissions.csv"
    old = "timestamp,project_name,run_id,duration,emissions\n2022-01-01T00:00:00,p,r,1.0,0.1\n"
    for _ in range(2):  # the second backup does not overwrite the first
        path.write_text(old)
        tracker = make(hw)
        tracker.start()
        clock.advance(1)
        tracker.stop()
        assert header(path) == CODECARBON_332_COLUMNS
    assert (tmp_path / "emissions.csv.bak").read_text() == old
    assert (tmp_path / "emissions.csv_0.bak").read_text() == old
    assert "CSV format has changed" in caplog.text


def test_new_file_after_backup_has_codecarbons_header(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "emissions.csv"
    path.write_text("a,b\n1,2\n")
    tracker = make(hw)
    tracker.start()
    clock.advance(1)
    tracker.stop()
    assert header(path) == CODECARBON_332_COLUMNS
    assert len(rows(path)) == 1


def test_same_columns_in_another_order_are_appended_in_the_files_order(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "emissions.csv"
    shuffled = list(reversed(CODECARBON_332_COLUMNS))
    path.write_text(",".join(shuffled) + "\n")
    tracker = make(hw, project_name="order")
    tracker.start()
    clock.advance(1)
    tracker.stop()
    assert header(path) == shuffled
    (row,) = rows(path)
    assert row["project_name"] == "order"
    assert not list(tmp_path.glob("*.bak"))


def test_empty_file_is_treated_as_new(hw: dict[str, Any], clock: FakeClock, tmp_path: Path) -> None:
    path = tmp_path / "emissions.csv"
    path.write_text("")
    tracker = make(hw)
    tracker.start()
    clock.advance(1)
    tracker.stop()
    assert header(path) == CODECARBON_332_COLUMNS


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"on_csv_write": "overwrite"}, ValueError),
        ({"tracking_mode": "cluster"}, ValueError),
        ({"output_dir": "no/such/folder"}, OSError),
    ],
)
def test_arguments_codecarbon_rejects_are_rejected(kw: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        EmissionsTracker(**kw)


def test_unknown_and_hosted_arguments_each_get_one_warning(
    hw: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make(
        hw,
        save_to_file=False,
        save_to_api=True,
        api_endpoint="https://api.example.invalid",
        api_key="k",
        experiment_id="1234",
        colour="green",
        speed=3,
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    hosted = [m for m in warnings if "hosted service" in m]
    assert len(hosted) == 1
    assert "save_to_api" in hosted[0] and "api_key" in hosted[0] and "experiment_id" in hosted[0]
    assert "carbonledger runs" in hosted[0]
    unknown = [m for m in warnings if "unknown argument" in m]
    assert len(unknown) == 1 and "colour" in unknown[0] and "speed" in unknown[0]
    tracker.start()
    clock.advance(1)
    assert tracker.stop() is not None
    assert tracker.final_emissions_data.experiment_id == "1234"


def test_the_run_is_in_the_ledger(hw: dict[str, Any], clock: FakeClock) -> None:
    tracker = make(hw, project_name="ledgered", save_to_file=False)
    tracker.start()
    clock.advance(100)
    emissions = tracker.stop()
    ledger = open_ledger()
    summary = ledger.summary(tracker.run_id)
    assert summary.project == "ledgered"
    assert summary.co2e_kg == pytest.approx(emissions)
    assert ledger.run_record(tracker.run_id).tags["compat"] == "codecarbon"


def test_no_ledger_with_ledger_false(hw: dict[str, Any], clock: FakeClock, tmp_path: Path) -> None:
    tracker = make(hw, save_to_file=False, ledger=False)
    tracker.start()
    clock.advance(1)
    assert tracker.stop() is not None
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"country_iso_code": "FRA"}, ("France", "FRA", None, "", "N")),
        (
            {"country_iso_code": "USA", "region": "california"},
            ("United States", "USA", "california", "", "N"),
        ),
        (
            {"cloud_provider": "aws", "cloud_region": "eu-west-3"},
            ("France", "FRA", None, "aws", "Y"),
        ),
    ],
)
def test_place_arguments(
    hw: dict[str, Any], clock: FakeClock, kw: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    tracker = OfflineEmissionsTracker(_tracker_options=hw, save_to_file=False, **kw)
    tracker.start()
    clock.advance(100)
    emissions = tracker.stop()
    data = tracker.final_emissions_data
    name, alpha3, region, provider, on_cloud = expected
    assert data.country_name == name
    assert data.country_iso_code == alpha3
    assert data.region == region
    assert data.cloud_provider == provider
    assert data.on_cloud == on_cloud
    assert emissions > 0


def test_unknown_country_is_logged_and_the_run_still_measured(
    hw: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = OfflineEmissionsTracker(
        _tracker_options=hw, save_to_file=False, country_iso_code="XYZ"
    )
    tracker.start()
    clock.advance(100)
    assert tracker.stop() is not None
    assert "XYZ" in caplog.text
    assert tracker.final_emissions_data.energy_consumed == pytest.approx(KWH_PER_100_S)


def test_short_measure_power_secs_is_clamped_with_a_note(
    hw: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    make(hw, measure_power_secs=0.0001, save_to_file=False)
    assert "0.01 s is used" in caplog.text


def test_logger_output(
    hw: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    user_logger = logging.getLogger("my.emissions")
    for given in (LoggerOutput(user_logger, logging.INFO), user_logger):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="my.emissions"):
            tracker = make(hw, save_to_file=False, save_to_logger=True, logging_logger=given)
            tracker.start()
            clock.advance(100)
            tracker.stop()
        (record,) = [r for r in caplog.records if r.name == "my.emissions"]
        payload = json.loads(record.getMessage())
        assert payload["run_id"] == tracker.run_id
        assert payload["energy_consumed"] == pytest.approx(KWH_PER_100_S)


def test_output_methods_enum(hw: dict[str, Any], clock: FakeClock, tmp_path: Path) -> None:
    tracker = make(hw, output_methods=[OutputMethod.LOGGER], logging_logger=logging.getLogger("x"))
    tracker.start()
    clock.advance(1)
    tracker.stop()
    assert not (tmp_path / "emissions.csv").exists()


def test_a_failing_output_handler_does_not_stop_the_others(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def out(self, total: EmissionsData, delta: EmissionsData) -> None:
            raise RuntimeError("disk full")

    tracker = make(hw, output_handlers=[Broken()])
    tracker.start()
    clock.advance(1)
    assert tracker.stop() is not None
    assert "disk full" in caplog.text
    assert (tmp_path / "emissions.csv").exists()


def test_with_block_and_user_errors(hw: dict[str, Any], clock: FakeClock) -> None:
    with make(hw, save_to_file=False) as tracker:
        clock.advance(100)
    assert tracker.final_emissions == pytest.approx(KWH_PER_100_S * INTENSITY / 1e3)

    failing = make(hw, save_to_file=False)
    with pytest.raises(ZeroDivisionError), failing:
        clock.advance(1)
        _ = 1 / 0
    assert open_ledger().summary(failing.run_id).status == "failed"


def test_track_emissions_decorator(hw: dict[str, Any], clock: FakeClock, tmp_path: Path) -> None:
    @track_emissions(project_name="deco", _tracker_options=hw, force_carbon_intensity_g_co2e_kwh=1)
    def work(x: int) -> int:
        clock.advance(100)
        return x * 2

    assert work(21) == 42
    (row,) = rows(tmp_path / "emissions.csv")
    assert row["project_name"] == "deco"

    @track_emissions(offline=True)
    def offline_without_country() -> None:
        pass

    with pytest.raises(ValueError, match="ISO Code"):
        offline_without_country()


def test_force_cpu_and_ram_power_reach_discovery() -> None:
    tracker = EmissionsTracker(
        force_cpu_power=50, force_ram_power=5, save_to_file=False, tracking_mode="machine"
    )
    tracker.start()
    tracker.stop()
    methods = {c.component: c.method for c in open_ledger().summary(tracker.run_id).components}
    assert methods["cpu"] == "user-cpu-watts"
    assert methods["ram"] == "user-ram-watts"


def test_arguments_without_effect_get_one_warning_naming_them(
    hw: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    make(hw, rapl_include_dram=True, electricitymaps_api_token="t", allow_multiple_runs=True)
    (message,) = [r.getMessage() for r in caplog.records if "without effect" in r.getMessage()]
    assert "rapl_include_dram" in message and "electricitymaps_api_token" in message
    assert "allow_multiple_runs" not in message  # True is CodeCarbon's default: nothing lost


def test_water_from_wue_and_json(hw: dict[str, Any], clock: FakeClock) -> None:
    tracker = make(hw, wue=2.0, save_to_file=False)
    tracker.start()
    clock.advance(100)
    tracker.stop()
    data = tracker.final_emissions_data
    assert data.water_consumed == pytest.approx(2.0 * KWH_PER_100_S)
    assert data.wue == 2.0
    assert json.loads(data.toJSON()) == dataclasses.asdict(data)
    assert list(data.values) == CODECARBON_332_COLUMNS


def test_wue_reaches_the_ledger(hw: dict[str, Any], clock: FakeClock, tmp_path: Path) -> None:
    """The run the drop-in records keeps the WUE (with where it came from): the ledger, show
    and every report give its water; without wue the water is unknown, not 0."""
    path = tmp_path / "l.sqlite"
    for wue in (2.0, None):
        tracker = make(hw, save_to_file=False, ledger=str(path), **({"wue": wue} if wue else {}))
        tracker.start()
        clock.advance(100)
        tracker.stop()
        run_id = tracker.final_emissions_data.run_id
        led = open_ledger(path, read_only=True)
        try:
            summary = led.summary(run_id)
        finally:
            led.close()
        if wue is None:
            assert summary.water_l is None and summary.wue_l_per_kwh is None
            continue
        assert summary.water_l == pytest.approx(2.0 * summary.energy_kwh)
        assert summary.wue_l_per_kwh == 2.0
        assert summary.water_source == "given (environment CARBONLEDGER_WUE_L_PER_KWH)"


def test_log_level_sets_carbonledgers_logger(hw: dict[str, Any]) -> None:
    logger = logging.getLogger("carbonledger")
    before = logger.level
    try:
        make(hw, log_level="error", save_to_file=False)
        assert logger.level == logging.ERROR
    finally:
        logger.setLevel(before)


def test_output_methods_as_a_comma_separated_string(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    tracker = make(hw, output_methods="csv,logger", logging_logger=logging.getLogger("y"))
    tracker.start()
    clock.advance(1)
    tracker.stop()
    assert (tmp_path / "emissions.csv").exists()


def test_a_bad_country_with_a_good_region_still_measures(
    hw: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = OfflineEmissionsTracker(
        _tracker_options=hw, save_to_file=False, country_iso_code="XYZ", region="california"
    )
    tracker.start()
    clock.advance(100)
    assert tracker.stop() is not None
    assert "trying without region" in caplog.text
    assert "trying without country" in caplog.text
    assert tracker.final_emissions_data.country_name is None  # unknown, said so


def test_a_bad_region_keeps_the_country(
    hw: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = OfflineEmissionsTracker(
        _tracker_options=hw, save_to_file=False, country_iso_code="FRA", region="atlantis"
    )
    tracker.start()
    clock.advance(1)
    tracker.stop()
    assert tracker.final_emissions_data.country_iso_code == "FRA"
    assert "atlantis" in caplog.text


def _fake_proc(root: Path, busy_s: float, idle_s: float, available_share: float) -> None:
    """A procfs with the machine's CPU times (user, idle) and memory (MemAvailable a share of
    MemTotal): the hardware edge psutil reads (``psutil.PROCFS_PATH``)."""
    root.mkdir(exist_ok=True)
    hz = os.sysconf("SC_CLK_TCK")
    ticks = (int(busy_s * hz), 0, 0, int(idle_s * hz), 0, 0, 0, 0, 0, 0)
    (root / "stat").write_text("cpu  " + " ".join(map(str, ticks)) + "\n")
    total_kb = 16 * 1024 * 1024
    lines = []
    for line in Path("/proc/meminfo").read_text().splitlines():
        key = line.split(":")[0]
        value = {"MemTotal": total_kb, "MemAvailable": int(total_kb * available_share),
                 "MemFree": int(total_kb * available_share)}.get(key)  # fmt: skip
        lines.append(f"{key}: {value} kB" if value is not None else line)
    (root / "meminfo").write_text("\n".join(lines) + "\n")


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="needs Linux's procfs layout")
def test_utilisation_columns_are_the_machines_over_the_interval(
    hw: dict[str, Any], clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psutil

    proc = tmp_path / "proc"
    monkeypatch.setattr(psutil, "PROCFS_PATH", str(proc))
    _fake_proc(proc, busy_s=1000.0, idle_s=3000.0, available_share=0.75)
    memory = [psutil.virtual_memory()]
    tracker = make(hw, country_iso_code="FRA")
    tracker.start()
    clock.advance(100)
    _fake_proc(proc, busy_s=1600.0, idle_s=3400.0, available_share=0.5)  # 600 of 1000 s busy
    memory.append(psutil.virtual_memory())
    tracker.stop()
    (row,) = rows(tmp_path / "emissions.csv")
    assert float(row["cpu_utilization_percent"]) == pytest.approx(60.0, abs=0.01)
    assert float(row["ram_utilization_percent"]) == pytest.approx(
        (memory[0].percent + memory[1].percent) / 2
    )
    assert float(row["ram_used_gb"]) == pytest.approx(
        (memory[0].used + memory[1].used) / 2 / 2**30  # GiB, as CodeCarbon's column
    )
    assert row["country_iso_code"] == "FRA"
