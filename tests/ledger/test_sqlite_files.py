"""The SQLite file: where it lives, and bad files refused without touching them."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from carbonledger.errors import InputError, LedgerError
from carbonledger.events import Heartbeat, MemberChain, MetaUpdated, RunOpened, SamplesAdded
from carbonledger.ledger import (
    MemberRecord,
    RunRecord,
    default_ledger_path,
    open_ledger,
    verify,
)
from carbonledger.ledger.schema import SCHEMA_VERSION
from carbonledger.ledger.transports.memory import MemoryTransport
from carbonledger.ledger.transports.sqlite import SqliteTransport
from carbonledger.models import Sample

from .conftest import Clock, Writer


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_path_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_ledger_path({"XDG_DATA_HOME": "/x"}) == Path("/x/carbonledger/ledger.sqlite")
    assert default_ledger_path({}) == Path.home() / ".local/share/carbonledger/ledger.sqlite"
    monkeypatch.delenv("CARBONLEDGER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    led = open_ledger()
    try:
        assert led.location == str(tmp_path / "data/carbonledger/ledger.sqlite")
    finally:
        led.close()
    assert (tmp_path / "data/carbonledger/ledger.sqlite").is_file()
    monkeypatch.setenv("CARBONLEDGER_LEDGER", str(tmp_path / "env.sqlite"))
    led = open_ledger()
    try:
        assert isinstance(led.transport, SqliteTransport)
        assert led.location == str(tmp_path / "env.sqlite")
    finally:
        led.close()


def test_schema_version_and_marker(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    open_ledger(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"runs", "members", "leases", "samples", "windows", "seals", "samples_view"} <= names
    finally:
        conn.close()
    open_ledger(path).close()  # reopening an up-to-date ledger is a no-op


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not a database at all\n" * 10, id="text"),
        pytest.param(b"SQLite format 3\x00" + os.urandom(4080), id="corrupt"),
    ],
)
def test_corrupt_file_is_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "l.sqlite"
    path.write_bytes(content)
    before = digest(path)
    with pytest.raises(LedgerError, match=str(path)) as info:
        open_ledger(path)
    assert "was not changed" in str(info.value) and "--ledger" in str(info.value)
    assert digest(path) == before


def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (id INTEGER, name TEXT)")
    conn.execute("INSERT INTO runs VALUES (1, 'theirs')")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(LedgerError, match="another program") as info:
        open_ledger(path)
    assert str(path) in str(info.value) and "runs" in str(info.value)
    assert digest(path) == before


def test_newer_schema_is_refused_untouched(
    tmp_path: Path, make_run: Callable[..., RunRecord]
) -> None:
    path = tmp_path / "l.sqlite"
    led = open_ledger(path)
    led.record("run-1", [RunOpened(make_run())])
    led.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = digest(path)
    with pytest.raises(LedgerError, match="upgrade carbonledger") as info:
        open_ledger(path)
    assert str(path) in str(info.value)
    assert digest(path) == before


def test_unwritable_paths_name_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(LedgerError, match=str(blocker)):
        open_ledger(blocker / "sub" / "l.sqlite")
    with pytest.raises(LedgerError, match="is a folder"):
        open_ledger(tmp_path)
    assert blocker.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_folder_names_the_path(tmp_path: Path) -> None:  # pragma: no cover - non-root
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(LedgerError, match=str(ro)):
            open_ledger(ro / "l.sqlite")
    finally:
        ro.chmod(0o700)


def test_missing_ledger_without_create(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no ledger at"):
        open_ledger(tmp_path / "none.sqlite", create=False)
    with pytest.raises(InputError, match="no ledger at"):
        verify(tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()


def test_the_ledger_holds_no_private_key(
    tmp_path: Path, make_run: Callable[..., RunRecord]
) -> None:
    path = tmp_path / "l.sqlite"
    led = open_ledger(path)
    try:
        write = Writer(led, time.time)
        write.open(make_run(), MemberRecord("m", "run-1", "h", 1, 0.0), 5)
        write.finish("run-1", "m", [], "completed")
        public = led.public_key()
        assert public is not None and len(public) == 64
        assert led.signers() == [public]
    finally:
        led.close()
    assert not Path(str(path) + ".key").exists()
    assert b"PRIVATE KEY" not in path.read_bytes()
    key = Path(os.environ["CARBONLEDGER_SIGNING_KEY"])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and b"PRIVATE KEY" in key.read_bytes()


def test_reading_never_writes(tmp_path: Path, make_run: Callable[..., RunRecord]) -> None:
    """A dead run is reported interrupted by a read-only ledger, which writes nothing (not
    even on a read-only file); a writer's settle records it."""
    path = tmp_path / "l.sqlite"
    clock = Clock()
    led = open_ledger(path, clock=clock)
    write = Writer(led, clock)
    write.open(make_run(started=clock()), MemberRecord("m", "run-1", "h", 1, clock()), 5)
    write.samples("run-1", "m", Sample(clock(), "cpu", "cpu:package-0", 1.0))
    led.close()
    clock.advance(60)
    before = digest(path)
    path.chmod(0o444)
    try:
        reader = open_ledger(path, clock=clock, read_only=True)
        try:
            assert reader.summary("run-1").status == "interrupted"
            assert [s.status for s in reader.list_runs()] == ["interrupted"]
            assert reader.verify().ok
            with pytest.raises(LedgerError, match="read-only"):
                reader.settle()
        finally:
            reader.close()
    finally:
        path.chmod(0o644)
    assert digest(path) == before
    writer = open_ledger(path, clock=clock)
    try:
        assert writer.settle() == ["run-1"]
        assert writer.run_record("run-1") and writer.list_runs()[0].status == "interrupted"
        assert writer.summary("run-1").energy_j == pytest.approx(1.0)
        assert writer.verify().ok
    finally:
        writer.close()


