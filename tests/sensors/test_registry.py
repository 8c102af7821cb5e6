"""The registry: one entry per vendor module, tried in order, each with its own probe; one
options record for discovery, which discover()'s keywords still build."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

import carbonledger
from carbonledger.errors import InputError
from carbonledger.models import SensorInfo
from carbonledger.sensors import discovery
from carbonledger.sensors.base import DiscoveryOptions
from carbonledger.sensors.registry import (
    REGISTRY,
    Discovery,
    Entry,
    discover,
    discover_for_run,
)
from carbonledger.testing import (
    FakeClock,
    FakeGpu,
    FakeHost,
    FakeNvml,
    FakePowercap,
    FakePowermetrics,
    FakeSensor,
)

EPYC = "AMD EPYC 7B13"


def base(tmp_path: Path, **kw: object) -> dict[str, object]:
    host = FakeHost(tmp_path, EPYC, vcpus=2, hypervisor=True)
    args: dict[str, object] = {
        "scope": "machine",
        "env": {},
        "powercap_root": tmp_path / "no-powercap",
        "cpuinfo": host.cpuinfo,
        "sys_root": host.sys_root,
        "cpu_count": 2,
        "clock": FakeClock(),
    }
    args.update(kw)
    return args


def closed(found: Discovery) -> Discovery:
    for sensor in found.sensors:
        sensor.close()
    return found


def test_the_registry_order() -> None:
    """A system-on-chip first (it covers the CPU), then what measures the CPU before what
    estimates it, RAM, then the GPUs."""
    assert [(e.name, e.kind) for e in REGISTRY] == [
        ("apple-soc", "soc"),
        ("rapl", "cpu"),
        ("cpu-model", "cpu"),
        ("ram-model", "ram"),
        ("nvidia", "gpu"),
        ("amd", "gpu"),
    ]


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: e.name)
def test_each_entry_has_its_probe_in_its_vendor_module(entry: Entry) -> None:
    module = importlib.import_module(entry.module)
    probe = module.probe
    assert callable(probe) and list(inspect.signature(probe).parameters) == ["ctx"]
    assert probe.__module__ == entry.module


def test_order_decides_the_cpu_when_several_could_measure_it(tmp_path: Path) -> None:
    """RAPL before the models: the CPU is measured, the model not even made."""
    fake = FakePowercap(tmp_path / "powercap")
    fake.add_package(0, dram=True)
    found = closed(discover(**base(tmp_path, powercap_root=fake.root)))  # type: ignore[arg-type]
    assert [s.info.method for s in found.sensors] == ["rapl", "rapl"]
    assert [s.info.component for s in found.sensors] == ["cpu", "ram"]
    assert found.assumptions == ()  # measured: no watts assumed
    assert found.notes[:2] == (
        "cpu: RAPL package counters (1), measured",
        "ram: RAPL DRAM counters, measured",
    )
    # a SoC reading (first in the registry) would measure the CPU instead of RAPL
    pm = FakePowermetrics()
    pm.emit(cpu_mw=1000, gpu_mw=0, ane_mw=0)
    args = base(tmp_path, powercap_root=fake.root, hardware={"apple-soc": pm})
    found = closed(discover(**args))  # type: ignore[arg-type]
    assert [s.info.device for s in found.sensors if s.info.component == "cpu"] == ["cpu:soc"]
    # RAPL's DRAM still measures the RAM, which the SoC's reading does not cover
    assert [s.info.method for s in found.sensors if s.info.component == "ram"] == ["rapl"]


def test_the_options_record(tmp_path: Path) -> None:
    opts = DiscoveryOptions(scope="machine", gpu=False, cpu_watts=45)
    assert opts.cpu_watts == 45.0 and isinstance(opts.cpu_watts, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.scope = "process"  # type: ignore[misc]
    with pytest.raises(InputError, match="unknown scope 'node'"):
        DiscoveryOptions(scope="node")
    with pytest.raises(InputError, match="ram_watts must be a positive"):
        DiscoveryOptions(ram_watts=-1)
    with pytest.raises(InputError, match="cpu_watts must be a number"):
        DiscoveryOptions(cpu_watts="lots")  # type: ignore[arg-type]


def test_a_record_and_keywords_discover_the_same(tmp_path: Path) -> None:
    args = base(tmp_path, gpu=False, cpu_watts=30.0)
    by_keywords = closed(discover(**args))  # type: ignore[arg-type]
    by_record = closed(discover(DiscoveryOptions(**args)))  # type: ignore[arg-type]
    by_both = closed(discover(DiscoveryOptions(**args), cpu_watts=60.0))  # type: ignore[arg-type]
    assert by_keywords.chosen == by_record.chosen
    assert by_keywords.notes == by_record.notes
    assert [a.max_w for a in by_record.assumptions if a.component == "cpu"] == [30.0]
    assert [a.max_w for a in by_both.assumptions if a.component == "cpu"] == [60.0]


def test_vendor_modules_are_injected_by_entry_name_or_legacy_keyword(tmp_path: Path) -> None:
    for kw in (
        {"nvml": FakeNvml([FakeGpu("NVIDIA H100 80GB HBM3", "GPU-a")])},
        {"hardware": {"nvidia": FakeNvml([FakeGpu("NVIDIA H100 80GB HBM3", "GPU-a")])}},
    ):
        found = closed(discover(**base(tmp_path, **kw)))  # type: ignore[arg-type]
        gpus = [s.info for s in found.sensors if s.info.component == "gpu"]
        assert [(g.device, g.model) for g in gpus] == [("gpu:0", "NVIDIA H100 80GB HBM3")]
        assert "gpu: 1 NVIDIA GPU(s) via NVML" in found.notes


def test_gpu_entries_are_skipped_when_gpus_are_disabled(tmp_path: Path) -> None:
    nvml = FakeNvml([FakeGpu("NVIDIA H100 80GB HBM3", "GPU-a")])
    found = closed(discover(**base(tmp_path, gpu=False, nvml=nvml)))  # type: ignore[arg-type]
    assert all(s.info.component != "gpu" for s in found.sensors)
    assert nvml.init_calls == 0  # the NVIDIA entry was not even tried
    assert found.notes[-1] == "gpu: disabled by configuration"


def test_bad_names_are_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"unknown option.*cpu_wats.*known: .*cpu_watts"):
        discover(cpu_wats=3)
    with pytest.raises(InputError, match=r"unknown registry entries \['intel-gpu'\]"):
        discover(**base(tmp_path, hardware={"intel-gpu": object()}))  # type: ignore[arg-type]


def test_discover_for_run_keeps_the_trackers_call(tmp_path: Path) -> None:
    """run/tracker.py calls it with these keywords; given sensors are used as they are."""
    clock = FakeClock()
    found = closed(
        discover_for_run(
            None,
            scope="machine",
            pid=None,
            gpu=False,
            env={"CARBONLEDGER_POWERCAP_ROOT": str(tmp_path / "none")},
            clock=clock,
            cpu_watts=None,
            ram_watts=12.0,
        )
    )
    assert [a.method for a in found.assumptions if a.component == "ram"] == ["user-ram-watts"]
    info = SensorInfo("cpu", "cpu:x", "fake", True)
    given = [FakeSensor(info, 10.0, clock)]
    mine = discover_for_run(given)
    assert mine.sensors == tuple(given) and mine.notes == ("sensors given by the caller",)


def test_the_public_and_former_names_are_the_registrys() -> None:
    assert carbonledger.discover is discover
    assert carbonledger.DiscoveryOptions is DiscoveryOptions
    assert discovery.discover is discover and discovery.discover_for_run is discover_for_run
    assert discovery.DiscoveryOptions is DiscoveryOptions


def _section(title: str) -> str:
    text = (Path(__file__).parents[2] / "docs" / "architecture.md").read_text()
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("title", ["Adding a GPU vendor", "Adding a system-on-chip"])
def test_the_architecture_docs_list_at_most_three_files_that_exist(title: str) -> None:
    section = _section(title)
    steps = re.findall(r"^\d+\. \*\*", section, flags=re.M)
    assert 1 <= len(steps) <= 3
    src = Path(__file__).parents[2] / "src" / "carbonledger"
    named = set(re.findall(r"`((?:sensors|testing)/[\w/]+\.py)`", section))
    examples = {n for n in named if "<" not in n}
    assert examples and all((src / n).is_file() for n in examples), examples
    for name, module, kind in re.findall(r'`Entry\("([\w-]+)", "([\w.]+)", "(\w+)"\)`', section):
        assert Entry(name, module, kind) in REGISTRY
