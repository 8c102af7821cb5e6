"""Virtual machines: the hypervisor is seen, the microarchitecture named, and the CPU charged
per vCPU (fake /proc/cpuinfo and /sys under tmp_path)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from carbonledger.errors import InputError
from carbonledger.sensors.cpu import model as cm
from carbonledger.sensors.cpu.host import HostCpu, hypervisor_hint, read_host_cpu
from carbonledger.sensors.cpu.model import (
    CpuModelSensor,
    tdp_power_model,
    user_power_model,
    vcpu_power_model,
)
from carbonledger.sensors.cpu.vcpu import (
    AVERAGE,
    VCPU_TABLE_PATH,
    microarchitecture,
    vcpu_power,
    vcpu_table,
)
from carbonledger.testing import FakeClock, FakeHost

CCF = Path(__file__).resolve().parents[3] / "shared" / "data" / "ccf-coefficients"


class Counter:
    def __init__(self) -> None:
        self.value_s = 0.0

    def __call__(self) -> float:
        return self.value_s


# --------------------------------------------------------------------------- host facts


def test_cpuinfo_of_a_kvm_guest(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, "AMD EPYC 7B13", vcpus=4, hypervisor=True, family=25, model=1)
    cpu = read_host_cpu(host.cpuinfo)
    assert cpu.model_name == "AMD EPYC 7B13" and cpu.vendor_id == "AuthenticAMD"
    assert (cpu.family, cpu.model, cpu.processors, cpu.sockets) == (25, 1, 4, 1)
    assert cpu.hypervisor_flag
    assert "hypervisor" in hypervisor_hint(cpu, host.sys_root)


def test_bare_metal_has_no_hint(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", vcpus=4, sockets=2)
    cpu = read_host_cpu(host.cpuinfo)
    assert cpu.sockets == 2 and not cpu.hypervisor_flag
    assert hypervisor_hint(cpu, host.sys_root) == ""
    host.set_dmi("Dell Inc.", "PowerEdge R740")
    assert hypervisor_hint(cpu, host.sys_root) == ""
    host.set_dmi("Amazon EC2", "c5.metal")  # EC2 bare metal
    assert hypervisor_hint(cpu, host.sys_root) == ""


@pytest.mark.parametrize(
    ("vendor", "product"),
    [
        ("QEMU", "Standard PC (Q35 + ICH9, 2009)"),
        ("Microsoft Corporation", "Virtual Machine"),
        ("Google", "Google Compute Engine"),
        ("Amazon EC2", "m5.large"),
    ],
)
def test_dmi_strings_of_hypervisors(tmp_path: Path, vendor: str, product: str) -> None:
    host = FakeHost(tmp_path, "Intel(R) Xeon(R) CPU @ 2.20GHz")  # flag hidden by the hypervisor
    host.set_dmi(vendor, product)
    assert vendor in hypervisor_hint(read_host_cpu(host.cpuinfo), host.sys_root)


def test_xen_guest_by_sys_hypervisor(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, "Intel(R) Xeon(R) CPU E5-2676 v3 @ 2.40GHz")
    host.set_xen()
    assert "xen" in hypervisor_hint(read_host_cpu(host.cpuinfo), host.sys_root)


def test_missing_cpuinfo_is_an_empty_host(tmp_path: Path) -> None:
    cpu = read_host_cpu(tmp_path / "missing")
    assert cpu == HostCpu() and cpu.sockets == 1
    assert hypervisor_hint(cpu, tmp_path / "no-sys") == ""


# --------------------------------------------------------------------------- microarchitecture


@pytest.mark.parametrize(
    ("name", "arch"),
    [
        ("AMD EPYC 7571", "EPYC 1st Gen"),
        ("AMD EPYC 7R32", "EPYC 2nd Gen"),
        ("AMD EPYC 7B13", "EPYC 3rd Gen"),
        ("AMD EPYC 7763 64-Core Processor", "EPYC 3rd Gen"),
        ("AMD EPYC 9R14 96-Core Processor", "EPYC 4th Gen"),
        ("AMD EPYC 9B45", "EPYC 5th Gen"),
        ("Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz", "Skylake"),
        ("Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", "Cascade Lake"),
        ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "Ice Lake"),
        ("Intel(R) Xeon(R) Platinum 8488C", "Sapphire Rapids"),
        ("INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.10GHz", "Emerald Rapids"),
        ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Broadwell"),
        ("Intel(R) Xeon(R) CPU E5-2676 v3 @ 2.40GHz", "Haswell"),
        ("Intel(R) Xeon(R) CPU E5-2670 v2 @ 2.50GHz", "Ivy Bridge"),
        ("Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz", "Sandy Bridge"),
        ("Intel(R) Xeon(R) E-2288G CPU @ 3.70GHz", "Coffee Lake"),
        ("Intel(R) Xeon(R) 6975P-C", "Granite Rapids"),
    ],
)
def test_microarchitecture_from_the_model_name(name: str, arch: str) -> None:
    found, how = microarchitecture(HostCpu(model_name=name))
    assert found == arch and name in how
    assert arch in vcpu_table()


@pytest.mark.parametrize(
    ("cpu", "arch"),
    [
        (
            HostCpu(
                model_name="Intel Xeon Processor",
                vendor_id="GenuineIntel",
                family=6,
                model=85,
                stepping=4,
            ),
            "Skylake",
        ),
        (HostCpu(vendor_id="GenuineIntel", family=6, model=85, stepping=7), "Cascade Lake"),
        (HostCpu(vendor_id="GenuineIntel", family=6, model=143), "Sapphire Rapids"),
        (
            HostCpu(model_name="AMD EPYC Processor", vendor_id="AuthenticAMD", family=23, model=49),
            "EPYC 2nd Gen",
        ),
        (HostCpu(vendor_id="AuthenticAMD", family=25, model=17), "EPYC 4th Gen"),
        (HostCpu(cpu_part="0xd0c"), "Graviton2"),
        (HostCpu(cpu_part="0xd4f"), "Graviton4"),
        (
            HostCpu(
                model_name="Intel(R) Xeon(R) Processor",
                vendor_id="GenuineIntel",
                family=6,
                model=167,
                flags=frozenset({"avx512f", "amx_tile"}),
            ),
            "Sapphire Rapids",
        ),
    ],
)
def test_microarchitecture_from_numbers_part_and_flags(cpu: HostCpu, arch: str) -> None:
    assert microarchitecture(cpu)[0] == arch


@pytest.mark.parametrize(
    "cpu",
    [
        HostCpu(
            model_name="Intel(R) Xeon(R) CPU @ 2.20GHz", vendor_id="GenuineIntel", family=6, model=1
        ),
        HostCpu(model_name="AMD EPYC 7764"),  # a generation digit that does not exist (4 in 7xx4)
        HostCpu(),
    ],
)
def test_unknown_microarchitecture(cpu: HostCpu) -> None:
    arch, how = microarchitecture(cpu)
    assert arch is None and how == ""
    assert vcpu_power(arch).microarchitecture == AVERAGE


# --------------------------------------------------------------------------- the table


def test_table_rows_have_provenance_and_ordered_bounds() -> None:
    table = vcpu_table()
    assert AVERAGE in table and len(table) >= 15
    for row in table.values():
        assert row.source and row.licence == "Apache-2.0" and 2020 <= row.year <= 2030, row
        assert 0 < row.min_low_w <= row.min_w <= row.min_high_w, row
        assert 0 < row.max_low_w <= row.max_w <= row.max_high_w, row
        assert row.min_w < row.max_w, row


def test_average_row_is_the_widest() -> None:
    table = vcpu_table()
    avg = table[AVERAGE]
    for row in table.values():
        assert avg.max_low_w <= row.max_low_w and avg.max_high_w >= row.max_high_w


@pytest.mark.skipif(not CCF.exists(), reason="reference data not present beside the repository")
def test_table_matches_the_ccf_aws_figures() -> None:
    with (CCF / "output" / "coefficients-aws-use.csv").open(newline="") as fh:
        aws = {
            r["Architecture"]: (float(r["Min Watts"]), float(r["Max Watts"]))
            for r in csv.DictReader(fh)
        }
    table = vcpu_table()
    for arch, (lo, hi) in aws.items():
        assert table[arch].min_w == pytest.approx(lo, abs=1e-4)
        assert table[arch].max_w == pytest.approx(hi, abs=1e-4)


def test_table_file_columns() -> None:
    with open(VCPU_TABLE_PATH, newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:1] == ["microarchitecture"] and {"source", "year", "licence"} <= set(header)


# --------------------------------------------------------------------------- power lines


def test_vcpu_model_charges_the_share_of_the_host() -> None:
    row = vcpu_table()["EPYC 3rd Gen"]
    power = vcpu_power_model(2, row)
    assert power.method == "vcpu-model"
    assert power.idle_w == pytest.approx(2 * row.min_w)
    assert power.max_w == pytest.approx(2 * row.max_w)
    assert power.power_w(0.5) == pytest.approx(2 * (row.min_w + 0.5 * (row.max_w - row.min_w)))
    assert power.max_w < 10  # a 2-vCPU slice, not a 115 W socket
    assert "2 vCPU" in power.describe() and "Cloud Carbon Footprint" in power.describe()
    with pytest.raises(InputError):
        vcpu_power_model(0, row)


def test_sensor_integrates_the_vcpu_line_with_a_range() -> None:
    row = vcpu_table()["Skylake"]
    clock, machine = FakeClock(), Counter()
    sensor = CpuModelSensor(
        power=vcpu_power_model(4, row), scope="machine", cpu_count=4, cpu_times=machine, clock=clock
    )
    assert sensor.info.method == "vcpu-model" and not sensor.info.measured
    sensor.read()
    clock.advance(10.0)
    machine.value_s = 20.0  # 4 vCPUs x 10 s x 50 %
    r = sensor.read()
    expected = 4 * (row.min_w + 0.5 * (row.max_w - row.min_w)) * 10
    assert r.energy_j == pytest.approx(expected)
    assert r.low_j is not None and r.high_j is not None
    assert r.low_j == pytest.approx(
        4 * (row.min_low_w + 0.5 * (row.max_low_w - row.min_low_w)) * 10
    )
    assert r.low_j < r.energy_j < r.high_j


def test_user_watts_play_the_tdp_role() -> None:
    power = user_power_model(45.0)
    assert power.method == "user-cpu-watts" and power.max_w == 45.0
    assert power.idle_w == pytest.approx(cm.IDLE_SHARE * 45)
    assert power.low_max_w == power.high_max_w == 45.0  # the figure itself is the user's
    assert power.low_idle_w < power.idle_w < power.high_idle_w  # only the idle share varies
    tdp = tdp_power_model(45.0)
    assert power.power_w(0.3) == pytest.approx(tdp.power_w(0.3))
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(InputError, match="cpu_watts"):
            user_power_model(bad)
