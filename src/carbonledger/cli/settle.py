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

        First the journals this machine holds for the ledger are replayed (the batches a
        killed process had signed but not committed, or an outage left; your own key and
        trusted keys only). A tracker does this when it starts; runs no key vouches for are
        left alone (verify reports them)."""
        from carbonledger.ledger import open_ledger
        from carbonledger.report.text import printable
        from carbonledger.run.journal import IN_USE, replay_pending

        led = open_ledger(ledger, create=False)
        try:
            replayed = replay_pending(led, target=_target(ledger))
            run_id = None if run is None else led.resolve_run_id(run)
            settled = led.settle(run_id)
        finally:
            led.close()
        batches = sum(r.batches for r in replayed)
        kept = [r for r in replayed if not r.done and r.error != IN_USE]
        if json_out:
            emit_json(
                {
                    "ledger": led.location,
                    "settled": settled,
                    "replayed_batches": batches,
                    "journals_kept": [{"path": r.path, "why": r.error} for r in kept],
                }
            )
            return
        if batches:
            typer.echo(f"replayed {batches} journalled batches into {printable(led.location)}")
        for r in kept:
            typer.echo(f"journal {printable(r.path)} kept: {printable(r.error)}", err=True)
        if not settled:
            typer.echo(f"{printable(led.location)}: no run to settle")
        for rid in settled:
            typer.echo(f"settled {printable(rid)}: interrupted")


def _target(ledger: str | None) -> str:
    """The ledger as a tracker names it in its journal (a file by its absolute path)."""
    import os

    from carbonledger.ledger import ENV_VAR, default_ledger_file
    from carbonledger.run.journal import journal_key

    return journal_key(ledger or os.environ.get(ENV_VAR) or default_ledger_file())
