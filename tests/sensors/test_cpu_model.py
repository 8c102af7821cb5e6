"""The CPU TDP table, name matching, and the utilisation models (injected CPU times)."""

from __future__ import annotations

import csv
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from carbonledger.errors import InputError
from carbonledger.sensors.base import Sensor
from carbonledger.sensors.cpu import model as cm
from carbonledger.sensors.cpu import tdp
from carbonledger.sensors.cpu.host import read_host_cpu
from carbonledger.sensors.cpu.model import CpuModelSensor, RaplShareSensor
from carbonledger.sensors.cpu.rapl import RaplSensor
from carbonledger.sensors.cpu.tdp import cpu_table, lookup_tdp, normalise_cpu_name
from carbonledger.testing import FakeClock, FakePowercap


class Counter:
    """A cumulative CPU-seconds source the test drives."""

    def __init__(self) -> None:
        self.value_s = 0.0

    def __call__(self) -> float:
        return self.value_s


# --------------------------------------------------------------------------- table


def test_table_size_and_uniqueness() -> None:
    rows = cpu_table()
    assert len(rows) >= 4000
    names = [r.normalised_name for r in rows]
    assert len(set(names)) == len(names)


def test_every_row_has_provenance_and_a_plausible_tdp() -> None:
    for r in cpu_table():
        assert r.name and r.normalised_name == normalise_cpu_name(r.name), r
        assert 0 < r.tdp_w <= 500, r
        assert r.source and r.licence and 2019 <= r.year <= 2030, r
        assert r.cores is None or r.cores > 0, r


def test_table_file_columns() -> None:
    with open(tdp.TABLE_PATH, newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:7] == ["name", "normalised_name", "tdp_w", "cores", "source", "year", "licence"]


def test_conflicting_sources_are_flagged() -> None:
    flagged = [r for r in cpu_table() if r.note.startswith("conflict >2x")]
    assert flagged
    a4 = lookup_tdp("AMD A4-7210 APU")
    assert a4.tdp_w == 25 and "conflict >2x" in a4.note


def test_default_tdp_is_the_documented_table_statistic() -> None:
    server = sorted(
        r.tdp_w for r in cpu_table() if re.search(r"\b(xeon|epyc|opteron)\b", r.normalised_name)
    )
    deciles = statistics.quantiles(server, n=10)
    assert statistics.median(server) == tdp.DEFAULT_TDP_W
    assert deciles[0] == tdp.DEFAULT_TDP_LOW_W
    assert deciles[-1] == tdp.DEFAULT_TDP_HIGH_W


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "xeon gold 6248"),
        ("AMD EPYC 7763 64-Core Processor", "epyc 7763"),
        ("12th Gen Intel(R) Core(TM) i7-12700H", "core i7 12700h"),
        ("Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz", "core 2 duo e8400"),
        ("AMD Ryzen 7 5800H with Radeon Graphics", "ryzen 7 5800h"),
        ("AMD Ryzen Threadripper PRO 3995WX 64-Cores", "ryzen threadripper pro 3995wx"),
        ("AMD Athlon(tm) II X4 640 Quad-Core Processor", "athlon ii x4 640"),
        ("Intel® Xeon® Platinum 8480+", "xeon platinum 8480+"),
    ],
)
def test_normalise(raw: str, normalised: str) -> None:
    assert normalise_cpu_name(raw) == normalised


def test_vendor_words_do_not_matter() -> None:
    assert normalise_cpu_name("Xeon Gold 6248") == normalise_cpu_name("Intel Xeon Gold 6248")
    assert normalise_cpu_name("AMD EPYC 7763") == normalise_cpu_name("EPYC 7763 AMD")


def test_cpuinfo_names_match_exactly() -> None:
    m = lookup_tdp("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
    assert m.exact and not m.default and m.tdp_w == 150
    assert m.matched_name is not None and "6248" in m.matched_name
    m = lookup_tdp("AMD EPYC 7763 64-Core Processor")
    assert m.exact and m.tdp_w == 280 and m.source and m.low_w < m.tdp_w < m.high_w


def test_model_numbers_are_never_confused() -> None:
    assert lookup_tdp("AMD EPYC 7713 64-Core Processor").tdp_w == 225  # not 7763's 280
    assert lookup_tdp("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz").tdp_w == 205  # not 6248's
    # a made-up model number next to real ones is not matched to any of them
    m = lookup_tdp("AMD EPYC 7764 64-Core Processor")
    assert m.default and m.matched_name is None


def test_token_match_tolerates_extra_words() -> None:
    m = lookup_tdp("AMD Ryzen 7 5800H Mobile Engineering Sample")
    assert not m.exact and not m.default
    assert m.matched_name is not None and normalise_cpu_name(m.matched_name) == "ryzen 7 5800h"
    assert "matched" in m.note


def test_token_match_requires_the_same_family() -> None:
    # same number, different line: never matched
    assert lookup_tdp("Intel Xeon Diamond 6248").default
    # a bare-number row (no family in its source) does not capture a named CPU
    assert lookup_tdp("Frobnicator 6140").default


def test_unknown_cpu_gets_the_flagged_default() -> None:
    m = lookup_tdp("Intel(R) Xeon(R) CPU @ 2.20GHz")  # a cloud VM that hides the model
    assert m.default and not m.exact and m.matched_name is None
    assert m.tdp_w == tdp.DEFAULT_TDP_W
    assert "Intel(R) Xeon(R) CPU @ 2.20GHz" in m.note and "not in the TDP table" in m.note
    assert (m.low_w, m.high_w) == (tdp.DEFAULT_TDP_LOW_W, tdp.DEFAULT_TDP_HIGH_W)
    empty = lookup_tdp("")
    assert empty.default and "unknown" in empty.note


def test_cpu_model_name_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\n"
        "model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n\n"
        "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n"
    )
    assert read_host_cpu(info).model_name == "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"


