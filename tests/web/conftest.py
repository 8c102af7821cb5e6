"""Fixtures of the dashboard tests: the report tests' ledger, keys out of the user's home."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("fastapi", reason="the dashboard needs the web extra (fastapi)")
pytest.importorskip("plotly", reason="the dashboard needs plotly")


def _ledgerdata() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "carbonledger_test_ledgerdata",
        Path(__file__).parent.parent / "report" / "ledgerdata.py",
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _own_keys(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("CARBONLEDGER_SIGNING_KEY", str(config / "carbonledger" / "signing_key.pem"))
    monkeypatch.delenv("CARBONLEDGER_WEB_TOKEN", raising=False)
    return config


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return Path(_ledgerdata().build_ledger(tmp_path / "ledger.db"))
