"""Fixtures of the dashboard tests: the report tests' small ledger and a team's ledger
(dashdata.py), each in SQLite and in PostgreSQL (the session's server of tests/conftest.py);
keys out of the user's home; a test client that talks to the dashboard as a browser on
loopback does (``Host: 127.0.0.1:8787``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..report.ledgerdata import build_ledger

pytest.importorskip("fastapi", reason="the dashboard needs the web extra (fastapi)")
pytest.importorskip("plotly", reason="the dashboard needs plotly")

#: a token strong enough for the dashboard (24 characters, 20 different ones)
TOKEN = "k3Yx-9QwErT7_uPzLm2VbN0s"
#: where a test client says it sends its requests (a loopback name the dashboard answers)
BASE_URL = "http://127.0.0.1:8787"
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(autouse=True)
def _own_keys(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("CARBONLEDGER_SIGNING_KEY", str(config / "carbonledger" / "signing_key.pem"))
    monkeypatch.setenv("CARBONLEDGER_NO_CLOUD_PROBE", "1")
    monkeypatch.delenv("CARBONLEDGER_WEB_TOKEN", raising=False)
    return config


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """The report tests' ledger (three finished runs, one running) in a SQLite file."""
    path = tmp_path / "ledger.db"
    build_ledger(path)
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """``backend(name)``: a new empty ledger target of this test's backend (a SQLite path or
    a PostgreSQL database URL), to write into with the builders."""
    if request.param == "sqlite":
        return lambda name: str(tmp_path / f"{name}.db")
    url: str = request.getfixturevalue("pg_url")
    made: list[str] = []

    def make(name: str) -> str:
        if made:  # one database per test: a second ledger would share it
            raise AssertionError("one PostgreSQL ledger per test")
        made.append(name)
        return url

    return make


@pytest.fixture
def ledger_target(backend: Callable[[str], str]) -> str:
    """The report tests' ledger (ledgerdata.py) in SQLite and in PostgreSQL."""
    target = backend("ledger")
    build_ledger(target)
    return target


def client_for(target: str, **kw: Any) -> Any:
    """A test client of the dashboard over ``target`` (``create_app`` keywords in ``kw``)."""
    from fastapi.testclient import TestClient

    from carbonledger.web import create_app

    return TestClient(create_app(target, **kw), base_url=BASE_URL)
