"""Fixtures of the standards tests: a ledger of real tracked runs (the Tracker, its sampler
and its signed records; the hardware edge faked with power we set), made once per session,
and the environment each test runs in (the same signing key, no cloud probe)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

DAY_S = 86400.0


@dataclass(frozen=True)
class Tracked:
    """The session's ledger and its runs: ``fr`` (France, PUE 1.2, a contractual factor,
    given WUE and price, a request count, the task's tags), ``aws`` (a cloud region: the
    provider's PUE and published WUE), ``de`` (Germany, 40 days earlier, no market factor)."""

    ledger: Path
    fr: str
    aws: str
    de: str

    def copy(self, folder: Path) -> Path:
        """A copy of the ledger (for tests that edit it)."""
        target = folder / "copy.sqlite"
        shutil.copy(self.ledger, target)
        return target


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("standards-home")


def _env(home: Path) -> dict[str, str]:
    return {
        "CARBONLEDGER_SIGNING_KEY": str(home / "signing_key.pem"),
        "CARBONLEDGER_NO_CLOUD_PROBE": "1",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }


@pytest.fixture(autouse=True)
def _same_key(session_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test signs and pins with the session's key; no cloud probe."""
    for name, value in _env(session_home).items():
        if not name.startswith("XDG_"):
            monkeypatch.setenv(name, value)


def _sensors(clock: Callable[[], float]) -> list[object]:
    from carbonledger.models import SensorInfo
    from carbonledger.testing import FakeSensor

    cpu = SensorInfo("cpu", "cpu:package-0", "rapl", True, model="Intel(R) Xeon(R) Gold 6248",
                     host_wide=True)  # fmt: skip
    gpu = SensorInfo("gpu", "gpu:0", "nvml-energy", True, model="NVIDIA H100 80GB HBM3",
                     uid="GPU-0000")  # fmt: skip
    ram = SensorInfo("ram", "ram", "ram-model", False, host_wide=True)
    return [FakeSensor(cpu, 60.0, clock), FakeSensor(gpu, 300.0, clock),
            FakeSensor(ram, 6.0, clock, spread=0.5)]  # fmt: skip


def _track(ledger: Path, env: dict[str, str], shift_s: float = 0.0, **options: object) -> str:
    import carbonledger as cl

    tracker = cl.Tracker(
        "vision",
        sensors=_sensors(time.monotonic),  # type: ignore[arg-type]
        ledger=str(ledger),
        interval_s=0.1,
        scope="machine",
        env=env,
        wall_clock=lambda: time.time() - shift_s,
        progress_s=0,
        **options,  # type: ignore[arg-type]
    )
    with tracker as run:
        for epoch in (1, 2):
            with run.window(f"epoch-{epoch}"):
                time.sleep(0.6)
    return run.run_id


@pytest.fixture(scope="session")
def tracked(session_home: Path) -> Tracked:
    """Three short tracked runs in one SQLite ledger (about 4 s, once per session)."""
    from carbonledger.cli.main import main

    ledger = session_home / "ledger.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("CARBONLEDGER_")]:
            mp.delenv(name)
        for name, value in _env(session_home).items():
            mp.setenv(name, value)
        base = dict(os.environ)
        priced = {**base, "CARBONLEDGER_WUE_L_PER_KWH": "1.8",
                  "CARBONLEDGER_PRICE_PER_KWH": "0.25", "CARBONLEDGER_CURRENCY": "EUR"}  # fmt: skip
        tags = {"task_stage": "training", "task_family": "image classification",
                "task_data_type": "image", "task_data_usage": "input",
                "task_framework": "pytorch"}  # fmt: skip
        fr = _track(ledger, priced, experiment="base", country="FR", pue=1.2,
                    market_g_per_kwh=0.0, tags=tags)  # fmt: skip
        aws = _track(ledger, base, experiment="base", region="aws:eu-west-3")
        de = _track(ledger, base, 40 * DAY_S, experiment="gelu", country="DE", pue=1.5)
        # the requests the SCI divides by, recorded as anyone records a metric
        assert main(["metric", fr, "requests", "5000", "--ledger", str(ledger)]) == 0
    return Tracked(ledger, fr, aws, de)
