"""An in-memory transport: SQLite over ``:memory:``, private to one object.

The tracker uses it for ``ledger=False`` (nothing written to disk) and a Ray node uses it
to hold what it measured until the driver collects it. Everything is gone when closed.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable

from carbonledger.errors import LedgerError
from carbonledger.ledger.transports.sqlite import SqliteTransport

__all__ = ["MemoryTransport"]


class MemoryTransport(SqliteTransport):
    """A private in-memory database (one per object; a forked child keeps its copy)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(":memory:", clock=clock)
        self.location = ":memory:"

    @classmethod
    def from_target(
        cls,
        target: str,
        *,
        create: bool,
        read_only: bool,
        timeout_s: float,
        clock: Callable[[], float],
    ) -> MemoryTransport:
        """A new private database: ``:memory:`` takes only the clock."""
        return cls(clock=clock)

    @staticmethod
    def _resolve(path: str | os.PathLike[str]) -> str:
        return ":memory:"

    def _uri(self, create: bool) -> str:
        return "file::memory:"

    def _wal(self, conn: sqlite3.Connection) -> None:
        return None  # nothing to journal

    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError("the in-memory ledger is closed")
        return self._conn

    def __repr__(self) -> str:
        return "MemoryTransport()"
