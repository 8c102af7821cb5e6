"""The default ledger: one SQLite file (stdlib ``sqlite3``), safe for many processes at once.

* WAL journal, ``synchronous=NORMAL``: a committed write survives the process being killed
  (SIGKILL); only a power cut or OS crash can lose the last commits.
* Every write is one transaction that takes the write lock at once (``BEGIN IMMEDIATE``)
  and commits before the call returns; ``busy_timeout`` makes concurrent writers wait
  for each other instead of failing.
* One connection per ledger object, guarded by a lock (the tracker's sampler thread and
  main thread share it); a forked child opens its own.
* Before anything is written the file is checked: not an SQLite database, a database of
  another program, or a schema newer than this carbonledger -> :class:`LedgerError`
  naming the file and what to do, and the file is left as it was.
* The Ed25519 signing key lives beside the ledger in ``<ledger>.key`` (mode 0600).
"""

from __future__ import annotations

import os
import time

from carbonledger.errors import InputError, LedgerError
from carbonledger.ledger.core import SqlLedger, Tx
from carbonledger.ledger.schema import (
    MARKER,
    SCHEMA_VERSION,
    TABLES,
    initial_meta,
    migration_statements,
)
from carbonledger.ledger.seal import (
    new_private_key,
    private_key_from_pem,
    private_key_to_pem,
)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    import sqlite3
else:
    # sqlite3's own C module: the sqlite3 package around it adds nothing this module uses
    # but imports datetime (~4 ms here) to register its date adapters, which this ledger
    # never passes (timestamps are Unix seconds). Same classes, same exceptions.
    try:
        import _sqlite3 as sqlite3
    except ImportError:  # pragma: no cover - an interpreter without it
        import sqlite3
if TYPE_CHECKING:
    import pathlib
    from collections.abc import Callable, Sequence
    from types import TracebackType
    from typing import Any


if TYPE_CHECKING:
    from carbonledger.ledger.seal import SigningKey

__all__ = ["SqliteLedger"]

_HEADER = b"SQLite format 3\x00"
_FIX = "pass another file with --ledger or CARBONLEDGER_LEDGER"


