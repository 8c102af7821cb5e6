"""``carbonledger migrate``: upgrade a ledger written by an older carbonledger."""

from __future__ import annotations

from typing import Annotated

import typer

from carbonledger.cli._common import check_ledger_option, emit_json, fail_from
from carbonledger.errors import CarbonLedgerError


def register(app: typer.Typer) -> None:
    @app.command("migrate")
    def migrate_command(
        ledger: Annotated[
            str | None,
            typer.Option(
                "--ledger",
                "-l",
                help="Ledger file or postgresql:// URL (default: $CARBONLEDGER_LEDGER, else "
                "the per-user ledger).",
                callback=check_ledger_option,
            ),
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Upgrade a ledger to this carbonledger's schema (a writer does it on its own too).

        Nothing of its records changes: runs recorded before keep their signed records and
        verify as they did; new runs are recorded as signed batches of events."""
        from carbonledger.ledger import open_ledger
        from carbonledger.ledger.schema import SCHEMA_VERSION
        from carbonledger.report.text import printable

        try:
            led = open_ledger(ledger, create=False)
            led.close()
        except CarbonLedgerError as exc:
            fail_from(exc)
        if json_out:
            emit_json({"ledger": led.location, "schema": SCHEMA_VERSION})
            return
        typer.echo(f"{printable(led.location)}: schema version {SCHEMA_VERSION}")
