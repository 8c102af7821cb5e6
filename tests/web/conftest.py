"""Fixtures of the dashboard tests: the report tests' ledger, keys out of the user's home."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..report.ledgerdata import build_ledger

pytest.importorskip("fastapi", reason="the dashboard needs the web extra (fastapi)")
pytest.importorskip("plotly", reason="the dashboard needs plotly")


@pytest.fixture(autouse=True)
def _own_keys(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("CARBONLEDGER_SIGNING_KEY", str(config / "carbonledger" / "signing_key.pem"))
    monkeypatch.delenv("CARBONLEDGER_WEB_TOKEN", raising=False)
    return config


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return build_ledger(tmp_path / "ledger.db")
