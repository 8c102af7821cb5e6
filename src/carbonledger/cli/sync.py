"""``carbonledger sync``: replay the local journals of runs whose ledger failed."""

from __future__ import annotations

from typing import Annotated

import typer

from carbonledger.cli._common import emit_json


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync_command(
        ledger: Annotated[
            str | None,
            typer.Option(
                "--ledger",
                "-l",
                help="Replay into this ledger (file or postgresql:// URL) instead of the one "
                "each journal names.",
            ),
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Replay journalled measurements into the ledger (after it failed during a run).

        Journals in use by a running tracker are left alone. Exit 1 when a ledger still
        fails (the journal is kept, and a later sync resumes where this one stopped)."""
        from dataclasses import asdict

        from carbonledger.ledger import open_ledger
        from carbonledger.run.journal import (
            IN_USE,
            Replayed,
            journal_target,
            pending,
            replay,
            spool_dir,
        )

        results: list[Replayed] = []
        failed = False
        for path in pending(spool_dir()):
            target = ledger
            try:
                target = target or journal_target(path)
                db = open_ledger(target)
                try:
                    result = replay(path, db)
                finally:
                    db.close()
            except Exception as exc:
                result = Replayed(path, target or "", 0, False, f"{type(exc).__name__}: {exc}")
            results.append(result)
            failed = failed or not (result.done or result.error == IN_USE)
        if json_out:
            emit_json([asdict(r) for r in results])
            raise typer.Exit(1 if failed else 0)
        if not results:
            typer.echo("nothing to sync: no journalled measurements")
        for r in results:
            state = "replayed" if r.done else ("skipped" if r.error == IN_USE else "kept")
            why = f" ({r.error})" if r.error else ""
            typer.echo(f"{r.path}: {state}, {r.calls} writes -> {r.target or '?'}{why}")
        raise typer.Exit(1 if failed else 0)
