"""An in-memory ledger: the SQLite ledger over ``:memory:``, signing nothing.

The tracker uses it for ``ledger=False``: the same code path as a real ledger (runs,
members, samples, windows, summaries), nothing written to disk, no signing key needed or
made. Everything is gone when it is closed.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable

from carbonledger.ledger.sqlite import SqliteLedger

__all__ = ["MemoryLedger"]


class MemoryLedger(SqliteLedger):
    """A private in-memory ledger (one per object)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(":memory:", clock=clock, signing_key=False)

    @staticmethod
    def _resolve(path: str | os.PathLike[str]) -> str:
        return ":memory:"

    def _uri(self, create: bool) -> str:
        return "file::memory:"

    def _journal(self, conn: sqlite3.Connection) -> None:
        return None  # nothing to journal

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            from carbonledger.errors import LedgerError

            raise LedgerError("the in-memory ledger is closed")
        return self._conn  # a forked child keeps its copy

    def __repr__(self) -> str:
        return "MemoryLedger()"
