"""Transports: the databases a ledger can live in, chosen by the target's scheme.

==========================  ================================================
target                      transport
==========================  ================================================
``postgresql://``, ``postgres://``  :class:`~.postgres.PostgresTransport`
``:memory:``                :class:`~.memory.MemoryTransport`
anything else (a path)      :class:`~.sqlite.SqliteTransport`
==========================  ================================================

A new backend is one module here with a class like those (``transaction``, ``dialect``,
``close``, ``location``, ``read_only``, ``lock``, ``for_update``) and one row of
:data:`SCHEMES`.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from carbonledger.ledger.transports.base import Dialect, Transport, Tx

__all__ = ["SCHEMES", "Dialect", "Transport", "Tx", "open_transport", "scheme_of"]

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
    """Open the database ``target`` names (see the module's table)."""
    scheme = scheme_of(target)
    module, name = SCHEMES[scheme]
    cls: Any = getattr(importlib.import_module(module), name)
    if scheme == ":memory:":
        transport: Transport = cls(clock=clock)
    elif scheme in ("postgresql", "postgres"):
        transport = cls(target, read_only=read_only, timeout_s=timeout_s, clock=clock)
    else:
        transport = cls(
            target, create=create, read_only=read_only, timeout_s=timeout_s, clock=clock
        )
    return transport