class SqliteLedger(SqlLedger):
    """A ledger in one SQLite file.

    :param path: the file (created with its folders when missing, unless ``create=False``)
    :param clock: wall clock in Unix seconds (tests inject one to age leases)
    :param create: create the file when it does not exist (else :class:`InputError`)
    :param busy_timeout_s: how long a write waits for another process's write to end
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        create: bool = True,
        busy_timeout_s: float = 60.0,
    ) -> None:
        super().__init__(clock)
        self._file = os.path.abspath(os.path.expanduser(os.fspath(path)))
        self.location = self._file
        self._key_file = self._file + ".key"
        self._busy_ms = int(busy_timeout_s * 1000)
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        conn = self._open(create)
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    @property
    def path(self) -> pathlib.Path:
        """The ledger file (absolute)."""
        import pathlib

        return pathlib.Path(self._file)

    @property
    def key_path(self) -> pathlib.Path:
        """The signing key's file, beside the ledger."""
        import pathlib

        return pathlib.Path(self._key_file)

    # --- opening -------------------------------------------------------------------------

    def _open(self, create: bool) -> sqlite3.Connection:
        p = self._file
        if os.path.isdir(p):
            raise LedgerError(f"{p} is a folder, not a ledger file; {_FIX}")
        if os.path.exists(p):
            try:
                with open(p, "rb") as fh:
                    header = fh.read(len(_HEADER))
            except OSError as exc:
                raise LedgerError(
                    f"cannot read ledger {p}: {exc.strerror}; check its permissions"
                ) from None
            if header and header != _HEADER:
                raise LedgerError(
                    f"{p} is not a carbonledger ledger (not an SQLite database: corrupt, or "
                    f"another kind of file); it was not changed. Move it away or {_FIX}"
                )
            uri = f"file:{_quote(p)}?mode=rw"
        else:
            if not create:
                raise InputError(f"no ledger at {p}; {_FIX}, or record a run first")
            try:
                os.makedirs(os.path.dirname(p), exist_ok=True)
            except OSError as exc:
                raise LedgerError(
                    f"cannot create the ledger's folder {os.path.dirname(p)}: {exc.strerror}; {_FIX} "
                    "in a writable place"
                ) from None
            uri = f"file:{_quote(p)}?mode=rwc"
        try:
            conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=60.0
            )
        except sqlite3.Error as exc:
            raise LedgerError(
                f"cannot open ledger {p}: {exc}; check that the path is writable, or {_FIX}"
            ) from None
        conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Check the file is ours (reading only), then create or migrate the schema."""
        p = self._file
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            names = {
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                )
            }
            marker = None
            if "carbonledger_meta" in names:
                row = conn.execute(
                    "SELECT value FROM carbonledger_meta WHERE key = 'schema'"
                ).fetchone()
                marker = None if row is None else row[0]
        except sqlite3.DatabaseError as exc:
            raise LedgerError(
                f"{p} is not a readable carbonledger ledger ({exc}); it was not changed. "
                f"Move it away (or restore a backup) or {_FIX}"
            ) from None
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {p} has schema version {version}, newer than this carbonledger knows "
                f"({SCHEMA_VERSION}); upgrade carbonledger (pip install -U carbonledger). "
                "The file was not changed."
            )
        if names and marker != MARKER:
            ours = sorted(names & set(TABLES))
            what = f"tables {', '.join(ours)} not made by carbonledger" if ours else "other tables"
            raise LedgerError(
                f"{p} is an SQLite database of another program ({what}); it was not changed. "
                f"{_FIX.capitalize()}"
            )
        if version < SCHEMA_VERSION:
            self._migrate(conn)
        for _ in range(100):
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:  # another process holds a lock: retry
                if "locked" not in str(exc):
                    raise LedgerError(f"cannot open ledger {p}: {exc}") from None
                time.sleep(0.05)
        conn.execute("PRAGMA synchronous = NORMAL")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LedgerError(
                f"cannot write ledger {self._file}: {exc}; check that it is writable, or {_FIX}"
            ) from None
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            for v in range(version, SCHEMA_VERSION):
                for statement in migration_statements(v, "sqlite"):
                    conn.execute(statement)
                if v == 0:
                    conn.executemany(
                        "INSERT INTO carbonledger_meta (key, value) VALUES (?, ?)",
                        initial_meta(self._clock()),
                    )
                conn.execute(f"PRAGMA user_version = {v + 1}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise LedgerError(
                f"cannot create the ledger's tables in {self._file}: {exc}; check that it is "
                f"writable, or {_FIX}"
            ) from None

    # --- the seam ------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError(f"ledger {self._file} is closed")
        if os.getpid() != self._pid:  # a forked child: never share the parent's connection
            self._pid = os.getpid()
            self._conn = self._open(create=False)
            self._conn.execute("PRAGMA synchronous = NORMAL")
        return self._conn

    _RENEWS_APART = True  # see SqlLedger._renew

    def _append(self, sql: str, params: Sequence[Any]) -> None:
        # one statement outside BEGIN...COMMIT: SQLite makes it a transaction of its own
        # (one step, one commit), where _transaction takes three statements
        with self._lock:
            conn = self._connection()
            try:
                conn.execute(sql, params)
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def _transaction(self, write: bool) -> _Transaction:
        return _Transaction(self, write)

    def _error(self, exc: sqlite3.Error) -> LedgerError:
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            return LedgerError(f"ledger {self._file} is read-only here ({text}); {_FIX}")
        if "locked" in text or "busy" in text:
            return LedgerError(
                f"ledger {self._file} stayed locked by another process for "
                f"{self._busy_ms / 1000:g} s ({text}); try again"
            )
        return LedgerError(f"ledger {self._file}: {text}")

    def _private_key(self, tx: Tx, public_hex: str | None) -> SigningKey:
        path = self._key_file
        if os.path.exists(path):
            try:
                with open(path, "rb") as fh:
                    pem = fh.read()
            except OSError as exc:
                raise LedgerError(
                    f"cannot read the ledger's signing key {path}: {exc.strerror}"
                ) from None
            return private_key_from_pem(pem, path)
        if public_hex is not None:
            raise LedgerError(
                f"the ledger's signing key {path} is missing; restore it from a backup. Sealed "
                "runs still verify (the public key is in the ledger), new ones cannot be sealed"
            )
        key = new_private_key()
        if not _write_private(path, private_key_to_pem(key)):  # another writer's key won
            with open(path, "rb") as fh:
                return private_key_from_pem(fh.read(), path)
        return key

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and os.getpid() == self._pid:
                self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"SqliteLedger({self._file!r})"


class _Transaction:
    """``with ledger._transaction(write) as tx``: BEGIN (IMMEDIATE when writing) under the
    ledger's lock; COMMIT at the end of the block, ROLLBACK when it raises; SQLite errors
    become :class:`LedgerError` naming the file."""

    __slots__ = ("_conn", "_ledger", "_write")

    def __init__(self, ledger: SqliteLedger, write: bool) -> None:
        self._ledger = ledger
        self._write = write
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> Tx:
        ledger = self._ledger
        ledger._lock.acquire()
        try:
            conn = ledger._connection()
            conn.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        except sqlite3.Error as exc:
            ledger._lock.release()
            raise ledger._error(exc) from None
        except BaseException:
            ledger._lock.release()
            raise
        self._conn = conn
        return Tx(conn.cursor())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ledger, conn = self._ledger, self._conn
        assert conn is not None
        try:
            if exc is not None:
                _rollback(conn)
                if isinstance(exc, sqlite3.Error):
                    raise ledger._error(exc) from None
                return  # the block's own exception goes on
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                _rollback(conn)
                raise ledger._error(error) from None
        finally:
            self._conn = None
            ledger._lock.release()


def _rollback(conn: sqlite3.Connection) -> None:
    try:  # noqa: SIM105 - contextlib is kept off the tracker's import path
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


_URI_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-~/")


def _quote(path: str) -> str:
    """``path`` percent-encoded for a ``file:`` URI (what ``urllib.parse.quote(path, safe="/")``
    gives, without importing urllib)."""
    return "".join(chr(b) if b in _URI_SAFE else f"%{b:02X}" for b in os.fsencode(path))


def _write_private(path: str, pem: bytes) -> bool:
    """Write the key readable by its owner only, never over an existing file (then False)."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)  # fails when the key exists: the first writer wins
    except FileExistsError:
        return False
    except OSError as exc:
        raise LedgerError(
            f"cannot write the ledger's signing key {path}: {exc.strerror}; the folder must be "
            "writable"
        ) from None
    finally:
        try:  # noqa: SIM105 - contextlib is kept off the tracker's import path
            os.unlink(tmp)
        except OSError:
            pass
    return True
