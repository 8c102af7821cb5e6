"""``carbonledger sync``: replay the local journals of runs whose ledger failed."""

from __future__ import annotations

from typing import Annotated

import typer

from carbonledger.cli._common import JsonOpt, LedgerOpt, emit_json


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync_command(
        ledger: LedgerOpt = None,
        key: Annotated[
            list[str] | None,
            typer.Option(
                "--key",
                help="Also take batches signed by this key (a public key file or a SHA256: "
                "fingerprint); repeat for several. Your own key and your trusted keys are taken "
                "always.",
            ),
        ] = None,
        accept_unsigned: Annotated[
            bool,
            typer.Option(
                "--accept-unsigned",
                help="Record batches made where no key could be used (verify reports them as "
                "unsigned).",
            ),
        ] = False,
        json_out: JsonOpt = False,
    ) -> None:
        """Replay journalled measurements into the ledger (after it failed during a run).

        Every batch is checked before anything is written: a journal holding a batch that was
        edited, forged or signed by a key you do not trust is refused whole and left where it
        is. Journals in use by a running tracker are left alone. Exit 1 when a journal is
        refused or a ledger still fails (the journal is kept; a later sync resumes)."""
        from dataclasses import asdict

        from carbonledger.errors import CarbonLedgerError
        from carbonledger.ledger import open_ledger
        from carbonledger.ledger.keys import load_or_create_signing_key
        from carbonledger.run.journal import (
            IN_USE,
            Replayed,
            journal_dir,
            journal_target,
            pending,
            replay,
            trusted_for_replay,
        )

        try:
            own: str | None = load_or_create_signing_key(create=False).public_hex
        except CarbonLedgerError:
            own = None
        try:
            trusted = trusted_for_replay(own, key or ())
        except CarbonLedgerError as exc:
            from carbonledger.cli._common import fail_from

            fail_from(exc)
        results: list[Replayed] = []
        failed = False
        for path in pending(journal_dir()):
            target = ledger
            try:
                target = target or journal_target(path)
                db = open_ledger(target)
                try:
                    result = replay(path, db, trusted, accept_unsigned=accept_unsigned)
                finally:
                    db.close()
                if result.target != db.location:  # say where it went, not what it named
                    from dataclasses import replace

                    result = replace(result, target=db.location)
            except Exception as exc:
                result = Replayed(path, target or "", 0, False, f"{type(exc).__name__}: {exc}")
            results.append(result)
            failed = failed or not (result.done or result.error == IN_USE)
        if json_out:
            emit_json([{**asdict(r), "calls": r.batches} for r in results])
            raise typer.Exit(1 if failed else 0)
        if not results:
            typer.echo("nothing to sync: no journalled measurements")
        for r in results:
            state = "replayed" if r.done else ("skipped" if r.error == IN_USE else "kept")
            why = f" ({r.error})" if r.error else ""
            typer.echo(f"{r.path}: {state}, {r.batches} batches -> {r.target or '?'}{why}")
        raise typer.Exit(1 if failed else 0)
