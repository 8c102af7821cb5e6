"""A PostgreSQL transport (``pip install carbonledger[postgres]``: psycopg 3), for teams and
for runs spread over hosts that share no file system.

* concurrent writers are serialised per run with ``SELECT ... FOR UPDATE`` on the run's row,
  and per ledger on the record chain's head row;
* the schema version is the ``schema_version`` row of ``carbonledger_meta``; the schema is
  created under an advisory lock so that many processes may open a new database at once;
* every session sets ``lock_timeout`` and ``statement_timeout`` (``timeout_s``): a locked
  table or a slow server fails the call with :class:`LedgerError` (a tracker then journals)
  instead of stalling it; connecting gives up after ``connect_timeout_s``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from carbonledger.errors import InputError, LedgerError
from carbonledger.ledger.paths import mask_url
from carbonledger.ledger.schema import (
    MARKER,
    SCHEMA_VERSION,
    TABLES,
    initial_meta,
    migration_statements,
)
from carbonledger.ledger.transports.base import Dialect, Tx, refuse_writes

__all__ = ["PostgresTransport"]

#: an arbitrary 63-bit number: the advisory lock taken while creating or migrating the schema
_SCHEMA_LOCK = 0x6C65646765720001


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise InputError(
            "a postgresql:// ledger needs psycopg: pip install carbonledger[postgres]"
        ) from None
    return psycopg


def mask_secret(text: str, url: str) -> str:
    """``text`` with the password of ``url`` masked: the URL itself (as given, and as
    libpq's ``password=...`` pairs write it) and the password wherever it stands as a word of
    its own. A short password is never masked inside other words ("port" stays "port" when
    the password is "p")."""
    import re

    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if url:
        text = text.replace(url, mask_url(url))
    text = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", text)
    if password:
        from urllib.parse import unquote

        for secret in {password, unquote(password)}:
            pattern = r"(?<![\w])" + re.escape(secret) + r"(?![\w])"
            text = re.sub(pattern, "***", text)
    return text


class PostgresTransport:
    """A ledger database in PostgreSQL, given by a ``postgresql://`` URL.

    :param url: libpq connection URL (``postgresql://user:password@host:port/dbname``)
    :param connect_timeout_s: give up connecting after this many seconds (libpq's minimum: 2)
    :param read_only: a read-only session (nothing can be written)
    :param timeout_s: ``lock_timeout`` and ``statement_timeout`` of every session, in s
    """

    dialect: Dialect = "postgres"
    for_update = " FOR UPDATE"

    def __init__(
        self,
        url: str,
        *,
        connect_timeout_s: float = 5.0,
        read_only: bool = False,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.read_only = read_only
        self.lock = threading.RLock()
        self._clock = clock
        self._statement_ms = max(1, int(timeout_s * 1000))
        self._psycopg = _psycopg()
        self._url = url
        self.location = mask_url(url)
        self._connect_s = max(1, round(connect_timeout_s))
        self._pid = os.getpid()
        self._conn: Any = None
        self._conn = self._connect()
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def from_target(
        cls,
        target: str,
        *,
        create: bool,
        read_only: bool,
        timeout_s: float,
        clock: Callable[[], float],
    ) -> PostgresTransport:
        """The transport of a ``postgresql://`` URL (``create`` does not apply: the database
        is made by its administrator; the ledger's tables are made on first open)."""
        return cls(target, read_only=read_only, timeout_s=timeout_s, clock=clock)

    def _connect(self) -> Any:
        psycopg = self._psycopg
        ms = self._statement_ms
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=self._connect_s)
            conn.execute(f"SET lock_timeout = {ms}")
            conn.execute(f"SET statement_timeout = {ms}")
            if self.read_only:
                conn.execute("SET default_transaction_read_only = on")
            return conn
        except psycopg.Error as exc:
            raise LedgerError(
                f"cannot reach the PostgreSQL ledger {self.location} ({self._detail(exc)}); check "
                "that the server is running and reachable from here, and the host, port, "
                "database name, user and password in the URL"
            ) from None

    def _detail(self, exc: Exception) -> str:
        """The driver's message on one line, with the URL's password masked where it
        appears (:func:`mask_secret`)."""
        return mask_secret(" ".join(str(exc).split()), self._url)

    def _prepare(self) -> None:
        psycopg = self._psycopg
        conn = self._conn
        try:
            with conn.transaction():
                cur = conn.cursor()
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                existing = set()
                for table in TABLES:
                    cur.execute("SELECT to_regclass(%s)", (table,))
                    row = cur.fetchone()
                    if row is not None and row[0] is not None:
                        existing.add(table)
                version = 0
                if "carbonledger_meta" in existing:
                    cur.execute(
                        "SELECT key, value FROM carbonledger_meta "
                        "WHERE key IN ('schema', 'schema_version')"
                    )
                    meta = dict(cur.fetchall())
                    if meta.get("schema") != MARKER:
                        raise self._foreign(existing)
                    version = int(meta.get("schema_version", "0"))
                elif existing:
                    raise self._foreign(existing)
                if self.read_only and version < SCHEMA_VERSION:
                    raise LedgerError(
                        f"ledger {self.location} has the schema of an older carbonledger "
                        f"(version {version}); upgrade it once: carbonledger migrate --ledger URL"
                    )
                if version > SCHEMA_VERSION:
                    raise LedgerError(
                        f"ledger {self.location} has schema version {version}, newer than this "
                        f"carbonledger knows ({SCHEMA_VERSION}); upgrade carbonledger "
                        "(pip install -U carbonledger). Nothing was changed."
                    )
                for v in range(version, SCHEMA_VERSION):
                    for statement in migration_statements(v, "postgres"):
                        cur.execute(statement)
                    if v == 0:
                        cur.executemany(
                            "INSERT INTO carbonledger_meta (key, value) VALUES (%s, %s)",
                            [*initial_meta(self._clock()), ("schema_version", "0")],
                        )
                    cur.execute(
                        "UPDATE carbonledger_meta SET value = %s WHERE key = 'schema_version'",
                        (str(v + 1),),
                    )
        except psycopg.Error as exc:
            raise self.error(exc) from None

    def _foreign(self, existing: set[str]) -> LedgerError:
        return LedgerError(
            f"the database {self.location} already has tables named "
            f"{', '.join(sorted(existing))} that carbonledger did not make; nothing was changed. "
            "Use a database of its own (createdb carbonledger), or a schema of its own "
            "(add ?options=-csearch_path%3Dcarbonledger to the URL after CREATE SCHEMA carbonledger)"
        )

    def error(self, exc: Exception) -> LedgerError:
        detail = self._detail(exc)
        fix = ""
        sqlstate = getattr(exc, "sqlstate", None) or ""
        if sqlstate in ("55P03", "57014") or "timeout" in detail:
            fix = (
                f"; the database stayed locked or slow for {self._statement_ms / 1000:g} s: "
                "try again, or raise timeout_s"
            )
        elif sqlstate == "25006":
            fix = "; this session is read-only: open the ledger for writing"
        return LedgerError(f"PostgreSQL ledger {self.location}: {detail}{fix}")

    def connection(self) -> Any:
        if self._conn is None:
            raise LedgerError(f"ledger {self.location} is closed")
        if os.getpid() != self._pid or self._conn.closed:
            self._pid = os.getpid()
            self._conn = self._connect()
        return self._conn

    @contextlib.contextmanager
    def transaction(self, write: bool) -> Iterator[Tx]:
        psycopg = self._psycopg
        refuse_writes(self, write)
        with self.lock:
            conn = self.connection()
            try:
                with conn.transaction():
                    yield Tx(conn.cursor(), "postgres", conn)
            except psycopg.Error as exc:
                raise self.error(exc) from None

    def close(self) -> None:
        with self.lock:
            if self._conn is not None and os.getpid() == self._pid:
                with contextlib.suppress(Exception):
                    self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"PostgresTransport({self.location!r})"
