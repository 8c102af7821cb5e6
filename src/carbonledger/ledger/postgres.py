"""A ledger in PostgreSQL (``pip install carbonledger[postgres]``: psycopg 3), for teams
and for runs spread over hosts that share no file system.

The same tables, statuses, leases and seals as the SQLite ledger. Differences:

* concurrent writers are serialised per run with ``SELECT ... FOR UPDATE`` on the run's
  row, and per ledger on the seal chain's head row; leases are taken with
  ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired OR same member``;
* the schema version is the ``schema_version`` row of ``carbonledger_meta``; the schema is
  created under an advisory lock so that many processes may open a new database at once;
* the Ed25519 *private* signing key is stored in the table ``carbonledger_keys`` (there is
  no file beside the ledger). Anyone who can read that table can sign: grant it to the
  accounts that record runs only (``REVOKE ALL ON carbonledger_keys FROM PUBLIC``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from carbonledger.errors import InputError, LedgerError
from carbonledger.ledger.core import SqlLedger, Tx
from carbonledger.ledger.paths import mask_url
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
    public_key_hex,
)

if TYPE_CHECKING:
    from carbonledger.ledger.seal import SigningKey

__all__ = ["PostgresLedger"]

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


class PostgresLedger(SqlLedger):
    """A ledger in a PostgreSQL database given by a ``postgresql://`` URL.

    :param url: libpq connection URL (``postgresql://user:password@host:port/dbname``)
    :param clock: wall clock in Unix seconds
    :param connect_timeout_s: give up connecting after this many seconds
    """

    _for_update = " FOR UPDATE"

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        connect_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(clock)
        self._psycopg = _psycopg()
        self._url = url
        self.location = mask_url(url)
        self._timeout_s = max(1, round(connect_timeout_s))
        self._pid = os.getpid()
        self._conn: Any = None
        self._conn = self._connect()
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> Any:
        psycopg = self._psycopg
        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout_s)
        except psycopg.Error as exc:
            detail = " ".join(str(exc).split())
            password = urlsplit(self._url).password
            if password:
                detail = detail.replace(password, "***")
            raise LedgerError(
                f"cannot reach the PostgreSQL ledger {self.location} ({detail}); check that the "
                "server is running and reachable from here, and the host, port, database name, "
                "user and password in the URL"
            ) from None

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
            raise self._error(exc) from None

    def _foreign(self, existing: set[str]) -> LedgerError:
        return LedgerError(
            f"the database {self.location} already has tables named "
            f"{', '.join(sorted(existing))} that carbonledger did not make; nothing was changed. "
            "Use a database of its own (createdb carbonledger), or a schema of its own "
            "(add ?options=-csearch_path%3Dcarbonledger to the URL after CREATE SCHEMA carbonledger)"
        )

    def _error(self, exc: Exception) -> LedgerError:
        detail = " ".join(str(exc).split())
        return LedgerError(f"PostgreSQL ledger {self.location}: {detail}")

    def _connection(self) -> Any:
        if self._conn is None:
            raise LedgerError(f"ledger {self.location} is closed")
        if os.getpid() != self._pid or self._conn.closed:
            self._pid = os.getpid()
            self._conn = self._connect()
        return self._conn

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[Tx]:
        psycopg = self._psycopg
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    yield Tx(conn.cursor(), paramstyle="pyformat")
            except psycopg.Error as exc:
                raise self._error(exc) from None

    def _private_key(self, tx: Tx, public_hex: str | None) -> SigningKey:
        if public_hex is not None:
            row = tx.one(
                "SELECT private_pem FROM carbonledger_keys WHERE public_key = ?", (public_hex,)
            )
            if row is None:
                raise LedgerError(
                    f"the signing key of ledger {self.location} is missing from table "
                    "carbonledger_keys; restore it from a backup. Sealed runs still verify, new "
                    "ones cannot be sealed"
                )
            return private_key_from_pem(str(row[0]).encode(), "in table carbonledger_keys")
        key = new_private_key()
        tx.run(
            "INSERT INTO carbonledger_keys (public_key, private_pem) VALUES (?, ?)",
            (public_key_hex(key), private_key_to_pem(key).decode()),
        )
        return key

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and os.getpid() == self._pid:
                with contextlib.suppress(Exception):
                    self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"PostgresLedger({self.location!r})"
