"""The dashboard (``carbonledger serve``; needs the ``web`` extra: FastAPI, uvicorn, plotly).

Read-only over a SQLite or PostgreSQL ledger. Bound to loopback unless told otherwise, it
answers only the host names it is bound to; with a token (mandatory off loopback, at least
16 characters of 8 different ones), every request (pages, JSON API, static files) must
carry it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face
from carbonledger.web.security import (
    TOKEN_ENV,
    allowed_hosts,
    check_bind,
    check_token,
    generate_token,
    is_loopback,
)

if TYPE_CHECKING:
    from carbonledger.web.app import create_app

__all__ = [
    "TOKEN_ENV",
    "allowed_hosts",
    "check_bind",
    "check_token",
    "create_app",
    "generate_token",
    "is_loopback",
]


__getattr__, __dir__ = lazy_face(__name__, __all__, {"create_app": "carbonledger.web.app"})