def test_no_model_name_is_an_empty_name(tmp_path: Path) -> None:
    arm = tmp_path / "cpuinfo"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n")
    assert read_host_cpu(arm).model_name == ""
    assert read_host_cpu(tmp_path / "missing").model_name == ""


# --------------------------------------------------------------------------- model sensor


def make_model(
    scope: str = "machine",
    *,
    tdp_w: float = 200.0,
    cpu_count: int = 8,
) -> tuple[CpuModelSensor, FakeClock, Counter, Counter]:
    clock, machine, process = FakeClock(), Counter(), Counter()
    sensor = CpuModelSensor(
        tdp_w=tdp_w,
        scope=scope,  # type: ignore[arg-type]
        pid=12345,
        cpu_count=cpu_count,
        cpu_times=machine,
        process_cpu_times=process,
        clock=clock,
        model="Test CPU",
        tdp_source="test",
    )
    return sensor, clock, machine, process


def test_machine_scope_known_utilisation_gives_known_power() -> None:
    sensor, clock, machine, _ = make_model()
    first = sensor.read()
    assert first.energy_j == 0 and first.power_w is None
    clock.advance(10.0)
    machine.value_s += 40.0  # 40 CPU-s over 10 s x 8 CPUs: 50 %
    r = sensor.read()
    idle_w = cm.IDLE_SHARE * 200
    expected_w = idle_w + (200 - idle_w) * 0.5
    assert r.power_w == pytest.approx(expected_w)
    assert r.energy_j == pytest.approx(expected_w * 10)
    assert r.low_j is not None and r.high_j is not None
    assert r.low_j < r.energy_j < r.high_j
    low_w = 0.75 * 200 * (cm.IDLE_SHARE_LOW + (1 - cm.IDLE_SHARE_LOW) * 0.5)
    assert r.low_j == pytest.approx(low_w * 10)


def test_idle_and_full_load_bounds() -> None:
    sensor, clock, machine, _ = make_model(tdp_w=100, cpu_count=4)
    sensor.read()
    clock.advance(1.0)
    assert sensor.read().power_w == pytest.approx(cm.IDLE_SHARE * 100)
    clock.advance(1.0)
    machine.value_s += 400.0  # more than 4 CPUs can do: clamped to 100 %
    assert sensor.read().power_w == pytest.approx(100.0)
    assert sensor.power_w(1.0) == 100.0


def test_energy_is_cumulative_and_integrates_intervals() -> None:
    sensor, clock, machine, _ = make_model(tdp_w=100, cpu_count=1)
    sensor.read()
    total = 0.0
    for u in (0.0, 0.25, 1.0, 0.5):
        clock.advance(2.0)
        machine.value_s += 2.0 * u
        total += sensor.power_w(u) * 2.0
        assert sensor.read().energy_j == pytest.approx(total)


def test_process_scope_attributes_by_share_of_busy_time() -> None:
    sensor, clock, machine, process = make_model("process", tdp_w=200, cpu_count=8)
    assert not sensor.info.host_wide and sensor.info.method == "tdp-model"
    sensor.read()
    clock.advance(10.0)
    machine.value_s += 40.0  # machine at 50 %
    process.value_s += 10.0  # the tree used a quarter of that busy time
    r = sensor.read()
    assert r.energy_j == pytest.approx(sensor.power_w(0.5) * 10 * 0.25)
    clock.advance(10.0)  # idle machine: nothing attributed
    assert sensor.read().energy_j == pytest.approx(r.energy_j)


def test_process_share_is_capped_at_one() -> None:
    sensor, clock, machine, process = make_model("process", tdp_w=100, cpu_count=2)
    sensor.read()
    clock.advance(1.0)
    machine.value_s += 1.0
    process.value_s += 1.5  # sampling skew between /proc/stat and /proc/PID/stat
    assert sensor.read().energy_j == pytest.approx(sensor.power_w(0.5))


