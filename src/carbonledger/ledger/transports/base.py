"""What a ledger needs of a database: transactions, a dialect, closing.

A transport opens (and creates or upgrades) the database and hands out transactions; the
ledger's concerns (ingest, the chain of records, liveness, queries, verification) are written
once over :class:`Tx` and know nothing of the database behind it.

SQL is written with ``?`` placeholders. For a database whose driver takes ``%s`` (psycopg),
:func:`to_pyformat` converts a statement once (cached): it skips quoted literals, quoted
identifiers and comments, so a ``?`` inside a string literal stays as it is, and refuses a
statement holding ``%`` outside them (the driver would read it as a placeholder).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

__all__ = ["Dialect", "Row", "Transport", "Tx", "refuse_writes", "to_pyformat"]

Dialect = Literal["sqlite", "postgres"]
Row = tuple[Any, ...]


class Transport(Protocol):
    """A database holding a ledger (SQLite, PostgreSQL, in memory)."""

    #: the file path, or the URL without its password
    location: str
    dialect: Dialect
    read_only: bool
    #: serialises this process's use of the connection (the ledger's writes hold it)
    lock: threading.RLock
    #: `` FOR UPDATE`` where the database locks rows on read (PostgreSQL), else ``""``
    for_update: str

    def transaction(self, write: bool) -> AbstractContextManager[Tx]:
        """A transaction (a write one takes the database's write lock at once); committed at
        the end of the block, rolled back when it raises. Database errors become
        :class:`~carbonledger.errors.LedgerError` naming the ledger and the fix."""
        ...

    def close(self) -> None: ...


def refuse_writes(transport: Transport, write: bool) -> None:
    """:class:`LedgerError` for a write transaction on a ledger opened read-only."""
    if write and transport.read_only:
        from carbonledger.errors import LedgerError

        raise LedgerError(
            f"ledger {transport.location} was opened read-only; open it for writing "
            "(open_ledger(..., read_only=False)) to record runs"
        )


@functools.lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """``sql`` with its ``?`` placeholders as ``%s`` (literals, identifiers and comments kept)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == ch:  # a doubled quote
                end = sql.find(ch, end + 2)
            if end == -1:
                raise ValueError(f"unterminated quote in SQL: {sql[:80]!r}")
            out.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end])
            i = end
        elif ch == "?":
            out.append("%s")
            i += 1
        elif ch == "%":
            raise ValueError(f"'%' outside a literal in SQL for psycopg: {sql[:80]!r}")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class Tx:
    """One open transaction: run SQL written with ``?`` placeholders."""

    __slots__ = ("_conn", "_cur", "_pyformat", "dialect")

    def __init__(self, cursor: Any, dialect: Dialect, connection: Any = None) -> None:
        self._cur = cursor
        self._conn = connection
        self.dialect = dialect
        self._pyformat = dialect == "postgres"

    def _sql(self, sql: str) -> str:
        return to_pyformat(sql) if self._pyformat else sql

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; the number of rows it changed."""
        self._cur.execute(self._sql(sql), tuple(params))
        return int(self._cur.rowcount)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cur.execute(self._sql(sql), tuple(params))
        rows = self._cur.fetchall()
        return rows if not rows or type(rows[0]) is tuple else [tuple(r) for r in rows]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self._cur.execute(self._sql(sql), tuple(params))
        row = self._cur.fetchone()
        return None if row is None else tuple(row)

    def many(self, sql: str, seq: Sequence[Sequence[Any]]) -> None:
        if seq:
            self._cur.executemany(self._sql(sql), seq)

    def stream(self, sql: str, params: Sequence[Any] = (), size: int = 2000) -> Iterator[Row]:
        """The rows of a query one at a time, without holding them all in memory (a cursor of
        its own, so several streams may be read side by side)."""
        if self._pyformat and self._conn is not None:
            import os

            name = f"carbonledger_{os.urandom(6).hex()}"
            with self._conn.cursor(name=name) as cur:
                cur.itersize = size
                cur.execute(self._sql(sql), tuple(params))
                for row in cur:
                    yield tuple(row)
            return
        cur = self._conn.cursor() if self._conn is not None else self._cur
        cur.execute(self._sql(sql), tuple(params))
        while True:
            chunk = cur.fetchmany(size)
            if not chunk:
                return
            for row in chunk:
                yield tuple(row)
