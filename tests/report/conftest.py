"""Fixtures of the report tests: a ledger with runs, and keys kept out of the user's home."""

from __future__ import annotations

from pathlib import Path

import pytest

from .ledgerdata import build_ledger


@pytest.fixture(autouse=True)
def _own_keys(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test signs with a key of its own (never the user's), and no cloud probe."""
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("CARBONLEDGER_SIGNING_KEY", str(config / "carbonledger" / "signing_key.pem"))
    monkeypatch.setenv("CARBONLEDGER_NO_CLOUD_PROBE", "1")
    monkeypatch.delenv("CARBONLEDGER_LEDGER", raising=False)
    return config


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """A SQLite ledger with three finished runs and a running one (see ledgerdata.py)."""
    return build_ledger(tmp_path / "ledger.db")
