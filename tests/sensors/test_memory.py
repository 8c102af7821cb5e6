"""The RAM W/GB model, with injected sizes and clock."""

from __future__ import annotations

import os

import pytest

from carbonledger.errors import InputError
from carbonledger.sensors import memory
from carbonledger.sensors.base import Sensor
from carbonledger.sensors.memory import RamModelSensor
from carbonledger.testing import FakeClock

GB = 1e9


class Size:
    def __init__(self, n_bytes: float) -> None:
        self.n_bytes = n_bytes

    def __call__(self) -> float:
        return self.n_bytes


def test_cited_figures() -> None:
    assert memory.W_PER_GB == 0.392  # Cloud Carbon Footprint
    assert memory.GREEN_ALGORITHMS_W_PER_GB == 0.3725
    assert memory.W_PER_GB_LOW < memory.GREEN_ALGORITHMS_W_PER_GB < memory.W_PER_GB
    assert memory.W_PER_GB < memory.W_PER_GB_HIGH


def test_machine_scope_is_constant_power() -> None:
    clock = FakeClock()
    sensor = RamModelSensor(scope="machine", total_bytes=64 * GB, clock=clock)
    info = sensor.info
    assert (info.component, info.method, info.measured, info.host_wide) == (
        "ram",
        "ram-model",
        False,
        True,
    )
    assert "64.0 GB" in info.reason and "0.392 W/GB" in info.reason
    first = sensor.read()
    assert first.energy_j == 0 and first.power_w is None
    clock.advance(100.0)
    r = sensor.read()
    assert r.energy_j == pytest.approx(0.392 * 64 * 100)
    assert r.power_w == pytest.approx(0.392 * 64)
    assert r.low_j == pytest.approx(0.2 * 64 * 100)
    assert r.high_j == pytest.approx(0.6 * 64 * 100)
    assert isinstance(sensor, Sensor)
    sensor.close()


def test_process_scope_integrates_mean_of_both_ends() -> None:
    clock, rss = FakeClock(), Size(2 * GB)
    sensor = RamModelSensor(scope="process", rss_bytes=rss, clock=clock, w_per_gb=0.5)
    assert not sensor.info.host_wide and "RSS" in sensor.info.reason
    sensor.read()
    rss.n_bytes = 6 * GB  # grew from 2 to 6 GB over 10 s: mean 4 GB
    clock.advance(10.0)
    r = sensor.read()
    assert r.energy_j == pytest.approx(0.5 * 4 * 10)
    assert r.power_w == pytest.approx(0.5 * 4)
    clock.advance(10.0)  # steady at 6 GB
    assert sensor.read().energy_j == pytest.approx(0.5 * 4 * 10 + 0.5 * 6 * 10)


def test_custom_figure_widens_default_range() -> None:
    sensor = RamModelSensor(scope="machine", total_bytes=GB, clock=FakeClock(), w_per_gb=0.8)
    assert "range 0.2-0.8" in sensor.info.reason


def test_bad_arguments() -> None:
    with pytest.raises(InputError):
        RamModelSensor(scope="node", total_bytes=GB)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        RamModelSensor(scope="machine", total_bytes=0)
    with pytest.raises(InputError):
        RamModelSensor(scope="machine", total_bytes=GB, w_per_gb=-1)


def test_real_process_tree_rss() -> None:
    """No injection: psutil's resident memory of this process, capped at installed RAM."""
    sensor = RamModelSensor(scope="process", pid=os.getpid())
    sensor.read()
    r = sensor.read()
    assert r.energy_j >= 0
    machine = RamModelSensor(scope="machine")
    assert "GB" in machine.info.reason


def test_installed_ram_matches_psutil() -> None:
    import psutil

    from carbonledger.sensors.memory import installed_ram_bytes

    assert installed_ram_bytes() == float(psutil.virtual_memory().total)


def test_user_ram_watts_are_constant_and_shared_by_resident_memory() -> None:
    clock = FakeClock()
    machine = RamModelSensor(scope="machine", total_bytes=16e9, clock=clock, ram_watts=8.0)
    rss = [4e9]
    process = RamModelSensor(
        scope="process", total_bytes=16e9, rss_bytes=lambda: rss[0], clock=clock, ram_watts=8.0
    )
    assert machine.info.method == process.info.method == "user-ram-watts"
    assert not machine.info.measured and "set by the user" in machine.info.reason
    machine.read()
    process.read()
    clock.advance(10.0)
    m, p = machine.read(), process.read()
    assert m.energy_j == pytest.approx(80.0) and m.low_j == m.high_j == pytest.approx(80.0)
    assert p.energy_j == pytest.approx(8.0 * 4 / 16 * 10)  # a quarter of the memory
    with pytest.raises(InputError, match="ram_watts"):
        RamModelSensor(scope="machine", total_bytes=16e9, ram_watts=0.0)