def test_a_locked_ledger_fails_fast(tmp_path: Path, make_run: Callable[..., RunRecord]) -> None:
    path = tmp_path / "l.sqlite"
    led = open_ledger(path, timeout_s=0.2)
    try:
        write = Writer(led, time.time)
        write.open(make_run(), MemberRecord("m", "run-1", "h", 1, 0.0), 5)
        batch = write.make("run-1", "m", MetaUpdated({"k": 1}))
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            t0 = time.monotonic()
            with pytest.raises(LedgerError, match="locked by another process") as info:
                led.append([batch])
            assert str(path) in str(info.value) and time.monotonic() - t0 < 5
            with pytest.raises(LedgerError, match="locked by another process"):
                led.acquire_lease("run-1", "host:h:cpu", "m", 5)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert led.append([batch]) == 1  # free again: the same batch (journalled) goes in
        assert led.run_record("run-1").meta == {"k": 1} and led.verify().ok
    finally:
        led.close()


def test_overlong_names_are_refused(tmp_path: Path, make_run: Callable[..., RunRecord]) -> None:
    led = open_ledger(tmp_path / "l.sqlite")
    try:
        for fields in (
            {"project": "p" * 201},
            {"experiment": "e" * 201},
            {"run_id": "r" * 201},
            {"tags": {"k" * 201: "v"}},
            {"tags": {"k": "v" * 201}},
        ):
            with pytest.raises(InputError, match="at most 200"):
                led.record("run-1", [RunOpened(make_run(**fields))])
        assert led.list_runs() == [] and led.verify().records == 0
        led.record("run-1", [RunOpened(make_run(project="p" * 200))])
        assert [s.project for s in led.list_runs()] == ["p" * 200]
    finally:
        led.close()


