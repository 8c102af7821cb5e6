"""Opening the ledger for the report commands: read-only, with a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from carbonledger.cli._common import fail_from
from carbonledger.errors import CarbonLedgerError


@contextmanager
def reading(target: str | None) -> Iterator[Any]:
    """The ledger ``target`` opened read-only (nothing is ever written); exit 2 with the
    library's message when it does not exist."""
    from carbonledger.ledger import open_ledger

    try:
        ledger = open_ledger(target, create=False, read_only=True)
    except CarbonLedgerError as exc:
        fail_from(exc)
    try:
        yield ledger
    finally:
        ledger.close()


def summaries(ledger: Any, runs: list[str]) -> list[Any]:
    """The summaries of ``runs`` (full ids or unique prefixes); exit 2 on an unknown one."""
    try:
        return [ledger.summary(ledger.resolve_run_id(r)) for r in runs]
    except CarbonLedgerError as exc:
        fail_from(exc)
