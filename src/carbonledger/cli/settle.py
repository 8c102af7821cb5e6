"""``carbonledger settle``: record runs whose processes all stopped (the one reading command
that writes: reading commands never do)."""

from __future__ import annotations

from typing import Annotated

import typer

from carbonledger.cli._common import JsonOpt, LedgerOpt, emit_json


def register(app: typer.Typer) -> None:
    @app.command("settle")
    def settle_command(
        run: Annotated[
            str | None, typer.Argument(help="Only this run (an id or a unique prefix).")
        ] = None,
        ledger: LedgerOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Record as interrupted (and seal, with your key) every running run whose processes
        all stopped heart-beating, from what they signed; also upgrades an older ledger.

        A tracker does this when it starts; runs no key vouches for are left alone (verify
        reports them)."""
        from carbonledger.ledger import open_ledger
        from carbonledger.report.text import printable

        led = open_ledger(ledger, create=False)
        try:
            run_id = None if run is None else led.resolve_run_id(run)
            settled = led.settle(run_id)
        finally:
            led.close()
        if json_out:
            emit_json({"ledger": led.location, "settled": settled})
            return
        if not settled:
            typer.echo(f"{printable(led.location)}: no run to settle")
        for rid in settled:
            typer.echo(f"settled {printable(rid)}: interrupted")
