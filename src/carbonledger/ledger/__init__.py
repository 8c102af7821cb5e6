"""Durable storage of runs: SQLite (default) or PostgreSQL, sealed records, exports.

::

    from carbonledger.ledger import open_ledger, verify

    ledger = open_ledger()                 # $CARBONLEDGER_LEDGER or the per-user file
    for s in ledger.list_runs(limit=5):
        print(s.run_id, s.status, s.energy_kwh, s.co2e_kg)
    report = verify(ledger)                # every sealed record checked
    assert report.ok, report.problems

See ``docs/ledger.md`` for the schema, statuses, multi-process runs, sealing and exports.
"""

from __future__ import annotations

import os
import time

from carbonledger.errors import InputError
from carbonledger.ledger.base import Ledger, MemberRecord, RunRecord

# The backends (sqlite3, hashing, sealing) load on first use, so that importing the
# protocol (as the tracker does) stays cheap.
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from collections.abc import Callable

    from carbonledger.ledger.core import SqlLedger
    from carbonledger.ledger.paths import ENV_VAR, default_ledger_path
    from carbonledger.ledger.postgres import PostgresLedger
    from carbonledger.ledger.seal import Problem, VerifyReport
    from carbonledger.ledger.sqlite import SqliteLedger

_LAZY = {
    "ENV_VAR": "carbonledger.ledger.paths",
    "default_ledger_path": "carbonledger.ledger.paths",
    "SqlLedger": "carbonledger.ledger.core",
    "SqliteLedger": "carbonledger.ledger.sqlite",
    "PostgresLedger": "carbonledger.ledger.postgres",
    "Problem": "carbonledger.ledger.seal",
    "VerifyReport": "carbonledger.ledger.seal",
}

__all__ = [
    "ENV_VAR",
    "Ledger",
    "MemberRecord",
    "PostgresLedger",
    "Problem",
    "RunRecord",
    "SqlLedger",
    "SqliteLedger",
    "VerifyReport",
    "default_ledger_path",
    "open_ledger",
    "verify",
]

Target = str | os.PathLike[str]


def open_ledger(
    target: Target | None = None,
    *,
    clock: Callable[[], float] = time.time,
    create: bool = True,
) -> SqlLedger:
    """Open the ledger named by ``target``.

    ``None`` means ``$CARBONLEDGER_LEDGER``, else the per-user file
    (:func:`default_ledger_path`). A ``postgresql://`` (or ``postgres://``) URL opens a
    :class:`PostgresLedger` (needs ``pip install carbonledger[postgres]``); anything else is
    a SQLite file, created with its folders when missing (unless ``create=False``).
    """
    from carbonledger.ledger.paths import ENV_VAR, default_ledger_file, is_postgres_url

    if target is None:
        target = os.environ.get(ENV_VAR) or default_ledger_file()
    text = os.fspath(target)
    if not text:
        raise InputError("the ledger path is empty; give a file path or a postgresql:// URL")
    if is_postgres_url(text):
        from carbonledger.ledger.postgres import PostgresLedger

        return PostgresLedger(text, clock=clock)
    from carbonledger.ledger.sqlite import SqliteLedger

    return SqliteLedger(text, clock=clock, create=create)


def verify(ledger: SqlLedger | Target | None = None) -> VerifyReport:
    """Check every sealed record of ``ledger`` (an open ledger, a path or URL, or None for
    the default one): see :class:`VerifyReport`. Nothing is written."""
    from carbonledger.ledger.core import SqlLedger

    if isinstance(ledger, SqlLedger):
        return ledger.verify()
    opened = open_ledger(ledger, create=False)
    try:
        return opened.verify()
    finally:
        opened.close()


if TYPE_CHECKING:  # both backends implement the protocol the tracker uses (checked by mypy)

    def _conforms(a: SqliteLedger, b: PostgresLedger) -> tuple[Ledger, Ledger]:
        return a, b


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    __import__(module)
    import sys

    return getattr(sys.modules[module], name)
