"""Transports: the databases a ledger can live in, chosen by the target's scheme.

==========================  ================================================
target                      transport
==========================  ================================================
``postgresql://``, ``postgres://``  :class:`~.postgres.PostgresTransport`
``:memory:``                :class:`~.memory.MemoryTransport`
anything else (a path)      :class:`~.sqlite.SqliteTransport`
==========================  ================================================

A new backend is one module here and one row of :data:`SCHEMES`: a class with what
:class:`~.base.Transport` lists (``transaction``, ``dialect``, ``close``, ``location``,
``read_only``, ``lock``, ``for_update``) and the class method ``from_target(target, *,
create, read_only, timeout_s, clock)`` that :func:`open_transport` calls. Its ``dialect``
is one the ledger's SQL is written for (``sqlite`` or ``postgres``, see
:mod:`carbonledger.ledger.schema`).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from carbonledger.ledger.transports.base import Dialect, Transport, Tx

if TYPE_CHECKING:
    from carbonledger.ledger.transports.memory import MemoryTransport
    from carbonledger.ledger.transports.postgres import PostgresTransport
    from carbonledger.ledger.transports.sqlite import SqliteTransport

__all__ = [
    "SCHEMES",
    "Dialect",
    "MemoryTransport",
    "PostgresTransport",
    "SqliteTransport",
    "Transport",
    "Tx",
    "open_transport",
    "scheme_of",
]

#: scheme -> (module, class); "" is the default (a file path)
SCHEMES: dict[str, tuple[str, str]] = {
    "postgresql": ("carbonledger.ledger.transports.postgres", "PostgresTransport"),
    "postgres": ("carbonledger.ledger.transports.postgres", "PostgresTransport"),
    ":memory:": ("carbonledger.ledger.transports.memory", "MemoryTransport"),
    "": ("carbonledger.ledger.transports.sqlite", "SqliteTransport"),
}


def scheme_of(target: str) -> str:
    """The row of :data:`SCHEMES` for ``target``."""
    if target == ":memory:":
        return ":memory:"
    head, sep, _ = target.partition("://")
    if sep and head.lower() in SCHEMES:
        return head.lower()
    return ""


def open_transport(
    target: str,
    *,
    create: bool = True,
    read_only: bool = False,
    timeout_s: float = 5.0,
    clock: Callable[[], float] = time.time,
) -> Transport:
    """Open the database ``target`` names (see the module's table): the row's class opens
    it with ``from_target``."""
    module, name = SCHEMES[scheme_of(target)]
    cls: Any = getattr(importlib.import_module(module), name)
    transport: Transport = cls.from_target(
        target, create=create, read_only=read_only, timeout_s=timeout_s, clock=clock
    )
    return transport


def __getattr__(name: str) -> Any:
    """The transport classes, each loaded on first use (PostgreSQL's needs psycopg only
    when connecting)."""
    for module, cls in SCHEMES.values():
        if cls == name:
            return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
