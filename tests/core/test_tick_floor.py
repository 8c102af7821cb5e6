"""benchmarks/tick_floor.py still runs what it compares: the floor tick writes signed lines,
and ``--vs-tracker`` reaches carbonledger's tracker through the benchmark's probe and reads
its share back. Only the shape of the result is checked here: timings belong to the
benchmarks."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tick_floor.py"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tick_floor", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_floor_tick_appends_signed_lines_and_the_tracker_is_measured(tmp_path: Path) -> None:
    module = _module()
    path = tmp_path / "ticks.jsonl"
    floor = module.share(module.STEPS[-1], 1.2, True, str(path))
    lines = path.read_bytes().splitlines()
    assert lines, "the floor tick appended nothing in 1.7 s at a 1 s interval"
    assert all(set(json.loads(line)) == {"body", "hash", "signature"} for line in lines)
    assert all(json.loads(line)["signature"] for line in lines)
    assert floor > 0

    result = module.tracker_probe(1.5, str(tmp_path))
    assert result["share_pct"] > 0
    assert list(tmp_path.glob("carbonledger-*.sqlite")), "the probe's tracker made no ledger"
    # the probe splits the extra CPU among the tracker's threads, by their names
    assert result["thread_cpu_s:carbonledger-sampler"] > 0
    split = sum(v for k, v in result.items() if k.startswith("thread_cpu_s:"))
    assert split <= result["extra_cpu_s"] * 1.5 + 0.005
