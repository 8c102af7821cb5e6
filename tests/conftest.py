"""Every test runs in its own user folders: no test reads or writes the real user's config
(signing key, trusted keys), data (ledger, journals) or cache, whatever its own fixtures do."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_user_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "user"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("CARBONLEDGER_SIGNING_KEY", raising=False)
    monkeypatch.delenv("CARBONLEDGER_LEDGER", raising=False)
    monkeypatch.delenv("CARBONLEDGER_SPOOL_DIR", raising=False)
