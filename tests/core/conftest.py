"""Fixtures for the tracker tests: an isolated environment and fake hardware."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user config, no real ledger, no cloud probe: each test sees only what it sets."""
    for name in list(__import__("os").environ):
        if name.startswith("CARBONLEDGER_") or name in (
            "TORCHELASTIC_RUN_ID",
            "SLURM_JOB_ID",
            "SLURM_STEP_ID",
            "LOCAL_RANK",
            "RANK",
            "CUDA_VISIBLE_DEVICES",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CARBONLEDGER_NO_CLOUD_PROBE", "1")
    monkeypatch.setenv("CARBONLEDGER_POWERCAP_ROOT", str(tmp_path / "no-powercap"))
    monkeypatch.chdir(tmp_path)
