"""``carbonledger migrate``: upgrade a ledger written by an older carbonledger."""

from __future__ import annotations

import typer

from carbonledger.cli._common import JsonOpt, LedgerOpt, emit_json, fail_from
from carbonledger.errors import CarbonLedgerError


def register(app: typer.Typer) -> None:
    @app.command("migrate")
    def migrate_command(
        ledger: LedgerOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Upgrade a ledger to this carbonledger's schema (a writer does it on its own too).

        Nothing of its records changes: runs recorded before keep their signed records and
        verify as they did; new runs are recorded as signed batches of events."""
        from carbonledger.ledger import SCHEMA_VERSION, open_ledger
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
