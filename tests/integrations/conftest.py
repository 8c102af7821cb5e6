"""Fixtures for the integration tests: an isolated environment, fake sensors and the
frameworks' offline settings (no download, no network, no account)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonledger.models import SensorInfo
from carbonledger.testing import FakeClock, FakeSensor

#: the frameworks are configured before any of them is imported
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "true")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user config, no real ledger, no cloud probe, no distributed job."""
    for name in list(os.environ):
        if name.startswith("CARBONLEDGER_") or name in (
            "TORCHELASTIC_RUN_ID",
            "SLURM_JOB_ID",
            "SLURM_STEP_ID",
            "SLURM_PROCID",
            "LOCAL_RANK",
            "RANK",
            "WORLD_SIZE",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CARBONLEDGER_NO_CLOUD_PROBE", "1")
    monkeypatch.setenv("CARBONLEDGER_POWERCAP_ROOT", str(tmp_path / "no-powercap"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


def fake_sensors(power_w: float, clock: FakeClock | None = None) -> list[FakeSensor]:
    """One measured 'GPU' drawing ``power_w`` on ``clock`` (default: real time)."""
    import time

    info = SensorInfo("gpu", "gpu:0", "fake-counter", True, model="Fake GPU", uid="GPU-fake")
    return [FakeSensor(info, power_w, clock or time.monotonic)]


@pytest.fixture
def sensors() -> Iterator[list[FakeSensor]]:
    """A 100 W measured device on the real clock: every window's energy is 100 W x its time."""
    yield fake_sensors(100.0)


#: warnings raised inside the frameworks themselves (deprecations between their own
#: releases) are theirs to fix; warnings from carbonledger still fail the tests
_THEIRS = (
    r"(lightning|pytorch_lightning|lightning_utilities|torch|torchmetrics|transformers|"
    r"accelerate|keras|mlflow|wandb|jupyter_client|jupyter_core|ipykernel|nbclient|zmq|"
    r"traitlets|typing_extensions|sqlalchemy|alembic|pydantic|google|pkg_resources)(\..*)?"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            for category in ("DeprecationWarning", "FutureWarning", "UserWarning"):
                item.add_marker(pytest.mark.filterwarnings(f"ignore::{category}:{_THEIRS}"))
