"""Fixtures of the serving tests: an isolated environment, a fake clock, fake engines (a
local HTTP server with the engines' real metric names) and trackers whose one device draws a
power the test sets (a fake sensor: the hardware edge)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.models import SensorInfo
from carbonledger.testing import FakeClock, FakeEngine, FakeSensor

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No cloud probe, no powercap tree of the host, the test's own folder."""
    monkeypatch.setenv("CARBONLEDGER_NO_CLOUD_PROBE", "1")
    monkeypatch.setenv("CARBONLEDGER_POWERCAP_ROOT", str(tmp_path / "no-powercap"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


def gpu(power_w: float, clock: Callable[[], float], *, measured: bool = True) -> FakeSensor:
    """One 'GPU' drawing ``power_w`` on ``clock``; estimated (+-25 %) unless ``measured``."""
    method = "fake-counter" if measured else "fake-model"
    info = SensorInfo("gpu", "gpu:0", method, measured, model="Fake GPU", uid="GPU-fake")
    return FakeSensor(info, power_w, clock)


def make_tracker(
    clock: Callable[[], float],
    power_w: float = 200.0,
    *,
    ledger: str | bool = False,
    measured: bool = True,
) -> cl.Tracker:
    """A tracker (not started) over one fake GPU, 400 g/kWh, PUE 1; its sampler rarely ticks
    (the sidecar's windows are what the tests read)."""
    return cl.Tracker(
        project="serving-test",
        sensors=[gpu(power_w, clock, measured=measured)],
        clock=clock,
        ledger=ledger,
        grid_g_per_kwh=400,
        pue=1.0,
        interval_s=60,
        handle_signals=False,
    )


@pytest.fixture
def engines() -> Iterator[Callable[..., FakeEngine]]:
    """Start fake engines; every one is stopped after the test."""
    started: list[FakeEngine] = []

    def start(*args: object, **kw: object) -> FakeEngine:
        engine = FakeEngine(*args, **kw).start()  # type: ignore[arg-type]
        started.append(engine)
        return engine

    yield start
    for engine in started:
        engine.stop()
