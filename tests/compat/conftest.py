"""Fixtures for the drop-in tests: an isolated environment and fake hardware.

The drop-ins take CodeCarbon's and eco2AI's arguments, which have no place for sensors; the
tests pass fake sensors and a fake clock through the private ``_tracker_options`` hook (or a
fake powercap tree through ``CARBONLEDGER_POWERCAP_ROOT``, as a user's process would see it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carbonledger.models import SensorInfo
from carbonledger.testing import FakeClock, FakeSensor

#: the fake machine: a measured 36 W CPU package and a modelled 3.6 W of RAM
CPU_W = 36.0
RAM_W = 3.6


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user config, no real ledger, no cloud probe: each test sees only what it sets
    (the root conftest has cleared carbonledger's and the launchers' variables)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CARBONLEDGER_NO_CLOUD_PROBE", "1")
    monkeypatch.setenv("CARBONLEDGER_POWERCAP_ROOT", str(tmp_path / "no-powercap"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def hw(clock: FakeClock) -> Iterator[dict[str, Any]]:
    """Tracker options for the private hook: fake sensors on the fake clock."""
    cpu = FakeSensor(
        SensorInfo("cpu", "cpu:package-0", "rapl", True, model="Fake Xeon"), CPU_W, clock
    )
    ram = FakeSensor(SensorInfo("ram", "ram", "ram-model", False), RAM_W, clock)
    yield {"sensors": [cpu, ram], "clock": clock}
