"""benchmarks/tick_prices.py still reaches what it prices: the tracker's own tick (signed and
written ahead on the calling thread), the procfs read, the signature and the append. A
rename inside the tracker would otherwise break it unnoticed until the next benchmark run.
Only the shape of the result is checked here: timings belong to the benchmarks."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tick_prices.py"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_every_step_runs_and_is_priced(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("tick_prices", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    todo, stop = module.steps(str(tmp_path))
    try:
        names = [name for name, _ in todo]
        assert names[0] == "nothing" and names[-1] == "carbonledger tick"
        for _name, step in todo:
            step()
    finally:
        stop()
    # the 800-byte append, then the floor tick's signed line
    first, floor = (tmp_path / "append.jsonl").read_bytes().splitlines()
    assert len(first) == 799 and set(json.loads(floor)) == {"body", "hash", "signature"}

    prices = module.price(seconds=1.5, wake_s=0.02)
    assert set(prices) == set(names)
    assert all(us > 0 for us in prices.values())
