"""The SQLite file: where it lives, and bad files refused without touching them."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from carbonledger.errors import InputError, LedgerError
from carbonledger.ledger import (
    MemberRecord,
    RunRecord,
    SqliteLedger,
    default_ledger_path,
    open_ledger,
    verify,
)
from carbonledger.ledger.schema import SCHEMA_VERSION
from carbonledger.models import Sample


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
        assert isinstance(led, SqliteLedger) and led.path == tmp_path / "env.sqlite"
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
    led.open_run(make_run())
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


def test_signing_key_file_is_private(tmp_path: Path, make_run: Callable[..., RunRecord]) -> None:
    path = tmp_path / "l.sqlite"
    led = open_ledger(path)
    try:
        led.open_run(make_run())
        led.join(MemberRecord("m", "run-1", "h", 1, 0.0), 5)
        led.finish_member("run-1", "m", [], "completed")
        key = Path(str(path) + ".key")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert b"PRIVATE KEY" in key.read_bytes()
        public = led.public_key()
        assert public is not None and len(public) == 64
    finally:
        led.close()


def test_missing_signing_key_keeps_the_data_and_verify_says_so(
    tmp_path: Path, make_run: Callable[..., RunRecord]
) -> None:
    path = tmp_path / "l.sqlite"
    led = open_ledger(path)
    led.open_run(make_run("a"))
    led.join(MemberRecord("m", "a", "h", 1, 0.0), 5)
    led.finish_member("a", "m", [], "completed")
    led.close()
    Path(str(path) + ".key").unlink()
    led = open_ledger(path)
    try:
        led.open_run(make_run("b"))
        led.join(MemberRecord("m", "b", "h", 1, 0.0), 5)
        led.finish_member("b", "m", [], "completed")  # recorded, though it cannot be sealed
        assert led.summary("b").status == "completed"
        report = led.verify()
        assert [(p.ref, p.kind) for p in report.problems] == [("b", "inserted")]
    finally:
        led.close()


def test_threads_share_one_ledger(tmp_path: Path, make_run: Callable[..., RunRecord]) -> None:
    """The tracker's sampler thread writes samples while the main thread writes windows."""
    led = open_ledger(tmp_path / "l.sqlite")
    try:
        led.open_run(make_run())
        led.join(MemberRecord("m", "run-1", "h", 1, 0.0), 5)
        errors: list[BaseException] = []

        def writer(device: str) -> None:
            try:
                for i in range(200):
                    led.add_samples("run-1", "m", [Sample(float(i), "cpu", device, float(i))])
                    led.heartbeat("run-1", "m", 5)
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
    finally:
        led.close()


def test_a_transaction_rolls_back_on_errors_and_frees_the_lock(tmp_path: Path) -> None:
    led = SqliteLedger(tmp_path / "t.sqlite")
    try:
        put = "INSERT INTO carbonledger_meta (key, value) VALUES (?, ?)"
        with pytest.raises(ValueError, match="boom"):  # the block's own error goes on
            with led._transaction(write=True) as tx:
                tx.run(put, ("k1", "v"))
                raise ValueError("boom")
        with pytest.raises(LedgerError, match=r"t\.sqlite.*no such table"):  # SQLite's, named
            with led._transaction(write=True) as tx:
                tx.run(put, ("k2", "v"))
                tx.run("SELECT * FROM nowhere")
        with led._transaction(write=True) as tx:
            tx.run(put, ("k3", "v"))
        # both failed blocks were rolled back, the good one committed; and the lock is free
        # for another thread
        seen: list[object] = []

        def other() -> None:
            with led._transaction(write=False) as tx:
                seen.extend(r[0] for r in tx.rows("SELECT key FROM carbonledger_meta"))

        worker = threading.Thread(target=other)
        worker.start()
        worker.join(10)
        assert not worker.is_alive()
        assert "k3" in seen and "k1" not in seen and "k2" not in seen
    finally:
        led.close()
