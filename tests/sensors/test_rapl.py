"""RAPL powercap sensors over fake powercap trees (no real counter needed)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonledger.errors import SensorError
from carbonledger.models import SensorInfo
from carbonledger.sensors.base import Sensor
from carbonledger.sensors.cpu.rapl import (
    ENV_POWERCAP_ROOT,
    RaplSensor,
    discover_rapl,
    powercap_root,
)
from carbonledger.testing import FakeClock, FakePowercap
from carbonledger.units import uj_to_j


def by_device(infos: list[SensorInfo]) -> dict[str, SensorInfo]:
    return {i.device: i for i in infos}


def devices(sensors: list[Sensor]) -> list[str]:
    return [s.info.device for s in sensors]


@pytest.fixture
def fake(tmp_path: Path) -> FakePowercap:
    return FakePowercap(tmp_path / "powercap")


# --------------------------------------------------------------------------- root


def test_root_from_environment() -> None:
    assert powercap_root({ENV_POWERCAP_ROOT: "/host/powercap"}) == "/host/powercap"
    assert powercap_root({}) == "/sys/class/powercap"
    assert powercap_root({ENV_POWERCAP_ROOT: "  "}) == "/sys/class/powercap"


def test_missing_root_is_unavailable_with_reason_and_fix(tmp_path: Path) -> None:
    root = tmp_path / "nowhere"
    sensors, infos = discover_rapl(root)
    assert sensors == []
    (info,) = infos
    assert not info.available and info.component == "cpu" and info.method == "rapl"
    assert f"no RAPL powercap interface at {root}" in info.reason
    assert "intel_rapl" in info.reason and "VM" in info.reason
    assert ENV_POWERCAP_ROOT in info.fix


def test_empty_root_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "powercap" / "dtpm").mkdir(parents=True)
    sensors, infos = discover_rapl(tmp_path / "powercap")
    assert sensors == [] and len(infos) == 1 and not infos[0].available


# --------------------------------------------------------------------------- discovery


def test_one_socket(fake: FakePowercap) -> None:
    fake.add_package(0, energy_uj=5_000_000)
    sensors, infos = discover_rapl(fake.root)
    assert devices(sensors) == ["cpu:package-0"]
    info = sensors[0].info
    assert (info.component, info.method, info.measured, info.host_wide) == (
        "cpu",
        "rapl",
        True,
        True,
    )
    assert info.available and infos == [info]


def test_two_sockets_with_dram(fake: FakePowercap) -> None:
    clock = FakeClock()
    fake.add_package(0, dram=True)
    fake.add_package(1, dram=True)
    sensors, infos = discover_rapl(fake.root, clock=clock)
    assert devices(sensors) == [
        "cpu:package-0",
        "ram:package-0-dram",
        "cpu:package-1",
        "ram:package-1-dram",
    ]
    assert [s.info.component for s in sensors] == ["cpu", "ram", "cpu", "ram"]
    assert all(i.available for i in infos)

    fake.advance(0, 10.0)
    fake.advance(1, 20.0)
    fake.advance(0, 1.5, dram=True)
    fake.advance(1, 2.5, dram=True)
    clock.advance(1.0)
    got = {s.info.device: s.read().energy_j for s in sensors}
    assert got == {
        "cpu:package-0": 10.0,
        "ram:package-0-dram": 1.5,
        "cpu:package-1": 20.0,
        "ram:package-1-dram": 2.5,
    }


def test_core_and_uncore_are_listed_not_counted(fake: FakePowercap) -> None:
    fake.add_package(0)
    fake.add_subzone(0, "core")
    fake.add_subzone(0, "uncore")
    fake.add_subzone(0, "dram")
    sensors, infos = discover_rapl(fake.root)
    assert devices(sensors) == ["cpu:package-0", "ram:package-0-dram"]
    skipped = {i.device: i for i in infos if not i.available}
    assert set(skipped) == {"cpu:package-0-core", "cpu:package-0-uncore"}
    assert all("part of package-0" in i.reason for i in skipped.values())


def test_psys_excluded_by_default(fake: FakePowercap) -> None:
    fake.add_package(0, dram=True)
    fake.add_zone("intel-rapl:1", "psys")
    sensors, infos = discover_rapl(fake.root)
    assert devices(sensors) == ["cpu:package-0", "ram:package-0-dram"]
    psys = by_device(infos)["cpu:psys"]
    assert not psys.available and "double counting" in psys.reason
    assert "include_psys=True" in psys.fix


def test_psys_included_replaces_what_it_covers(fake: FakePowercap) -> None:
    fake.add_package(0, dram=True)
    fake.add_zone("intel-rapl:1", "psys")
    sensors, infos = discover_rapl(fake.root, include_psys=True)
    assert devices(sensors) == ["cpu:psys"]
    listed = by_device(infos)
    assert not listed["cpu:package-0"].available and "psys" in listed["cpu:package-0"].reason
    assert not listed["ram:package-0-dram"].available


def test_flat_sysfs_layout_with_links(tmp_path: Path) -> None:
    """/sys/class/powercap lists every zone, sub-zones too, as links to the nested tree."""
    devices_dir = tmp_path / "devices" / "intel-rapl"
    FakePowercap(devices_dir).add_package(0, dram=True)
    cls = tmp_path / "class"
    cls.mkdir()
    (cls / "intel-rapl").symlink_to(devices_dir)
    (cls / "intel-rapl:0").symlink_to(devices_dir / "intel-rapl:0")
    (cls / "intel-rapl:0:0").symlink_to(devices_dir / "intel-rapl:0" / "intel-rapl:0:0")
    sensors, _ = discover_rapl(cls)
    assert devices(sensors) == ["cpu:package-0", "ram:package-0-dram"]


def test_folders_that_are_not_rapl_zones_are_ignored(fake: FakePowercap) -> None:
    """Only ``intel-rapl[-mmio]:N`` and ``:N:M`` name zones (other powercap drivers, odd names)."""
    fake.add_package(0)
    for odd in (
        "intel-rapl:x",
        "intel-rapl:",
        "intel-rapl:0:1:2",
        "intel-rapl:٣",
        "dtpm:0",
        "rapl:0",
    ):
        (fake.root / odd).mkdir()
        (fake.root / odd / "energy_uj").write_text("5\n")
    sensors, infos = discover_rapl(fake.root)
    assert devices(sensors) == ["cpu:package-0"]
    assert all("package-0" in i.device for i in infos)


def test_devices_virtual_layout(tmp_path: Path) -> None:
    """A bind mount of /sys/devices/virtual/powercap: zones inside the control-type folder."""
    root = tmp_path / "powercap"
    FakePowercap(root / "intel-rapl").add_package(0)
    sensors, _ = discover_rapl(root)
    assert devices(sensors) == ["cpu:package-0"]


def test_mmio_duplicate_is_not_counted(fake: FakePowercap) -> None:
    fake.add_package(0)
    fake.add_zone("intel-rapl-mmio:0", "package-0")
    sensors, infos = discover_rapl(fake.root)
    assert devices(sensors) == ["cpu:package-0"]
    (mmio,) = [i for i in infos if not i.available]
    assert "MMIO" in mmio.reason


def test_mmio_alone_is_used(fake: FakePowercap) -> None:
    fake.add_zone("intel-rapl-mmio:0", "package-0")
    sensors, _ = discover_rapl(fake.root)
    assert devices(sensors) == ["cpu:package-0"]


def test_environment_root_is_used_by_default(
    fake: FakePowercap, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add_package(0)
    monkeypatch.setenv(ENV_POWERCAP_ROOT, str(fake.root))
    sensors, _ = discover_rapl()
    assert devices(sensors) == ["cpu:package-0"]


# --------------------------------------------------------------------------- unreadable


def test_unreadable_counter_root_proof_directory(fake: FakePowercap) -> None:
    """A read failure that even root gets: energy_uj is a directory."""
    fake.add_package(0)
    fake.add_package(1)
    counter = fake.zone_dir(1) / "energy_uj"
    counter.unlink()
    counter.mkdir()
    sensors, infos = discover_rapl(fake.root)
    assert devices(sensors) == ["cpu:package-0"]
    bad = by_device(infos)["cpu:package-1"]
    assert not bad.available and str(counter) in bad.reason
    assert "falls back to a model" in bad.reason and bad.fix


def test_unreadable_counter_root_proof_dangling_link(fake: FakePowercap) -> None:
    fake.add_package(0, dram=True)
    counter = fake.zone_dir(0, dram=True) / "energy_uj"
    counter.unlink()
    counter.symlink_to(fake.root / "gone")
    sensors, infos = discover_rapl(fake.root)
    assert devices(sensors) == ["cpu:package-0"]
    bad = by_device(infos)["ram:package-0-dram"]
    assert not bad.available and str(counter) in bad.reason and "W/GB" in bad.reason


def _discover_as_nobody(root: Path) -> list[dict[str, object]]:
    """Run discover_rapl in a child that dropped root, so permissions really apply."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            _, infos = discover_rapl(root)
            os.write(write_fd, json.dumps([i.to_dict() for i in infos]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result: list[dict[str, object]] = json.loads(data)
    return result


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    # tmp_path sits under a 0700 folder; a process that dropped root must reach the tree
    folder = Path(tempfile.mkdtemp(prefix="carbonledger-rapl-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_permission_denied_names_file_and_fix(world_readable_dir: Path) -> None:
    fake = FakePowercap(world_readable_dir / "powercap")
    fake.add_package(0)
    for p in [fake.root, *fake.root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o444)
    counter = fake.zone_dir(0) / "energy_uj"
    counter.chmod(0)  # what Linux >= 5.10 does for non-root users (CVE-2020-8694)
    if os.geteuid() == 0:
        if not hasattr(os, "fork"):  # pragma: no cover
            pytest.skip("needs fork to drop root")
        infos = _discover_as_nobody(fake.root)
    else:  # pragma: no cover - depends on who runs the tests
        infos = [i.to_dict() for i in discover_rapl(fake.root)[1]]
    (info,) = infos
    assert info["available"] is False
    reason, fix = str(info["reason"]), str(info["fix"])
    assert "permission denied" in reason and str(counter) in reason
    assert "CVE-2020-8694" in reason and "falls back to a model" in reason
    assert f"sudo chmod a+r {fake.root}/intel-rapl:*/energy_uj" in fix and "root" in fix


def test_counter_vanishing_after_discovery_raises_sensor_error(fake: FakePowercap) -> None:
    fake.add_package(0)
    (sensor,), _ = discover_rapl(fake.root)
    (fake.zone_dir(0) / "energy_uj").unlink()
    with pytest.raises(SensorError, match="energy_uj"):
        sensor.read()


def test_missing_range_file_is_a_sensor_error(fake: FakePowercap) -> None:
    fake.add_package(0)
    (fake.zone_dir(0) / "max_energy_range_uj").unlink()
    with pytest.raises(SensorError, match="max_energy_range_uj"):
        RaplSensor(fake.zone_dir(0), "cpu", "cpu:package-0")
    sensors, infos = discover_rapl(fake.root)
    assert sensors == [] and not infos[0].available


# --------------------------------------------------------------------------- counting


def test_first_read_is_zero_then_power_is_mean_since_last(fake: FakePowercap) -> None:
    clock = FakeClock(100.0)
    fake.add_package(0, energy_uj=123_456)
    sensor = RaplSensor(fake.zone_dir(0), "cpu", "cpu:package-0", clock)
    first = sensor.read()
    assert (first.time_s, first.energy_j, first.power_w) == (100.0, 0.0, None)
    assert first.low_j is None and first.high_j is None
    fake.advance(0, 50.0)
    clock.advance(2.0)
    second = sensor.read()
    assert second.energy_j == 50.0 and second.power_w == pytest.approx(25.0)
    sensor.close()
    sensor.close()  # idempotent


def test_wraparound_is_continuous_and_exact(fake: FakePowercap) -> None:
    clock = FakeClock()
    max_range = 1_000_000_000
    fake.add_package(0, energy_uj=max_range - 300_000, max_energy_range_uj=max_range)
    sensor = RaplSensor(fake.zone_dir(0), "cpu", "cpu:package-0", clock)
    sensor.read()
    raw = fake.advance(0, 0.5)  # crosses the wrap point: 0.3 J before, 0.2 J after
    assert raw == 200_000
    clock.advance(0.01)
    reading = sensor.read()
    assert reading.energy_j == 0.5
    assert reading.power_w == pytest.approx(50.0)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    max_range=st.integers(min_value=1_000, max_value=2**40),
    start_frac=st.floats(min_value=0, max_value=1, exclude_max=True),
    steps=st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), max_size=30),
)
def test_accumulated_energy_is_the_sum_of_increments(
    tmp_path_factory: pytest.TempPathFactory,
    max_range: int,
    start_frac: float,
    steps: list[float],
) -> None:
    fake = FakePowercap(tmp_path_factory.mktemp("powercap"))
    fake.add_package(0, energy_uj=int(start_frac * max_range), max_energy_range_uj=max_range)
    sensor = RaplSensor(fake.zone_dir(0), "cpu", "cpu:package-0", FakeClock())
    increments = [int(f * max_range) for f in steps]  # each below one range: detectable
    for inc in increments:
        fake.advance(0, inc / 1e6)
        sensor.read()
    assert sensor.read().energy_j == uj_to_j(sum(increments))


def test_ten_millisecond_window_within_one_percent(fake: FakePowercap) -> None:
    """A counter advancing at 212.5 W, read 10 ms apart, across a wrap."""
    clock = FakeClock(5.0)
    power_w = 212.5
    fake.add_package(0, energy_uj=9_000_000, max_energy_range_uj=10_000_000)
    sensor = RaplSensor(fake.zone_dir(0), "cpu", "cpu:package-0", clock)
    begin = sensor.read()
    for _ in range(10):  # the counter ticks every millisecond
        clock.advance(0.001)
        fake.advance(0, power_w * 0.001)
    end = sensor.read()
    window_j = end.energy_j - begin.energy_j
    assert window_j == pytest.approx(power_w * 0.010, rel=0.01)
    assert end.power_w == pytest.approx(power_w, rel=0.01)


def test_concurrent_reads_never_double_count(fake: FakePowercap) -> None:
    fake.add_package(0)
    sensor = RaplSensor(fake.zone_dir(0), "cpu", "cpu:package-0", FakeClock())
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(200):
                sensor.read()
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(100):
        fake.advance(0, 0.25)
    for t in threads:
        t.join()
    assert not errors
    assert sensor.read().energy_j == pytest.approx(25.0)


def test_fake_powercap_refuses_undetectable_advance(fake: FakePowercap) -> None:
    fake.add_package(0, max_energy_range_uj=1_000_000)
    with pytest.raises(ValueError, match="range"):
        fake.advance(0, 1.0)
    with pytest.raises(KeyError):
        fake.zone_dir(0, dram=True)


def test_sensor_protocol(fake: FakePowercap) -> None:
    fake.add_package(0)
    sensor = RaplSensor(fake.zone_dir(0), "cpu", "cpu:package-0")
    assert isinstance(sensor, Sensor)


def test_public_test_doubles() -> None:
    import carbonledger.testing as testing
    from carbonledger.errors import SensorError
    from carbonledger.models import SensorInfo as Info

    for name in testing.__all__:
        assert getattr(testing, name) is not None, name
    clock = FakeClock()
    s = testing.FakeSensor(Info("cpu", "cpu", "fake", measured=False), 10.0, clock)
    clock.advance(2.0)
    s.set_power(20.0)
    clock.advance(1.0)
    r = s.read()
    assert r.energy_j == 40.0 and r.low_j == 30.0 and r.high_j == 50.0
    s.fail("boom")
    with pytest.raises(SensorError, match="boom"):
        s.read()
    s.fail(None)
    assert s.read().energy_j == 40.0
    s.close()
    assert s.closed
    with pytest.raises(ValueError):
        clock.advance(-1)
