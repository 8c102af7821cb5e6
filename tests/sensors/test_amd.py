"""AMD GPU sensors over the fake amdsmi module (no GPU needed)."""

from __future__ import annotations

import sys

import pytest

from carbonledger.errors import SensorError
from carbonledger.models import SensorInfo
from carbonledger.sensors.base import Sensor
from carbonledger.sensors.gpu.amd import POWER_REASON, AmdEnergySensor, AmdPowerSensor, discover_amd
from carbonledger.testing import FakeAmdGpu, FakeAmdSmi


def mi(uuid: str = "u0", **kw: object) -> FakeAmdGpu:
    return FakeAmdGpu("AMD Instinct MI300X", uuid, **kw)  # type: ignore[arg-type]


def close_all(sensors: list[Sensor]) -> None:
    for s in sensors:
        s.close()


def by_device(infos: list[SensorInfo]) -> dict[str, SensorInfo]:
    return {i.device: i for i in infos}


def test_two_gpus_with_and_without_energy_counter() -> None:
    smi = FakeAmdSmi(
        [
            mi("u0", energy_uj=9e12, power_w=500),
            FakeAmdGpu("AMD Radeon Pro W6800", "u1", has_energy_counter=False, power_w=200),
        ]
    )
    sensors, infos = discover_amd(smi, env={}, clock=smi.clock)
    assert [type(s) for s in sensors] == [AmdEnergySensor, AmdPowerSensor]
    a, b = (s.info for s in sensors)
    assert (a.device, a.method, a.measured, a.model, a.uid) == (
        "gpu:amd-0",
        "amdsmi-energy",
        True,
        "AMD Instinct MI300X",
        "u0",
    )
    assert (b.device, b.method, b.measured) == ("gpu:amd-1", "amdsmi-power", True)
    assert POWER_REASON in b.reason
    assert not a.host_wide and infos == [a, b]
    smi.tick(2.0)
    ra, rb = (s.read() for s in sensors)
    # the counter ticks in 15.3 µJ steps: within one tick of 1000 J
    assert ra.energy_j == pytest.approx(1000.0, abs=15.3e-6)
    assert ra.power_w == 500.0
    assert rb.energy_j == pytest.approx(400.0)
    close_all(sensors)
    assert smi.init_calls == smi.shutdown_calls == 1


def test_energy_is_accumulator_times_resolution_in_microjoules() -> None:
    smi = FakeAmdSmi([mi(counter_resolution_uj=15.3, energy_uj=0)])
    sensors, _ = discover_amd(smi, env={}, clock=smi.clock)
    smi.gpus[0].energy_uj = 1000 * 15.3  # 1000 ticks
    assert sensors[0].read().energy_j == pytest.approx(1000 * 15.3e-6)
    close_all(sensors)


def test_legacy_power_key_is_read_as_the_accumulator() -> None:
    smi = FakeAmdSmi([mi(legacy_keys=True, power_w=100)])
    sensors, _ = discover_amd(smi, env={}, clock=smi.clock)
    smi.tick(1.0)
    assert sensors[0].info.method == "amdsmi-energy"
    assert sensors[0].read().energy_j == pytest.approx(100.0, abs=15.3e-6)
    close_all(sensors)


def test_missing_package_is_unavailable_with_the_install_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    sensors, infos = discover_amd(env={})
    assert sensors == []
    assert len(infos) == 1
    info = infos[0]
    assert (info.component, info.device, info.available) == ("gpu", "gpu:amd", False)
    assert "amdsmi" in info.reason
    assert "pip install carbonledger[amd]" in info.fix


def test_no_driver_gives_one_unavailable_info() -> None:
    sensors, infos = discover_amd(FakeAmdSmi(init_error=8), env={})
    assert sensors == [] and len(infos) == 1
    assert "failed to start" in infos[0].reason and "amdgpu" in infos[0].fix


def test_no_gpu() -> None:
    smi = FakeAmdSmi([])
    sensors, infos = discover_amd(smi, env={})
    assert sensors == [] and "no AMD GPU" in infos[0].reason
    assert smi.init_calls == smi.shutdown_calls == 1


@pytest.mark.parametrize(
    ("env", "devices"),
    [
        ({"ROCR_VISIBLE_DEVICES": "2,0"}, ["gpu:amd-2", "gpu:amd-0"]),
        ({"HIP_VISIBLE_DEVICES": "1"}, ["gpu:amd-1"]),
        ({"CUDA_VISIBLE_DEVICES": "1"}, ["gpu:amd-1"]),  # HIP honours it too
        # HIP indices pick among the GPUs ROCR left visible
        ({"ROCR_VISIBLE_DEVICES": "1,2", "HIP_VISIBLE_DEVICES": "1"}, ["gpu:amd-2"]),
        # HIP_VISIBLE_DEVICES wins over CUDA_VISIBLE_DEVICES
        ({"HIP_VISIBLE_DEVICES": "0", "CUDA_VISIBLE_DEVICES": "2"}, ["gpu:amd-0"]),
        ({"ROCR_VISIBLE_DEVICES": "GPU-bbbb"}, ["gpu:amd-1"]),
    ],
)
def test_visible_subset(env: dict[str, str], devices: list[str]) -> None:
    smi = FakeAmdSmi(
        [mi("u0", hip_uuid="GPU-aaaa0000"), mi("u1", hip_uuid="GPU-bbbb1111"), mi("u2")]
    )
    sensors, infos = discover_amd(smi, env=env, clock=smi.clock)
    assert [s.info.device for s in sensors] == devices
    assert [i.device for i in infos] == devices
    close_all(sensors)