def test_memory_ledger_records_runs_without_a_file_or_key(
    tmp_path: Path, make_run: Callable[..., RunRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARBONLEDGER_SIGNING_KEY", str(tmp_path / "never.pem"))
    led = open_ledger(":memory:")
    try:
        assert isinstance(led.transport, MemoryTransport) and led.location == ":memory:"
        assert led.signer() is None and led.public_key() is None
        write = Writer(led, time.time)  # the batches go unsigned: there is no key
        write.open(make_run(), MemberRecord("m", "run-1", "h", 1, 0.0), 5)
        write.samples("run-1", "m", Sample(1.0, "cpu", "cpu:package-0", 5.0))
        assert led.summary("run-1").energy_j == pytest.approx(5.0)
        write.finish("run-1", "m", [], "completed")
        assert led.summary("run-1").status == "completed"
        report = led.verify(use_trusted_file=False)  # nothing vouches for its records...
        assert {(p.ref, p.kind) for p in report.problems} == {
            ("run-1", "unsigned"),
            ("ledger", "bad-signature"),  # ...nor for the chain's head
        }
    finally:
        led.close()
    assert not (tmp_path / "never.pem").exists()
    assert list(tmp_path.iterdir()) == []


def test_threads_share_one_ledger(tmp_path: Path, make_run: Callable[..., RunRecord]) -> None:
    """The tracker's sampler thread writes samples while the main thread writes windows: one
    member's chain and one ledger shared by threads, whose batches may reach the ledger in
    another order than they were made."""
    led = open_ledger(tmp_path / "l.sqlite")
    try:
        write = Writer(led, time.time)
        write.open(make_run(), MemberRecord("m", "run-1", "h", 1, 0.0), 5)
        chain: MemberChain = write.chain("run-1", "m")
        errors: list[BaseException] = []

        def writer(device: str) -> None:
            try:
                for i in range(200):
                    samples = (Sample(float(i), "cpu", device, float(i)),)
                    led.append([chain.make([SamplesAdded(samples)])])
                    led.append([chain.make([Heartbeat(5)])])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(f"cpu:package-{k}",)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        s = led.summary("run-1")
        assert len(s.components) == 4 and s.energy_j == pytest.approx(4 * 199.0)
        assert chain.seq == 1 + 4 * 200 * 2
        report = led.verify()
        assert report.ok and not report.notes, (report.problems, report.notes)
    finally:
        led.close()


def test_a_transaction_rolls_back_on_errors_and_frees_the_lock(tmp_path: Path) -> None:
    led = SqliteTransport(tmp_path / "t.sqlite")
    try:
        put = "INSERT INTO carbonledger_meta (key, value) VALUES (?, ?)"
        with pytest.raises(ValueError, match="boom"):  # the block's own error goes on
            with led.transaction(write=True) as tx:
                tx.run(put, ("k1", "v"))
                raise ValueError("boom")
        with pytest.raises(LedgerError, match=r"t\.sqlite.*no such table"):  # SQLite's, named
            with led.transaction(write=True) as tx:
                tx.run(put, ("k2", "v"))
                tx.run("SELECT * FROM nowhere")
        with led.transaction(write=True) as tx:
            tx.run(put, ("k3", "v"))
        # both failed blocks were rolled back, the good one committed; and the lock is free
        # for another thread
        seen: list[object] = []

        def other() -> None:
            with led.transaction(write=False) as tx:
                seen.extend(r[0] for r in tx.rows("SELECT key FROM carbonledger_meta"))

        worker = threading.Thread(target=other)
        worker.start()
        worker.join(10)
        assert not worker.is_alive()
        assert "k3" in seen and "k1" not in seen and "k2" not in seen
    finally:
        led.close()


def test_a_full_disk_is_a_ledger_error_naming_the_fix(
    tmp_path: Path, make_run: Callable[..., RunRecord]
) -> None:
    """SQLite's 'database or disk is full' (here: a page limit on the connection, the same
    error a full file system gives) surfaces as LedgerError, and the ledger stays readable."""
    path = tmp_path / "l.sqlite"
    led = open_ledger(path)
    try:
        write = Writer(led, time.time)
        write.open(make_run(), MemberRecord("m", "run-1", "h", 1, 0.0), 5)
        conn = cast(SqliteTransport, led.transport).connection()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 1}")
        with pytest.raises(LedgerError, match=r"disk is full.*free space") as info:
            for i in range(10_000):
                write.samples("run-1", "m", Sample(float(i), "cpu", f"cpu:{i}", 1.0))
        assert str(path) in str(info.value)
        assert led.summary("run-1").status == "running"
    finally:
        led.close()
