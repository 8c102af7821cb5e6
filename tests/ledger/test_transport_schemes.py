"""A ledger's database is chosen by the target's scheme, from one table: a new transport is
one module and one row of ``SCHEMES`` (docs/architecture.md, "Adding a ledger transport")."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonledger import Tracker
from carbonledger.ledger import open_ledger
from carbonledger.ledger.transports import (
    SCHEMES,
    MemoryTransport,
    SqliteTransport,
    open_transport,
    scheme_of,
)


def test_each_row_opens_its_class() -> None:
    assert scheme_of(":memory:") == ":memory:"
    assert scheme_of("postgresql://u@h/db") == "postgresql"
    assert scheme_of("POSTGRES://u@h/db") == "postgres"
    assert scheme_of("/tmp/x.sqlite") == scheme_of("unknown://x") == ""
    transport = open_transport(":memory:")
    try:
        assert isinstance(transport, MemoryTransport) and transport.location == ":memory:"
    finally:
        transport.close()


def test_the_faces_classes_are_the_rows_classes() -> None:
    import importlib

    for module, name in SCHEMES.values():
        face_class = getattr(importlib.import_module("carbonledger.ledger.transports"), name)
        assert face_class is getattr(importlib.import_module(module), name)


@pytest.fixture
def url_file_scheme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A transport written outside the package (a SQLite file named by a ``sqlitefile://``
    URL), registered by one row of SCHEMES; the URL of a ledger in it."""
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "urlfile_transport.py").write_text(
        textwrap.dedent(
            """
            from carbonledger.ledger.transports import SqliteTransport


            class UrlFileTransport(SqliteTransport):
                @classmethod
                def from_target(cls, target, *, create, read_only, timeout_s, clock):
                    path = target.split("://", 1)[1]
                    return cls(path, create=create, read_only=read_only,
                               timeout_s=timeout_s, clock=clock)
            """
        )
    )
    monkeypatch.syspath_prepend(str(plugin))
    monkeypatch.setitem(SCHEMES, "sqlitefile", ("urlfile_transport", "UrlFileTransport"))
    monkeypatch.chdir(tmp_path)  # where a target misread as a relative path would land
    yield f"sqlitefile://{tmp_path / 'runs.sqlite'}"
    sys.modules.pop("urlfile_transport", None)


def test_a_new_transport_is_one_module_and_one_row(tmp_path: Path, url_file_scheme: str) -> None:
    """open_ledger takes the new scheme, and a run recorded through it reads back from the
    same file by its plain path."""
    with open_ledger(url_file_scheme) as ledger:
        assert type(ledger.transport).__name__ == "UrlFileTransport"
        tracker = Tracker(country="FR", ledger=ledger, interval_s=0.05, project="plugin")
        tracker.start()
        summary = tracker.stop()
    with open_ledger(url_file_scheme, read_only=True) as ledger:
        (run,) = ledger.list_runs()
    assert run.run_id == summary.run_id and run.project == "plugin"
    with open_ledger(str(tmp_path / "runs.sqlite"), read_only=True) as plain:
        assert isinstance(plain.transport, SqliteTransport)
        assert [r.run_id for r in plain.list_runs()] == [summary.run_id]


def test_a_tracker_given_the_new_schemes_url_records_there(
    tmp_path: Path, url_file_scheme: str
) -> None:
    tracker = Tracker(country="FR", ledger=url_file_scheme, interval_s=0.05)
    tracker.start()
    summary = tracker.stop()
    with open_ledger(url_file_scheme, read_only=True) as ledger:
        assert [r.run_id for r in ledger.list_runs()] == [summary.run_id]
