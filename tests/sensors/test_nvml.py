"""NVIDIA GPU sensors over the fake NVML module (no GPU needed)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.errors import SensorError
from carbonledger.models import SensorInfo
from carbonledger.sensors.base import Sensor
from carbonledger.sensors.gpu.nvidia import (
    MIG_REASON,
    POWER_REASON,
    NvmlEnergySensor,
    NvmlPowerSensor,
    discover_nvml,
    gpu_utilisation_percent,
    nvml_driver_version,
    parse_cuda_visible_devices,
)
from carbonledger.testing import FakeGpu, FakeNvml

UUID0 = "GPU-0a1b2c3d-1111-2222-3333-444455556666"
UUID1 = "GPU-0a1b9999-aaaa-bbbb-cccc-ddddeeeeffff"
UUID2 = "GPU-77777777-aaaa-bbbb-cccc-ddddeeeeffff"


def h100(uuid: str = UUID0, **kw: object) -> FakeGpu:
    return FakeGpu("NVIDIA H100 80GB HBM3", uuid, **kw)  # type: ignore[arg-type]


def by_device(infos: list[SensorInfo]) -> dict[str, SensorInfo]:
    return {i.device: i for i in infos}


def close_all(sensors: list[Sensor]) -> None:
    for s in sensors:
        s.close()


# --------------------------------------------------------------------------- discovery


def test_two_gpus_with_and_without_energy_counter() -> None:
    nvml = FakeNvml(
        [
            h100(UUID0, energy_mj=5_000_000, power_mw=300_000),
            FakeGpu("Tesla P100-PCIE-16GB", UUID1, has_energy_counter=False, power_mw=150_000),
        ]
    )
    sensors, infos = discover_nvml(nvml, env={}, clock=nvml.clock)
    assert [type(s) for s in sensors] == [NvmlEnergySensor, NvmlPowerSensor]
    for sensor in sensors:
        assert isinstance(sensor, Sensor)
    a, b = (s.info for s in sensors)
    assert (a.device, a.method, a.measured, a.model, a.uid) == (
        "gpu:0",
        "nvml-energy",
        True,
        "NVIDIA H100 80GB HBM3",
        UUID0,
    )
    assert (b.device, b.method, b.measured) == ("gpu:1", "nvml-power", True)
    assert POWER_REASON in b.reason
    assert "trapezoid" in b.reason and "sampling interval" in b.reason
    assert not a.host_wide and not b.host_wide
    assert infos == [a, b]
    assert sensors[0].power_limit_w == pytest.approx(400.0)  # type: ignore[attr-defined]

    nvml.tick(2.0)  # 300 W and 150 W for 2 s
    ra, rb = (s.read() for s in sensors)
    assert ra.energy_j == pytest.approx(600.0)
    assert ra.power_w == pytest.approx(300.0)
    assert rb.energy_j == pytest.approx(300.0)
    assert ra.time_s == rb.time_s == 2.0
    close_all(sensors)


def test_energy_is_relative_to_construction_not_driver_load() -> None:
    nvml = FakeNvml([h100(energy_mj=123_456_789)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    assert sensors[0].read().energy_j == 0.0
    nvml.advance(0, joules=1.5)
    assert sensors[0].read().energy_j == pytest.approx(1.5)
    close_all(sensors)


def test_nvml_init_and_shutdown_pair_up() -> None:
    nvml = FakeNvml([h100(UUID0), h100(UUID1)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    assert nvml.init_calls == 1 and nvml.shutdown_calls == 0
    sensors[0].close()
    sensors[0].close()  # idempotent
    assert nvml.shutdown_calls == 0
    sensors[1].close()
    assert nvml.shutdown_calls == 1
    with pytest.raises(SensorError, match="closed"):
        sensors[0].read()


def test_discovery_without_working_gpu_shuts_nvml_down() -> None:
    nvml = FakeNvml([h100(fail=True)])
    sensors, infos = discover_nvml(nvml, env={}, clock=nvml.clock)
    assert sensors == []
    assert nvml.init_calls == nvml.shutdown_calls == 1
    assert not infos[0].available


# --------------------------------------------------------------------------- no driver


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (FakeNvml.NVML_ERROR_LIBRARY_NOT_FOUND, "libnvidia-ml.so.1"),
        (FakeNvml.NVML_ERROR_DRIVER_NOT_LOADED, "not loaded"),
        (FakeNvml.NVML_ERROR_UNKNOWN, "failed to start"),
    ],
)
def test_no_driver_gives_one_unavailable_info(code: int, words: str) -> None:
    sensors, infos = discover_nvml(FakeNvml(init_error=code), env={})
    assert sensors == []
    assert len(infos) == 1
    info = infos[0]
    assert (info.component, info.device, info.available) == ("gpu", "gpu", False)
    assert "no NVIDIA GPU measured" in info.reason and words in info.reason
    assert "nvidia-smi" in info.fix and "without an NVIDIA GPU" in info.fix


def test_missing_pynvml_module_is_unavailable_not_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    sensors, infos = discover_nvml(env={}, driver_paths=[__file__])  # a "driver" is present
    assert sensors == []
    assert len(infos) == 1 and not infos[0].available
    assert "nvidia-ml-py" in infos[0].reason and "pip install" in infos[0].fix
    assert nvml_driver_version() is None


def test_real_pynvml_on_this_machine_never_raises() -> None:
    # Whatever this machine has (usually no NVIDIA driver), discovery answers.
    sensors, infos = discover_nvml(env={})
    assert infos
    if not sensors:
        assert infos[0].device == "gpu" and not infos[0].available and infos[0].reason
    close_all(sensors)


def test_driver_with_zero_gpus() -> None:
    sensors, infos = discover_nvml(FakeNvml([]), env={})
    assert sensors == [] and len(infos) == 1
    assert "reports no GPU" in infos[0].reason


def test_driver_version() -> None:
    nvml = FakeNvml([h100()], driver_version="550.54.15")
    assert nvml_driver_version(nvml) == "550.54.15"
    assert nvml.init_calls == nvml.shutdown_calls == 1
    assert nvml_driver_version(FakeNvml(init_error=FakeNvml.NVML_ERROR_LIBRARY_NOT_FOUND)) is None


# --------------------------------------------------------------------------- visible devices


def three_gpus() -> FakeNvml:
    return FakeNvml([h100(UUID0), h100(UUID1), h100(UUID2)])


@pytest.mark.parametrize(
    ("value", "devices"),
    [
        ("1", ["gpu:1"]),
        ("2,0", ["gpu:2", "gpu:0"]),
        (" 2 , 0 ", ["gpu:2", "gpu:0"]),
        (UUID1, ["gpu:1"]),
        ("GPU-7777", ["gpu:2"]),  # a unique UUID prefix
        (f"{UUID2},0", ["gpu:2", "gpu:0"]),
        ("0,0", ["gpu:0"]),  # counted once
    ],
)
def test_visible_subset(value: str, devices: list[str]) -> None:
    nvml = three_gpus()
    sensors, infos = discover_nvml(nvml, env={"CUDA_VISIBLE_DEVICES": value}, clock=nvml.clock)
    assert [s.info.device for s in sensors] == devices
    assert [i.device for i in infos] == devices
    close_all(sensors)


@pytest.mark.parametrize("value", ["", "  ", "-1", "NoDevFiles", "7"])
def test_nothing_visible(value: str) -> None:
    nvml = three_gpus()
    sensors, infos = discover_nvml(nvml, env={"CUDA_VISIBLE_DEVICES": value}, clock=nvml.clock)
    assert sensors == []
    assert len(infos) == 1 and infos[0].device == "gpu" and not infos[0].available
    assert "CUDA_VISIBLE_DEVICES" in infos[0].reason
    assert "no GPU is visible" in infos[0].reason or "hides every GPU" in infos[0].reason
    assert nvml.init_calls == nvml.shutdown_calls


@pytest.mark.parametrize(
    ("value", "devices"),
    [
        ("1,-1,0", ["gpu:1"]),  # CUDA stops at the first invalid entry
        ("0,9,2", ["gpu:0"]),
        ("2,GPU-0a1b,1", ["gpu:2"]),  # ambiguous prefix (UUID0 and UUID1) is invalid
        ("1,GPU-ffff", ["gpu:1"]),
    ],
)
def test_stop_at_first_invalid_entry(value: str, devices: list[str]) -> None:
    nvml = three_gpus()
    sensors, infos = discover_nvml(nvml, env={"CUDA_VISIBLE_DEVICES": value}, clock=nvml.clock)
    assert [s.info.device for s in sensors] == devices
    notes = [i for i in infos if i.device == "gpu"]
    assert len(notes) == 1 and "ignores it and every entry after it" in notes[0].reason
    close_all(sensors)


def test_parse_cuda_visible_devices() -> None:
    assert parse_cuda_visible_devices(None) is None
    assert parse_cuda_visible_devices("") == []
    assert parse_cuda_visible_devices(" ") == []
    assert parse_cuda_visible_devices("0, GPU-ab ,MIG-x") == ["0", "GPU-ab", "MIG-x"]


def test_index_order_note_on_mixed_models() -> None:
    nvml = FakeNvml([h100(UUID0), FakeGpu("NVIDIA A100-SXM4-40GB", UUID1)])
    sensors, _ = discover_nvml(nvml, env={"CUDA_VISIBLE_DEVICES": "1"}, clock=nvml.clock)
    assert "CUDA_DEVICE_ORDER=PCI_BUS_ID" in sensors[0].info.reason
    close_all(sensors)
    env = {"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    sensors, _ = discover_nvml(nvml, env=env, clock=nvml.clock)
    assert sensors[0].info.reason == ""
    close_all(sensors)


# --------------------------------------------------------------------------- MIG


MIG_A = "MIG-11111111-2222-3333-4444-555555555555"
MIG_B = "MIG-66666666-2222-3333-4444-555555555555"
MIG_C = "MIG-99999999-2222-3333-4444-555555555555"


def mig_machine() -> FakeNvml:
    return FakeNvml(
        [
            h100(UUID0, mig=True, mig_uuids=[MIG_A, MIG_B]),
            h100(UUID1, mig=True, mig_uuids=[MIG_C]),
            h100(UUID2),
        ]
    )


def test_mig_instances_map_to_their_parent_once() -> None:
    nvml = mig_machine()
    env = {"CUDA_VISIBLE_DEVICES": f"{MIG_B},{MIG_A},MIG-9999"}
    sensors, infos = discover_nvml(nvml, env=env, clock=nvml.clock)
    assert [s.info.device for s in sensors] == ["gpu:0", "gpu:1"]
    for s in sensors:
        assert s.info.method == "nvml-energy"
        assert MIG_REASON in s.info.reason
        assert "whole physical GPU" in s.info.reason
    assert [i.device for i in infos] == ["gpu:0", "gpu:1"]
    close_all(sensors)


def test_legacy_mig_uuid_form() -> None:
    nvml = mig_machine()
    env = {"CUDA_VISIBLE_DEVICES": f"MIG-{UUID1}/1/0"}
    sensors, _ = discover_nvml(nvml, env=env, clock=nvml.clock)
    assert [s.info.device for s in sensors] == ["gpu:1"]
    close_all(sensors)


def test_unknown_mig_uuid_is_invalid() -> None:
    nvml = mig_machine()
    sensors, infos = discover_nvml(nvml, env={"CUDA_VISIBLE_DEVICES": "MIG-abc"}, clock=nvml.clock)
    assert sensors == [] and not infos[0].available


def test_gpu_without_mig_has_no_mig_note() -> None:
    nvml = mig_machine()
    sensors, _ = discover_nvml(nvml, env={"CUDA_VISIBLE_DEVICES": "2"}, clock=nvml.clock)
    assert sensors[0].info.reason == ""
    close_all(sensors)


# --------------------------------------------------------------------------- per-GPU errors


def test_a_gpu_failing_at_discovery_leaves_the_others_working() -> None:
    nvml = FakeNvml([h100(UUID0, fail=True), h100(UUID1, power_mw=200_000)])
    sensors, infos = discover_nvml(nvml, env={}, clock=nvml.clock)
    assert [s.info.device for s in sensors] == ["gpu:1"]
    bad = by_device(infos)["gpu:0"]
    assert not bad.available and "GPU is lost" in bad.reason and bad.fix
    nvml.tick(1.0)
    assert sensors[0].read().energy_j == pytest.approx(200.0)
    close_all(sensors)


def test_a_counter_failing_at_discovery_is_unavailable_with_reason() -> None:
    nvml = FakeNvml([h100(UUID0), h100(UUID1)])
    nvml.gpus[1].read_error = FakeNvml.NVML_ERROR_NO_PERMISSION
    sensors, infos = discover_nvml(nvml, env={}, clock=nvml.clock)
    assert [s.info.device for s in sensors] == ["gpu:0"]
    bad = by_device(infos)["gpu:1"]
    assert not bad.available and "Insufficient Permissions" in bad.reason
    assert bad.uid == UUID1 and bad.model == "NVIDIA H100 80GB HBM3"
    close_all(sensors)


def test_gpu_with_neither_counter_nor_power() -> None:
    nvml = FakeNvml([FakeGpu("GeForce GT 710", UUID0, has_energy_counter=False, has_power=False)])
    sensors, infos = discover_nvml(nvml, env={}, clock=nvml.clock)
    assert sensors == []
    assert "neither an energy counter nor its power" in infos[0].reason
    assert "estimated" in infos[0].fix
    assert nvml.init_calls == nvml.shutdown_calls


def test_read_failure_after_start_raises_sensor_error_and_recovers() -> None:
    nvml = FakeNvml([h100(UUID0, power_mw=100_000), h100(UUID1, power_mw=100_000)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    nvml.tick(1.0)
    nvml.gpus[0].read_error = FakeNvml.NVML_ERROR_GPU_IS_LOST
    with pytest.raises(SensorError, match=r"gpu:0.*GPU is lost"):
        sensors[0].read()
    assert sensors[1].read().energy_j == pytest.approx(100.0)  # the other GPU is fine
    nvml.gpus[0].read_error = None
    nvml.tick(1.0)
    assert sensors[0].read().energy_j == pytest.approx(200.0)  # nothing lost
    close_all(sensors)


def test_power_sensor_read_failure_raises_sensor_error() -> None:
    nvml = FakeNvml([h100(has_energy_counter=False, power_mw=100_000)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    nvml.gpus[0].read_error = FakeNvml.NVML_ERROR_UNKNOWN
    with pytest.raises(SensorError, match="power read failed"):
        sensors[0].read()
    close_all(sensors)


def test_power_read_failing_does_not_fail_an_energy_read() -> None:
    nvml = FakeNvml([h100(power_mw=100_000, has_power=False)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    nvml.advance(0, joules=10.0, seconds=0.1)
    reading = sensors[0].read()
    assert reading.energy_j == pytest.approx(10.0) and reading.power_w is None
    close_all(sensors)


# --------------------------------------------------------------------------- counters


def test_counter_reset_is_treated_as_restart_never_negative() -> None:
    nvml = FakeNvml([h100(energy_mj=10_000_000)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    sensor = sensors[0]
    nvml.advance(0, joules=50.0)
    assert sensor.read().energy_j == pytest.approx(50.0)
    nvml.reset_counter(0)  # driver reload
    nvml.advance(0, joules=7.0)
    assert sensor.read().energy_j == pytest.approx(57.0)
    nvml.advance(0, joules=3.0)
    assert sensor.read().energy_j == pytest.approx(60.0)
    assert sensor.resets == 1  # type: ignore[attr-defined]
    close_all(sensors)


@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(min_value=0, max_value=10**9)),
        min_size=1,
        max_size=30,
    )
)
def test_energy_never_decreases_and_counts_every_step(steps: list[tuple[bool, int]]) -> None:
    """Any mix of advances and resets: cumulative energy = sum of what was used.

    A reset is seen when the counter reads lower than at the previous read, so after
    a reset the GPU uses less than the counter had reached (a driver reload takes
    seconds; reads come every sampler interval).
    """
    nvml = FakeNvml([h100(energy_mj=1_000_000)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    sensor = sensors[0]
    used_mj = 0
    previous = 0.0
    for reset, step_mj in steps:
        mj = step_mj
        if reset:
            mj = min(mj, max(0, int(nvml.gpus[0].energy_mj) - 1))
            nvml.reset_counter(0)
        nvml.gpus[0].energy_mj += mj
        used_mj += mj
        energy = sensor.read().energy_j
        assert energy >= previous
        assert energy == pytest.approx(used_mj * 1e-3)
        previous = energy
    close_all(sensors)


def test_ten_millisecond_window_within_one_percent() -> None:
    nvml = FakeNvml([h100(energy_mj=987_654_321, power_mw=312_000)])  # 312 W steady
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    sensor = sensors[0]
    nvml.tick(5.0)
    begin = sensor.read()
    nvml.tick(0.010)
    end = sensor.read()
    energy_j = end.energy_j - begin.energy_j
    assert end.time_s - begin.time_s == pytest.approx(0.010)
    assert energy_j == pytest.approx(312 * 0.010, rel=0.01)
    close_all(sensors)


def test_power_integration_exact_for_piecewise_constant_power() -> None:
    nvml = FakeNvml([h100(has_energy_counter=False, power_mw=100_000)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    sensor = sensors[0]
    profile = [(100.0, 5.0), (300.0, 2.5), (0.0, 1.0), (250.0, 4.0)]  # (W, s)
    expected = 0.0
    for watts, seconds in profile:
        nvml.set_power(0, watts)
        sensor.read()  # a read at every change, as the sampler gives at a boundary
        for _ in range(4):
            nvml.tick(seconds / 4)
            sensor.read()
        expected += watts * seconds
    reading = sensor.read()
    assert reading.energy_j == pytest.approx(expected, rel=1e-12)
    assert reading.power_w == pytest.approx(250.0)
    close_all(sensors)


def test_power_integration_is_the_trapezoid_between_reads() -> None:
    nvml = FakeNvml([h100(has_energy_counter=False, power_mw=100_000)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    nvml.tick(2.0)
    nvml.set_power(0, 300.0)  # the change falls between two reads
    assert sensors[0].read().energy_j == pytest.approx((100 + 300) / 2 * 2.0)
    close_all(sensors)


def test_reads_are_thread_safe() -> None:
    nvml = FakeNvml([h100(power_mw=100_000)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    sensor = sensors[0]
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            last = 0.0
            for _ in range(300):
                energy = sensor.read().energy_j
                assert energy >= last
                last = energy
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(300):
        nvml.advance(0, joules=0.5)
    for t in threads:
        t.join()
    assert errors == []
    assert sensor.read().energy_j == pytest.approx(150.0)
    close_all(sensors)


def test_gpu_utilisation() -> None:
    nvml = FakeNvml([h100(utilisation_percent=87)])
    sensors, _ = discover_nvml(nvml, env={}, clock=nvml.clock)
    assert gpu_utilisation_percent(sensors[0]) == 87.0
    close_all(sensors)
    assert gpu_utilisation_percent(object()) is None  # type: ignore[arg-type]


def test_old_pynvml_bytes_strings_are_decoded() -> None:
    class BytesNvml(FakeNvml):
        def nvmlDeviceGetName(self, handle: object) -> bytes:  # type: ignore[override]
            return super().nvmlDeviceGetName(handle).encode()

        def nvmlDeviceGetUUID(self, handle: object) -> bytes:  # type: ignore[override]
            return super().nvmlDeviceGetUUID(handle).encode()

    nvml = BytesNvml([h100()])
    sensors, _ = discover_nvml(nvml, env={"CUDA_VISIBLE_DEVICES": UUID0}, clock=nvml.clock)
    assert sensors[0].info.model == "NVIDIA H100 80GB HBM3" and sensors[0].info.uid == UUID0
    close_all(sensors)


def test_fake_follows_an_external_clock() -> None:
    from carbonledger.testing import FakeClock

    clock = FakeClock()
    nvml = FakeNvml([h100(power_mw=250_000)], clock=clock)
    sensors, _ = discover_nvml(nvml, env={}, clock=clock)
    clock.advance(2.0)
    assert sensors[0].read().energy_j == pytest.approx(500.0)
    nvml.set_power(0, 100.0)
    clock.advance(1.0)
    reading = sensors[0].read()
    assert reading.energy_j == pytest.approx(600.0) and reading.time_s == 3.0
    with pytest.raises(RuntimeError, match="external clock"):
        nvml.tick(1.0)
    close_all(sensors)


def test_no_driver_node_means_no_nvml_load(tmp_path: Path) -> None:
    """Without the driver's device node, pynvml is not even imported (cheap on CPU hosts)."""
    import sys

    before = "pynvml" in sys.modules
    sensors, infos = discover_nvml(None, env={}, driver_paths=[tmp_path / "nvidiactl"])
    assert sensors == []
    assert len(infos) == 1 and not infos[0].available
    assert "no NVIDIA driver" in infos[0].reason and str(tmp_path) in infos[0].reason
    assert infos[0].fix
    assert ("pynvml" in sys.modules) == before
