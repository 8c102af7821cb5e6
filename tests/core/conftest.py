"""Fixtures for the tracker tests: an isolated environment and fake hardware."""

from __future__ import annotations

from pathlib import Path

import pytest


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
