"""The default transport: one SQLite file (stdlib ``sqlite3``), safe for many processes.

* WAL journal, ``synchronous=NORMAL``: a committed write survives the process being killed
  (SIGKILL); only a power cut or OS crash can lose the last commits.
* Every write is one transaction that takes the write lock at once (``BEGIN IMMEDIATE``)
  and commits before the call returns. A write waits at most ``timeout_s`` for another
  process's write, then fails with :class:`LedgerError` (a tracker then journals).
* ``read_only=True`` opens the file with ``mode=ro`` (nothing can be written, not even the
  WAL setting); on read-only media, where SQLite cannot make its ``-shm`` file, the file is
  read as ``immutable``.
* Before anything is written the file is checked: not an SQLite database, a database of
  another program, or a schema newer than this carbonledger -> :class:`LedgerError`
  naming the file and what to do, and the file is left as it was.
* Every SQLite failure (corrupt file, locked, read-only, disk full) is a
  :class:`LedgerError` naming the file and the fix.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from types import TracebackType

from carbonledger.errors import InputError, LedgerError
from carbonledger.ledger.schema import (
    MARKER,
    SCHEMA_VERSION,
    TABLES,
    initial_meta,
    migration_statements,
)
from carbonledger.ledger.transports.base import Dialect, Tx, refuse_writes

__all__ = ["SqliteTransport"]

_HEADER = b"SQLite format 3\x00"
_FIX = "pass another file with --ledger or CARBONLEDGER_LEDGER"
#: SQLite's primary result codes for a database held by another connection
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
_READONLY = 8  # SQLITE_READONLY
_FULL = 13  # SQLITE_FULL
_CANTOPEN = 14  # SQLITE_CANTOPEN
_CORRUPT_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


def _code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of ``exc`` (Python 3.11+), else None."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def _busy(exc: sqlite3.Error) -> bool:
    code = _code(exc)
    if code is not None:
        return code in _BUSY_CODES
    text = str(exc)  # Python 3.10: no result code on the exception
    return "locked" in text or "busy" in text


class SqliteTransport:
    """A ledger database in one SQLite file.

    :param path: the file (created with its folders when missing, unless ``create=False``)
    :param create: create the file when it does not exist (else :class:`InputError`)
    :param read_only: open for reading only (nothing is ever written)
    :param timeout_s: how long a write waits for another process's write, in seconds
    :param clock: wall clock in Unix seconds (the creation time of a new ledger)
    """

    dialect: Dialect = "sqlite"
    for_update = ""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        read_only: bool = False,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.read_only = read_only
        self.lock = threading.RLock()
        self._clock = clock
        self._file = self._resolve(path)
        self.location = self._file
        self._timeout_s = float(timeout_s)
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        conn = self._open(create)
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    @classmethod
    def from_target(
        cls,
        target: str,
        *,
        create: bool,
        read_only: bool,
        timeout_s: float,
        clock: Callable[[], float],
    ) -> SqliteTransport:
        """The transport of a file path, as :func:`~carbonledger.ledger.transports.open_transport`
        opens every row of its table."""
        return cls(target, create=create, read_only=read_only, timeout_s=timeout_s, clock=clock)

    @staticmethod
    def _resolve(path: str | os.PathLike[str]) -> str:
        text = os.fspath(path)
        if "\x00" in text:
            raise InputError(f"the ledger path {text!r} holds a NUL character; give a file path")
        return os.path.abspath(os.path.expanduser(text))

    # --- opening -------------------------------------------------------------------------

    def _uri(self, create: bool) -> str:
        p = self._file
        if os.path.isdir(p):
            raise LedgerError(f"{p} is a folder, not a ledger file; {_FIX}")
        try:
            mode = os.stat(p).st_mode
        except OSError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):  # never opened: it could block
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or a socket"
            raise InputError(f"{p} is {kind}, not a ledger file; {_FIX}")
        if mode is not None:
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
            return f"file:{_quote(p)}?mode={'ro' if self.read_only else 'rw'}"
        if not create or self.read_only:
            raise InputError(f"no ledger at {p}; {_FIX}, or record a run first")
        try:
            os.makedirs(os.path.dirname(p), exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"cannot create the ledger's folder {os.path.dirname(p)}: {exc.strerror}; "
                f"{_FIX} in a writable place"
            ) from None
        return f"file:{_quote(p)}?mode=rwc"

    def _open(self, create: bool) -> sqlite3.Connection:
        uri = self._uri(create)
        try:
            conn = self._connect(uri)
            if self.read_only:
                try:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                except sqlite3.OperationalError:  # read-only media: no -shm can be made
                    conn.close()
                    conn = self._connect(uri + "&immutable=1")
        except sqlite3.Error as exc:
            raise self.error(exc, "open") from None
        return conn

    def _connect(self, uri: str) -> sqlite3.Connection:
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=self._timeout_s,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._timeout_s * 1000)}")
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
            if _busy(exc):
                raise self.error(exc, "open") from None
            why = None if self.read_only else _not_writable(p)
            if why is not None:  # a good ledger where it cannot be written: say that
                raise LedgerError(
                    f"ledger {p} cannot be written here: {why}; it can still be read "
                    f"(runs, show, export, verify open it read-only). To record runs, {_FIX}"
                ) from None
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
        if self.read_only:
            if version < SCHEMA_VERSION:
                raise LedgerError(
                    f"ledger {p} has the schema of an older carbonledger (version {version}); "
                    f"upgrade it once (nothing of its records changes): carbonledger migrate "
                    f"--ledger {p}"
                )
            return
        if version < SCHEMA_VERSION:
            self._migrate(conn)
        self._wal(conn)

    def _wal(self, conn: sqlite3.Connection) -> None:
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                return
            except sqlite3.OperationalError as exc:  # another process holds a lock: retry
                if not _busy(exc) or time.monotonic() > deadline:
                    raise self.error(exc, "open") from None
                time.sleep(0.05)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self.error(exc, "open") from None
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
            _rollback(conn)
            raise self.error(exc, "create the tables of") from None

    # --- transactions ----------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError(f"ledger {self._file} is closed")
        if os.getpid() != self._pid:  # a forked child: never share the parent's connection
            self._pid = os.getpid()
            self._conn = self._open(create=False)
        return self._conn

    def transaction(self, write: bool) -> _Transaction:
        refuse_writes(self, write)
        return _Transaction(self, write)

    def error(self, exc: sqlite3.Error, doing: str = "write") -> LedgerError:
        """A :class:`LedgerError` for ``exc`` naming the file and the fix."""
        text = str(exc)
        p = self._file
        code = _code(exc)
        if code == _READONLY or (code is None and ("readonly" in text or "read-only" in text)):
            return LedgerError(f"ledger {p} is read-only here ({text}); {_FIX}")
        if _busy(exc):
            return LedgerError(
                f"ledger {p} stayed locked by another process for {self._timeout_s:g} s "
                f"({text}); try again, or find the process holding it (fuser {p})"
            )
        if code == _FULL or (code is None and "full" in text) or _size_limit_reached(p):
            if code != _FULL and _size_limit_reached(p):
                text = f"{text}: the file-size limit of this process, ulimit -f, is reached"
            return LedgerError(
                f"ledger {p}: the disk is full ({text}); free space on its file system or {_FIX}"
            )
        if code in _CORRUPT_CODES or (
            code is None and ("not a database" in text or "malformed" in text)
        ):
            return LedgerError(
                f"{p} is not a readable carbonledger ledger ({text}); move it away (or restore "
                f"a backup) or {_FIX}"
            )
        why = None if self.read_only else _not_writable(p)
        if why is not None and (code in (_CANTOPEN, _READONLY) or "unable to open" in text):
            return LedgerError(f"ledger {p} cannot be written here: {why} ({text}); {_FIX}")
        if code == _CANTOPEN or "unable to open" in text:
            return LedgerError(
                f"cannot {doing} ledger {p} ({text}); check that it and its folder are "
                f"writable, or {_FIX}"
            )
        return LedgerError(f"ledger {p}: {text}")

    def close(self) -> None:
        with self.lock:
            if self._conn is not None and os.getpid() == self._pid:
                self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._file!r})"


class _Transaction:
    """``with transport.transaction(write) as tx``: BEGIN (IMMEDIATE when writing) under the
    transport's lock; COMMIT at the end of the block, ROLLBACK when it raises."""

    __slots__ = ("_conn", "_transport", "_write")

    def __init__(self, transport: SqliteTransport, write: bool) -> None:
        self._transport = transport
        self._write = write
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> Tx:
        t = self._transport
        t.lock.acquire()
        try:
            conn = t.connection()
            conn.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        except sqlite3.Error as exc:
            t.lock.release()
            raise t.error(exc) from None
        except BaseException:
            t.lock.release()
            raise
        self._conn = conn
        return Tx(conn.cursor(), "sqlite", conn)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        t, conn = self._transport, self._conn
        assert conn is not None
        try:
            if exc is not None:
                _rollback(conn)
                if isinstance(exc, sqlite3.Error):
                    raise t.error(exc) from None
                return  # the block's own exception goes on
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                _rollback(conn)
                raise t.error(error) from None
        finally:
            self._conn = None
            t.lock.release()