@pytest.mark.parametrize(
    ("env", "devices"),
    [
        ({"ROCR_VISIBLE_DEVICES": ""}, []),
        ({"HIP_VISIBLE_DEVICES": "-1"}, []),
        ({"ROCR_VISIBLE_DEVICES": "1,5,0"}, ["gpu:amd-1"]),
        ({"ROCR_VISIBLE_DEVICES": "1", "HIP_VISIBLE_DEVICES": "1"}, []),
    ],
)
def test_hidden_or_invalid(env: dict[str, str], devices: list[str]) -> None:
    smi = FakeAmdSmi([mi("u0"), mi("u1"), mi("u2")])
    sensors, infos = discover_amd(smi, env=env, clock=smi.clock)
    assert [s.info.device for s in sensors] == devices
    notes = [i for i in infos if i.device == "gpu:amd"]
    assert len(notes) == 1 and not notes[0].available
    close_all(sensors)
    assert smi.init_calls == smi.shutdown_calls


def test_a_gpu_failing_at_discovery_leaves_the_others_working() -> None:
    smi = FakeAmdSmi([mi("u0", fail=True), mi("u1", power_w=300)])
    sensors, infos = discover_amd(smi, env={}, clock=smi.clock)
    assert [s.info.device for s in sensors] == ["gpu:amd-1"]
    assert not by_device(infos)["gpu:amd-0"].available
    close_all(sensors)


def test_gpu_with_neither_counter_nor_power() -> None:
    smi = FakeAmdSmi([mi(has_energy_counter=False, has_power=False)])
    sensors, infos = discover_amd(smi, env={}, clock=smi.clock)
    assert sensors == []
    assert "neither an energy counter" in infos[0].reason
    assert smi.init_calls == smi.shutdown_calls


def test_read_failure_raises_sensor_error() -> None:
    smi = FakeAmdSmi([mi(power_w=100), mi("u1", has_energy_counter=False, power_w=100)])
    sensors, _ = discover_amd(smi, env={}, clock=smi.clock)
    for gpu in smi.gpus:
        gpu.read_error = 1
    with pytest.raises(SensorError, match="energy counter read failed"):
        sensors[0].read()
    with pytest.raises(SensorError, match="power read failed"):
        sensors[1].read()
    close_all(sensors)


def test_counter_reset_is_treated_as_restart() -> None:
    smi = FakeAmdSmi([mi(energy_uj=5e9, counter_resolution_uj=1.0)])
    sensors, _ = discover_amd(smi, env={}, clock=smi.clock)
    smi.advance(0, joules=40.0)
    assert sensors[0].read().energy_j == pytest.approx(40.0)
    smi.reset_counter(0)
    smi.advance(0, joules=2.0)
    assert sensors[0].read().energy_j == pytest.approx(42.0)
    assert sensors[0].resets == 1  # type: ignore[attr-defined]
    close_all(sensors)


def test_ten_millisecond_window_within_one_percent() -> None:
    smi = FakeAmdSmi([mi(energy_uj=7.7e11, power_w=480)])
    sensors, _ = discover_amd(smi, env={}, clock=smi.clock)
    smi.tick(3.0)
    begin = sensors[0].read()
    smi.tick(0.010)
    end = sensors[0].read()
    assert end.energy_j - begin.energy_j == pytest.approx(480 * 0.010, rel=0.01)
    close_all(sensors)


def test_power_integration_exact_for_piecewise_constant_power() -> None:
    smi = FakeAmdSmi([mi(has_energy_counter=False, power_w=100)])
    sensors, _ = discover_amd(smi, env={}, clock=smi.clock)
    expected = 0.0
    for watts, seconds in [(100, 3.0), (400, 1.5), (50, 2.0)]:
        smi.set_power(0, watts)
        sensors[0].read()
        smi.tick(seconds)
        sensors[0].read()
        expected += watts * seconds
    assert sensors[0].read().energy_j == pytest.approx(expected, rel=1e-12)
    close_all(sensors)


def test_power_not_reported_is_not_a_power_sensor() -> None:
    class NoPower(FakeAmdSmi):
        def amdsmi_get_power_info(self, handle: object) -> dict[str, object]:
            info = super().amdsmi_get_power_info(handle)
            return {**info, "current_socket_power": "N/A"}

    smi = NoPower([mi(has_energy_counter=False, power_w=100)])
    sensors, infos = discover_amd(smi, env={}, clock=smi.clock)
    assert sensors == [] and "N/A" in infos[0].reason


def test_real_amdsmi_on_this_machine_never_raises() -> None:
    sensors, infos = discover_amd(env={})
    assert infos
    if not sensors:
        assert infos[0].device == "gpu:amd" and not infos[0].available and infos[0].fix
    close_all(sensors)


def test_fake_follows_an_external_clock() -> None:
    from carbonledger.testing import FakeClock

    clock = FakeClock()
    smi = FakeAmdSmi([mi(power_w=300, counter_resolution_uj=1.0)], clock=clock)
    sensors, _ = discover_amd(smi, env={}, clock=clock)
    clock.advance(1.5)
    assert sensors[0].read().energy_j == pytest.approx(450.0)
    close_all(sensors)
