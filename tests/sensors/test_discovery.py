"""Discovery chooses per component and says why: RAPL, else the user's watts, else the
per-vCPU model on a virtual machine, else the TDP model (fake powercap, cpuinfo, /sys)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from carbonledger.errors import InputError
from carbonledger.sensors.cpu.model import IDLE_SHARE
from carbonledger.sensors.cpu.tdp import lookup_tdp
from carbonledger.sensors.cpu.vcpu import vcpu_table
from carbonledger.sensors.registry import Discovery, discover
from carbonledger.testing import FakeClock, FakeHost, FakePowercap

EPYC = "AMD EPYC 7B13"


def run(tmp_path: Path, host: FakeHost, **kw: object) -> Discovery:
    args: dict[str, object] = {
        "scope": "machine",
        "gpu": False,
        "env": {},
        "powercap_root": tmp_path / "no-powercap",
        "cpuinfo": host.cpuinfo,
        "sys_root": host.sys_root,
        "cpu_count": 2,
        "clock": FakeClock(),
    }
    args.update(kw)
    found = discover(**args)  # type: ignore[arg-type]
    for sensor in found.sensors:
        sensor.close()
    return found


def cpu_of(found: Discovery) -> tuple[str, bool]:
    info = next(s.info for s in found.sensors if s.info.component == "cpu")
    return info.method, info.measured


def assumption(found: Discovery, component: str) -> dict[str, object]:
    return next(a.to_dict() for a in found.assumptions if a.component == component)


def test_a_hypervisor_guest_is_charged_per_vcpu(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, EPYC, vcpus=2, hypervisor=True)
    found = run(tmp_path, host)
    assert cpu_of(found) == ("vcpu-model", False)
    assert "hypervisor" in found.hypervisor
    row = vcpu_table()["EPYC 3rd Gen"]
    cpu = assumption(found, "cpu")
    assert cpu["method"] == "vcpu-model"
    assert cpu["idle_w"] == pytest.approx(2 * row.min_w)
    assert cpu["max_w"] == pytest.approx(2 * row.max_w)
    assert cpu["low_w"] < cpu["max_w"] < cpu["high_w"]  # type: ignore[operator]
    assert "EPYC 3rd Gen" in str(cpu["basis"]) and "Cloud Carbon Footprint" in str(cpu["source"])
    # the socket's TDP is examined, not used, and says what it would have charged
    tdp = next(c for c in found.candidates if c.method == "tdp-model")
    assert not tdp.available and "virtual machine" in tdp.reason
    assert any("vcpu-model" in n and "virtual machine" in n for n in found.notes)
    assert float(cpu["max_w"]) < lookup_tdp(EPYC).tdp_w / 10  # type: ignore[arg-type]


def test_bare_metal_keeps_the_tdp_model(tmp_path: Path) -> None:
    name = "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
    host = FakeHost(tmp_path, name, vcpus=4, sockets=2)
    found = run(tmp_path, host)
    assert cpu_of(found) == ("tdp-model", False)
    assert found.hypervisor == "" and found.sockets == 2 and found.cpu_model == name
    cpu = assumption(found, "cpu")
    assert cpu["max_w"] == pytest.approx(2 * 150)  # two sockets of a 150 W part
    assert cpu["idle_w"] == pytest.approx(IDLE_SHARE * 300)
    assert "6248" in str(cpu["basis"])
    assert all(c.method != "vcpu-model" for c in found.candidates)


def test_unknown_microarchitecture_falls_back_to_the_average_with_a_wide_range(
    tmp_path: Path,
) -> None:
    host = FakeHost(tmp_path, "Mystery Cloud CPU", vcpus=2, hypervisor=True, vendor_id="Odd")
    found = run(tmp_path, host)
    avg = vcpu_table()["average"]
    cpu = assumption(found, "cpu")
    assert cpu["method"] == "vcpu-model"
    assert cpu["max_w"] == pytest.approx(2 * avg.max_w)
    assert cpu["low_w"] == pytest.approx(2 * avg.max_low_w)
    assert cpu["high_w"] == pytest.approx(2 * avg.max_high_w)
    assert float(cpu["high_w"]) / float(cpu["low_w"]) > 5  # type: ignore[arg-type]
    assert "unknown" in str(cpu["basis"])


def test_user_cpu_and_ram_watts_are_labelled(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, EPYC, vcpus=2, hypervisor=True)
    found = run(tmp_path, host, cpu_watts=45.0, ram_watts=6.0)
    assert cpu_of(found) == ("user-cpu-watts", False)
    ram = next(s.info for s in found.sensors if s.info.component == "ram")
    assert (ram.method, ram.measured) == ("user-ram-watts", False)
    cpu = assumption(found, "cpu")
    assert cpu["max_w"] == 45.0 and cpu["idle_w"] == pytest.approx(IDLE_SHARE * 45)
    assert "user" in str(cpu["source"])
    assert assumption(found, "ram")["max_w"] == 6.0
    # the models it replaced are listed as not used
    assert any(c.method == "tdp-model" and not c.available for c in found.candidates)


def test_user_ram_watts_are_constant_in_machine_scope(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, EPYC, hypervisor=True)
    clock = FakeClock()
    found = discover(
        scope="machine",
        gpu=False,
        env={},
        powercap_root=tmp_path / "none",
        cpuinfo=host.cpuinfo,
        sys_root=host.sys_root,
        cpu_count=2,
        clock=clock,
        ram_watts=6.0,
    )
    ram = next(s for s in found.sensors if s.info.component == "ram")
    ram.read()
    clock.advance(10.0)
    r = ram.read()
    assert r.energy_j == pytest.approx(60.0) and r.low_j == r.high_j == pytest.approx(60.0)
    for s in found.sensors:
        s.close()


def test_rapl_wins_over_user_watts(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path / "powercap")
    fake.add_package(0)
    host = FakeHost(tmp_path, EPYC, hypervisor=True)
    found = run(tmp_path, host, powercap_root=fake.root, cpu_watts=45.0)
    assert cpu_of(found) == ("rapl", True)
    assert any("cpu_watts not used" in n for n in found.notes)
    assert all(a.component != "cpu" for a in found.assumptions)  # measured: nothing assumed


@pytest.mark.parametrize("bad", [0.0, -3.0, float("inf"), float("nan")])
def test_bad_watts_are_refused(tmp_path: Path, bad: float) -> None:
    host = FakeHost(tmp_path, EPYC)
    with pytest.raises(InputError, match="cpu_watts"):
        run(tmp_path, host, cpu_watts=bad)
    with pytest.raises(InputError, match="ram_watts"):
        run(tmp_path, host, ram_watts=bad)


def test_process_scope_on_a_vm(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, EPYC, hypervisor=True)
    found = run(tmp_path, host, scope="process", pid=os.getpid())
    info = next(s.info for s in found.sensors if s.info.component == "cpu")
    assert info.method == "vcpu-model" and not info.host_wide
    assert "process tree" in info.reason


def test_this_machine_says_what_it_assumes() -> None:
    found = discover(scope="machine", gpu=False, powercap_root="/nonexistent-powercap")
    try:
        cpu = next(a for a in found.assumptions if a.component == "cpu")
        assert cpu.method in ("tdp-model", "vcpu-model")
        assert (cpu.method == "vcpu-model") == bool(found.hypervisor)
        assert 0 < cpu.idle_w < cpu.max_w and cpu.low_w <= cpu.max_w <= cpu.high_w
        assert cpu.source and cpu.basis
    finally:
        for s in found.sensors:
            s.close()
