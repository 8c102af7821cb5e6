"""Where the ledger lives: the default per-user file, and how a target names a backend."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from carbonledger._dirs import data_dir

if TYPE_CHECKING:
    import pathlib
    from collections.abc import Mapping


__all__ = ["ENV_VAR", "default_ledger_file", "default_ledger_path", "is_postgres_url", "mask_url"]

#: environment variable naming the ledger (a file path or a PostgreSQL URL)
ENV_VAR = "CARBONLEDGER_LEDGER"


def default_ledger_file(env: Mapping[str, str] | None = None) -> str:
    """The per-user ledger file: ``$XDG_DATA_HOME/carbonledger/ledger.sqlite``
    (``~/.local/share`` when ``XDG_DATA_HOME`` is unset). Nothing is created here."""
    return os.path.join(data_dir(env), "ledger.sqlite")


def default_ledger_path(env: Mapping[str, str] | None = None) -> pathlib.Path:
    """:func:`default_ledger_file` as a :class:`pathlib.Path`."""
    import pathlib

    return pathlib.Path(default_ledger_file(env))


def is_postgres_url(target: str) -> bool:
    """True for ``postgresql://...`` and ``postgres://...`` URLs."""
    return target.startswith(("postgresql://", "postgres://"))


def mask_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for messages and ``location``."""
    import re
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query)
    if parts.password is None:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{user}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
