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

The public surface is :data:`__all__`: the names below, :mod:`~carbonledger.ledger.keys`
(your signing key, public keys, trusted keys) and :mod:`~carbonledger.ledger.transports`
(the databases, by scheme). Every other module here is internal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face
from carbonledger.models import MemberRecord, RunRecord

if TYPE_CHECKING:
    from carbonledger.events import Signer
    from carbonledger.ledger import keys, transports
    from carbonledger.ledger.chain import Problem, VerifyReport, parse_head
    from carbonledger.ledger.keys import Signer as KeySigner
    from carbonledger.ledger.ledger import Ledger
    from carbonledger.ledger.paths import (
        ENV_VAR,
        default_ledger_file,
        default_ledger_path,
        is_postgres_url,
    )
    from carbonledger.ledger.schema import SCHEMA_VERSION

_LAZY = {
    "parse_head": "carbonledger.ledger.chain",
    "ENV_VAR": "carbonledger.ledger.paths",
    "default_ledger_file": "carbonledger.ledger.paths",
    "default_ledger_path": "carbonledger.ledger.paths",
    "is_postgres_url": "carbonledger.ledger.paths",
    "Ledger": "carbonledger.ledger.ledger",
    "Problem": "carbonledger.ledger.chain",
    "VerifyReport": "carbonledger.ledger.chain",
    "KeySigner": "carbonledger.ledger.keys",
    "SCHEMA_VERSION": "carbonledger.ledger.schema",
}
_SUBMODULES = ("keys", "transports")
#: a name the face gives under another name than its module's
_ALIASES = {"KeySigner": "Signer"}

__all__ = [
    "ENV_VAR",
    "SCHEMA_VERSION",
    "KeySigner",
    "Ledger",
    "MemberRecord",
    "Problem",
    "RunRecord",
    "VerifyReport",
    "default_ledger_file",
    "default_ledger_path",
    "is_postgres_url",
    "keys",
    "open_ledger",
    "parse_head",
    "transports",
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
) -> Ledger:
    """Open the ledger named by ``target``.

    ``None`` means ``$CARBONLEDGER_LEDGER``, else the per-user file
    (:func:`default_ledger_path`); ``":memory:"`` a private in-memory ledger that signs
    nothing. A ``postgresql://`` (or ``postgres://``) URL opens a PostgreSQL ledger (needs
    ``pip install carbonledger[postgres]``); anything else is a SQLite file, created with its
    folders when missing (unless ``create=False`` or ``read_only=True``). The database is
    chosen by scheme from one table (:mod:`carbonledger.ledger.transports`).

    :param read_only: open for reading: nothing is ever written (SQLite ``mode=ro``, works on
        read-only media; a PostgreSQL read-only session). What ``runs``/``show``/``export``/
        ``verify`` use.
    :param signing_key: the key this process signs with (the chain's head, settlements): a
        signer, a key file path, None for the user's key (``$CARBONLEDGER_SIGNING_KEY``, else
        ``$XDG_CONFIG_HOME/carbonledger/signing_key.pem``, made on first use), False to sign
        nothing. Loaded on the first write that signs.
    :param timeout_s: the longest a write waits for a lock (SQLite) or a statement runs
        (PostgreSQL ``lock_timeout``/``statement_timeout``) before :class:`LedgerError`.
    """
    from carbonledger.ledger.ledger import Ledger
    from carbonledger.ledger.paths import ENV_VAR, default_ledger_file
    from carbonledger.ledger.transports import check_target, open_transport

    if target is None:
        env_target = os.environ.get(ENV_VAR)
        text = check_target(env_target, ENV_VAR) if env_target else default_ledger_file()
    else:
        text = check_target(target)
    transport = open_transport(
        text, create=create, read_only=read_only, timeout_s=timeout_s, clock=clock
    )
    key: Signer | str | bool | None = (
        False if text == ":memory:" and signing_key is None else signing_key
    )
    return Ledger(transport, clock=clock, signing_key=key)


def verify(
    ledger: Ledger | Target | None = None,
    *,
    keys: Iterable[str] | None = None,
    expect_head: str | None = None,
) -> VerifyReport:
    """Check every record of ``ledger`` (an open ledger, a path or URL, or None for the
    default one) against ``keys`` you trust (files of public keys, fingerprints) and the
    trusted-keys file: see :meth:`Ledger.verify`. Nothing is written."""
    from carbonledger.ledger.ledger import Ledger

    if isinstance(ledger, Ledger):
        return ledger.verify(keys, expect_head=expect_head)
    opened = open_ledger(ledger, create=False, read_only=True)
    try:
        return opened.verify(keys, expect_head=expect_head)
    finally:
        opened.close()


__getattr__, __dir__ = lazy_face(__name__, __all__, _LAZY, _SUBMODULES, _ALIASES)