def test_model_info_explains_itself() -> None:
    sensor, *_ = make_model()
    info = sensor.info
    assert (info.component, info.method, info.measured, info.host_wide) == (
        "cpu",
        "tdp-model",
        False,
        True,
    )
    assert "200 W" in info.reason and "test" in info.reason and info.model == "Test CPU"
    assert isinstance(sensor, Sensor)
    noted = CpuModelSensor(
        tdp_w=115,
        scope="machine",
        cpu_count=1,
        cpu_times=Counter(),
        note=lookup_tdp("Mystery CPU 9000").note,
    )
    assert "Mystery CPU 9000" in noted.info.reason


def test_model_rejects_bad_arguments() -> None:
    with pytest.raises(InputError):
        CpuModelSensor(tdp_w=0, scope="machine", cpu_count=1, cpu_times=Counter())
    with pytest.raises(InputError):
        CpuModelSensor(tdp_w=100, scope="host", cpu_count=1, cpu_times=Counter())  # type: ignore[arg-type]
    with pytest.raises(InputError):
        CpuModelSensor(tdp_w=100, scope="machine", cpu_count=0, cpu_times=Counter())
    with pytest.raises(InputError):
        CpuModelSensor(tdp_w=100, scope="machine", cpu_count=1, cpu_times=Counter(), tdp_low_w=120)


def test_model_with_real_cpu_times_of_this_process() -> None:
    """No injection: psutil's machine and process-tree CPU times."""
    sensor = CpuModelSensor(tdp_w=100, scope="process", pid=os.getpid())
    sensor.read()
    x = 0
    for i in range(2_000_000):
        x += i
    r = sensor.read()
    assert r.energy_j >= 0 and r.low_j is not None and r.low_j <= r.energy_j
    sensor.close()


# --------------------------------------------------------------------------- RAPL share


def test_rapl_share_splits_counter_by_busy_time(tmp_path: Path) -> None:
    clock, machine, process = FakeClock(), Counter(), Counter()
    fake = FakePowercap(tmp_path / "powercap")
    fake.add_package(0)
    inner = RaplSensor(fake.zone_dir(0), "cpu", "cpu:package-0", clock)
    sensor = RaplShareSensor(
        inner, pid=1, cpu_times=machine, process_cpu_times=process, clock=clock
    )
    info = sensor.info
    assert (info.device, info.method, info.measured, info.host_wide) == (
        "cpu:package-0",
        "rapl-share",
        True,
        False,
    )
    assert "share" in info.reason and "measured" in info.reason
    assert sensor.read().energy_j == 0

    fake.advance(0, 100.0)
    machine.value_s += 8.0
    process.value_s += 2.0
    clock.advance(1.0)
    r = sensor.read()
    assert r.energy_j == pytest.approx(25.0) and r.power_w == pytest.approx(25.0)

    fake.advance(0, 30.0)  # the machine idles: the idle power is nobody's
    clock.advance(1.0)
    assert sensor.read().energy_j == pytest.approx(25.0)

    fake.advance(0, 50.0)
    machine.value_s += 4.0
    process.value_s += 4.0  # the tree was all the busy time
    clock.advance(1.0)
    assert sensor.read().energy_j == pytest.approx(75.0)
    sensor.close()


# --------------------------------------------------------------------------- process tree

BURN = "x = 0\nfor i in range(3_000_000):\n    x += i\n"


def test_tree_cpu_counts_children_that_ended() -> None:
    from carbonledger.sensors._linux import ProcessTreeCpu

    tree = ProcessTreeCpu(os.getpid())
    assert tree() == 0.0
    before = os.times()
    subprocess.run([sys.executable, "-c", BURN], check=True)
    after = os.times()
    child_s = after.children_user + after.children_system
    child_s -= before.children_user + before.children_system
    assert tree() >= child_s * 0.99


def test_tree_cpu_of_a_command_we_started_and_reaped() -> None:
    """What `carbonledger run` does: the root is our child and we wait for it."""
    from carbonledger.sensors._linux import ProcessTreeCpu

    before = os.times()
    gated = "import sys\nsys.stdin.readline()\n" + BURN  # burns only once we say so
    child = subprocess.Popen([sys.executable, "-c", gated], stdin=subprocess.PIPE)
    tree = ProcessTreeCpu(child.pid)
    tree()
    assert child.stdin is not None
    child.stdin.write(b"go\n")
    child.stdin.close()
    child.wait()  # reaped by us, so the tree's root is gone at the next call
    after = os.times()
    child_s = after.children_user + after.children_system
    child_s -= before.children_user + before.children_system
    got = tree()
    assert got <= child_s + 1e-9
    # everything but the interpreter's start-up, which may precede the baseline
    assert got >= 0.5 * child_s > 0
