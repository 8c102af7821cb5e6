"""PostgreSQL ledgers: bad URLs and databases are clear errors that change nothing."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable

import pytest

from carbonledger.errors import InputError, LedgerError
from carbonledger.events import MetaUpdated, RunOpened
from carbonledger.ledger import MemberRecord, RunRecord, open_ledger
from carbonledger.ledger.paths import mask_url
from carbonledger.ledger.schema import SCHEMA_VERSION
from carbonledger.ledger.transports.postgres import PostgresTransport

from .conftest import Writer


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mask_url() -> None:
    assert mask_url("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert mask_url("postgres://db/x?password=s3cret&sslmode=require") == (
        "postgres://db/x?password=***&sslmode=require"
    )
    assert mask_url("postgresql://db/x") == "postgresql://db/x"


def test_unreachable_url_is_a_quick_clear_error() -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://bob:s3cret@127.0.0.1:{_closed_port()}/ledger"
    t0 = time.monotonic()
    with pytest.raises(LedgerError) as info:
        open_ledger(url)
    assert time.monotonic() - t0 < 10
    message = str(info.value)
    assert "s3cret" not in message
    assert "postgresql://bob:***@127.0.0.1" in message
    assert "check that the server is running" in message


def test_missing_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(InputError, match=r"pip install carbonledger\[postgres\]"):
        open_ledger("postgresql://localhost/x")


def test_foreign_tables_are_refused_untouched(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE runs (id int, name text)")
        conn.execute("INSERT INTO runs VALUES (1, 'theirs')")
    with pytest.raises(LedgerError, match="did not make") as info:
        open_ledger(pg_url)
    assert "runs" in str(info.value) and "nothing was changed" in str(info.value)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT * FROM runs").fetchall() == [(1, "theirs")]
        assert conn.execute("SELECT to_regclass('carbonledger_meta')").fetchone() == (None,)


def test_newer_schema_is_refused_untouched(pg_url: str, make_run: Callable[..., RunRecord]) -> None:
    import psycopg

    led = open_ledger(pg_url)
    assert isinstance(led.transport, PostgresTransport)
    led.record("run-1", [RunOpened(make_run())])
    led.close()
    newer = str(SCHEMA_VERSION + 1)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE carbonledger_meta SET value = %s WHERE key = 'schema_version'", (newer,)
        )
    with pytest.raises(LedgerError, match="upgrade carbonledger"):
        open_ledger(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        version = conn.execute(
            "SELECT value FROM carbonledger_meta WHERE key = 'schema_version'"
        ).fetchone()
        assert version == (newer,)
        assert conn.execute("SELECT run_id FROM runs").fetchall() == [("run-1",)]


def test_no_private_key_in_the_database(pg_url: str, make_run: Callable[..., RunRecord]) -> None:
    """Each writer signs with its own key file; the database holds public keys only."""
    led = open_ledger(pg_url)
    try:
        write = Writer(led, time.time)
        write.open(make_run(), MemberRecord("m", "run-1", "h", 1, 0.0), 5)
        write.finish("run-1", "m", [], "completed")
        assert led.settle() == []
        public = led.public_key()
        assert public is not None
    finally:
        led.close()
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('carbonledger_keys')").fetchone() == (None,)
        signers = conn.execute("SELECT DISTINCT signer FROM seals").fetchall()
        dump = " ".join(str(r) for r in conn.execute("SELECT * FROM seals").fetchall())
    assert signers == [(public,)] and "PRIVATE KEY" not in dump
    reader = open_ledger(pg_url, read_only=True)
    try:
        report = reader.verify()
    finally:
        reader.close()
    assert report.ok, report.problems


def test_locked_table_fails_fast(pg_url: str, make_run: Callable[..., RunRecord]) -> None:
    """A table locked by another session: the write fails within the lock timeout."""
    import psycopg

    led = open_ledger(pg_url, timeout_s=0.5)
    try:
        write = Writer(led, time.time)
        write.open(make_run(), MemberRecord("m", "run-1", "h", 1, 0.0), 5)
        batch = write.make("run-1", "m", MetaUpdated({"k": 1}))
        with psycopg.connect(pg_url) as other:
            other.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
            t0 = time.monotonic()
            with pytest.raises(LedgerError, match="stayed locked or slow"):
                led.append([batch])
            assert time.monotonic() - t0 < 10
        # the lock is gone: the ledger works again, and the batch (journalled) goes in
        assert led.append([batch]) == 1
        write("run-1", "m", MetaUpdated({"k": 2}))
        assert led.run_record("run-1").meta == {"k": 2}
        report = led.verify()
        assert report.ok, report.problems
    finally:
        led.close()


def test_read_only_session_never_writes(pg_url: str, make_run: Callable[..., RunRecord]) -> None:
    open_ledger(pg_url).close()
    led = open_ledger(pg_url, read_only=True)
    try:
        with pytest.raises(LedgerError, match="read-only"):
            led.record("run-1", [RunOpened(make_run())])
        with pytest.raises(LedgerError, match="read-only"):
            led.acquire_lease("run-1", "host:h:cpu", "m", 5)
        assert led.settle() == [] and led.list_runs() == []
    finally:
        led.close()
