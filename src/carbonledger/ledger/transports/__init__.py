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
    "check_target",
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


#: the longest ledger path or URL taken (characters)
MAX_TARGET_CHARS = 4096


def check_target(target: object, what: str = "the ledger") -> str:
    """``target`` as a ledger location: a file path, ``:memory:`` or a URL of a scheme of
    :data:`SCHEMES`. :class:`~carbonledger.errors.InputError` naming ``what`` for an empty
    one, a NUL character, a name too long, or a URL of another database
    (``mysql://...`` is not read as a file path)."""
    import os

    from carbonledger.errors import InputError

    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str):
        raise InputError(
            f"{what} must be a file path or a postgresql:// URL, got "
            f"{type(target).__name__} {target!r:.60}"
        )
    if not target.strip():
        raise InputError(f"{what} is empty; give a file path or a postgresql:// URL")
    if "\x00" in target:
        from carbonledger.ledger.paths import mask_url

        shown = mask_url(target.replace("\x00", "\\0"))
        raise InputError(f"{what} {shown!r:.80} holds a NUL character; give a file path")
    if len(target) > MAX_TARGET_CHARS:
        raise InputError(f"{what} is {len(target)} characters long; at most {MAX_TARGET_CHARS}")
    head, sep, _ = target.partition("://")
    if sep and scheme_of(target) == "" and head.replace("+", "").replace("-", "").isalnum():
        known = ", ".join(f"{s}://" for s in SCHEMES if s not in ("", ":memory:"))
        raise InputError(
            f"{what} {head}://... names a database carbonledger cannot use; give a file path "
            f"(SQLite), {known} or :memory:"
        )
    return target


def open_transport(
    target: str,
    *,
    create: bool = True,
    read_only: bool = False,
    timeout_s: float = 5.0,
    clock: Callable[[], float] = time.time,
) -> Transport:
    """Open the database ``target`` names (see the module's table); :func:`check_target`
    first."""
    scheme = scheme_of(check_target(target))
    module, name = SCHEMES[scheme]
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