def _size_limit_reached(path: str) -> bool:
    """Whether the ledger or its write-ahead log has reached the process's file-size limit
    (``ulimit -f``): writes past it fail with EFBIG, which SQLite reports as a disk I/O error
    although the disk is full for this process."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return False
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    except (OSError, ValueError):
        return False
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return False
    for name in (path, path + "-wal", path + "-journal"):
        try:
            if os.path.getsize(name) + 65536 >= soft:  # within a page batch of the limit
                return True
        except OSError:
            continue
    return False


def _not_writable(path: str) -> str | None:
    """Why the ledger file ``path`` cannot be written here (a read-only file system, a file
    or a folder this user may not write: SQLite makes its ``-wal`` and ``-shm`` files beside
    the ledger), or None when it can."""
    folder = os.path.dirname(path) or "."
    try:
        if os.statvfs(folder).f_flag & getattr(os, "ST_RDONLY", 1):
            return f"its file system is mounted read-only ({folder})"
    except OSError:
        pass
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return "the file is not writable by this user"
    if not os.access(folder, os.W_OK):
        return (
            f"its folder {folder} is not writable by this user (SQLite writes its -wal file there)"
        )
    return None


def _rollback(conn: sqlite3.Connection) -> None:
    try:  # noqa: SIM105 - one statement
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _quote(path: str) -> str:
    """``path`` percent-encoded for a ``file:`` URI."""
    from urllib.parse import quote

    return quote(path, safe="/")
