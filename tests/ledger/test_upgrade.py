"""A ledger of the previous version (schema 1: one ledger key, kept beside the file) is
upgraded by a writer, keeps verifying, and the next runs are signed by their writers."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from carbonledger.errors import LedgerError
from carbonledger.ledger import MemberRecord, RunRecord, open_ledger
from carbonledger.ledger.keys import fingerprint
from carbonledger.ledger.schema import SCHEMA_VERSION

OLD_KEY = "c55d22daf75d4be1ebc01fe9f05ab9372b9dc72432f8e4827838001caab85590"


@pytest.fixture
def v1(tmp_path: Path) -> Path:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript((Path(__file__).with_name("data") / "ledger-v1.sql").read_text())
    conn.close()
    return path


def test_an_old_ledger_is_read_only_until_a_writer_upgrades_it(v1: Path) -> None:
    with pytest.raises(LedgerError, match="carbonledger settle"):
        open_ledger(v1, read_only=True)


def test_upgraded_ledger_keeps_verifying_and_new_runs_are_signed(
    v1: Path, make_run: Callable[..., RunRecord]
) -> None:
    led = open_ledger(v1)
    try:
        report = led.verify(use_trusted_file=False)
        assert report.ok, report.problems
        assert report.signers == [fingerprint(OLD_KEY)]
        assert [s.status for s in led.list_runs()] == ["completed", "completed"]
        led.open_run(make_run("new"))
        led.join(MemberRecord("m", "new", "h", 1, 0.0), 5)
        led.finish_member("new", "m", [], "completed")
        me = led.public_key()
        assert me is not None and me != OLD_KEY
        report = led.verify([OLD_KEY, me])  # both pinned: anchored and intact
        assert report.ok and report.anchored, report.problems
        only_mine = led.verify([me])  # the old runs were signed by the old ledger key
        assert {p.kind for p in only_mine.problems} == {"untrusted", "unsigned"}
    finally:
        led.close()
    conn = sqlite3.connect(v1)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "carbonledger_keys" not in names
    finally:
        conn.close()
    reader = open_ledger(v1, read_only=True)
    try:
        assert reader.verify([OLD_KEY, me]).ok
    finally:
        reader.close()


def test_tampering_with_an_old_run_is_still_seen(v1: Path) -> None:
    conn = sqlite3.connect(v1)
    conn.execute("UPDATE runs SET pue = 1.0 WHERE run_id = 'old-2'")
    conn.commit()
    conn.close()
    led = open_ledger(v1)
    try:
        problems = led.verify([OLD_KEY]).problems
        assert [(p.ref, p.kind) for p in problems] == [("old-2", "modified")]
    finally:
        led.close()


def test_a_public_key_without_records_is_tampering(v1: Path) -> None:
    """An old ledger's key is there, its seals are gone (and the head reset): only tampering
    leaves that state."""
    conn = sqlite3.connect(v1)
    conn.execute("DELETE FROM seals")
    conn.execute(
        "UPDATE carbonledger_meta SET value = ? WHERE key = 'seal_head'",
        ('{"hash":"' + "0" * 64 + '","seq":0}',),
    )
    conn.commit()
    conn.close()
    led = open_ledger(v1)
    try:
        found = {(p.ref, p.kind) for p in led.verify(use_trusted_file=False).problems}
    finally:
        led.close()
    assert ("ledger", "deleted") in found
    assert {("old-1", "unsigned"), ("old-2", "unsigned")} <= found
