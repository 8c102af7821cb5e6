"""Durable storage of runs: SQLite (default), PostgreSQL or in memory; signed records; exports.

::

    from carbonledger.ledger import open_ledger, verify

    ledger = open_ledger(read_only=True)   # $CARBONLEDGER_LEDGER or the per-user file
    for s in ledger.list_runs(limit=5):
        print(s.run_id, s.status, s.energy_kwh, s.co2e_kg)
    report = verify(ledger, keys=["alice.pub"])   # against a key you trust
    assert report.ok, report.problems
    print(report.head)                     # COUNT:HASH, to publish

See ``docs/ledger.md`` for the schema, statuses, multi-process runs, signing and exports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from carbonledger.errors import InputError
from carbonledger.ledger.base import Ledger, MemberRecord, RunRecord

if TYPE_CHECKING:
    from carbonledger.ledger.chain import Problem, VerifyReport
    from carbonledger.ledger.core import SqlLedger
    from carbonledger.ledger.keys import Signer
    from carbonledger.ledger.memory import MemoryLedger
    from carbonledger.ledger.paths import ENV_VAR, default_ledger_path
    from carbonledger.ledger.postgres import PostgresLedger
    from carbonledger.ledger.sqlite import SqliteLedger

_LAZY = {
    "ENV_VAR": "carbonledger.ledger.paths",
    "default_ledger_path": "carbonledger.ledger.paths",
    "SqlLedger": "carbonledger.ledger.core",
    "SqliteLedger": "carbonledger.ledger.sqlite",
    "MemoryLedger": "carbonledger.ledger.memory",
    "PostgresLedger": "carbonledger.ledger.postgres",
    "Problem": "carbonledger.ledger.chain",
    "VerifyReport": "carbonledger.ledger.chain",
    "Signer": "carbonledger.ledger.keys",
}

__all__ = [
    "ENV_VAR",
    "Ledger",
    "MemberRecord",
    "MemoryLedger",
    "PostgresLedger",
    "Problem",
    "RunRecord",
    "Signer",
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
    read_only: bool = False,
    signing_key: Signer | str | bool | None = None,
    timeout_s: float = 5.0,
    checkpoint_interval_s: float = 5.0,
) -> SqlLedger:
    """Open the ledger named by ``target``.

    ``None`` means ``$CARBONLEDGER_LEDGER``, else the per-user file
    (:func:`default_ledger_path`); ``":memory:"`` a private in-memory ledger
    (:class:`MemoryLedger`). A ``postgresql://`` (or ``postgres://``) URL opens a
    :class:`PostgresLedger` (needs ``pip install carbonledger[postgres]``); anything else is
    a SQLite file, created with its folders when missing (unless ``create=False`` or
    ``read_only=True``).

    :param read_only: open for reading: nothing is ever written (SQLite ``mode=ro``, works on
        read-only media; a PostgreSQL read-only session). What ``runs``/``show``/``export``/
        ``verify`` use.
    :param signing_key: the key records are signed with: a :class:`Signer`, a key file path,
        None for the user's key (``$CARBONLEDGER_SIGNING_KEY``, else
        ``$XDG_CONFIG_HOME/carbonledger/signing_key.pem``, made on first use), False to sign
        nothing. Loaded on the first write that signs.
    :param timeout_s: the longest a write waits for a lock (SQLite) or a statement runs
        (PostgreSQL ``lock_timeout``/``statement_timeout``) before :class:`LedgerError`.
    :param checkpoint_interval_s: a member's samples and windows are signed at least this
        often (seconds), and at its end.
    """
    from carbonledger.ledger.paths import ENV_VAR, default_ledger_file, is_postgres_url

    if target is None:
        target = os.environ.get(ENV_VAR) or default_ledger_file()
    text = os.fspath(target)
    if not text:
        raise InputError("the ledger path is empty; give a file path or a postgresql:// URL")
    if text == ":memory:":
        from carbonledger.ledger.memory import MemoryLedger

        return MemoryLedger(clock=clock)
    if is_postgres_url(text):
        from carbonledger.ledger.postgres import PostgresLedger

        return PostgresLedger(
            text,
            clock=clock,
            read_only=read_only,
            timeout_s=timeout_s,
            signing_key=signing_key,
            checkpoint_interval_s=checkpoint_interval_s,
        )
    from carbonledger.ledger.sqlite import SqliteLedger

    return SqliteLedger(
        text,
        clock=clock,
        create=create,
        read_only=read_only,
        timeout_s=timeout_s,
        signing_key=signing_key,
        checkpoint_interval_s=checkpoint_interval_s,
    )


def verify(
    ledger: SqlLedger | Target | None = None,
    *,
    keys: Iterable[str] | None = None,
    expect_head: str | None = None,
) -> VerifyReport:
    """Check every record of ``ledger`` (an open ledger, a path or URL, or None for the
    default one) against ``keys`` you trust (files of public keys, fingerprints) and the
    trusted-keys file: see :meth:`SqlLedger.verify`. Nothing is written."""
    from carbonledger.ledger.core import SqlLedger

    if isinstance(ledger, SqlLedger):
        return ledger.verify(keys, expect_head=expect_head)
    opened = open_ledger(ledger, create=False, read_only=True)
    try:
        return opened.verify(keys, expect_head=expect_head)
    finally:
        opened.close()


if TYPE_CHECKING:  # every backend implements the protocol the tracker uses (checked by mypy)

    def _conforms(a: SqliteLedger, b: PostgresLedger, c: MemoryLedger) -> tuple[Ledger, ...]:
        return a, b, c


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
