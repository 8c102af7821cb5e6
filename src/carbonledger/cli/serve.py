"""``carbonledger serve``: the dashboard (needs ``pip install carbonledger[web]``)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from carbonledger.cli._common import fail, fail_from
from carbonledger.errors import CarbonLedgerError


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_command(
        ledger: Annotated[
            str | None, typer.Option("--ledger", "-l", help="Ledger file or postgresql:// URL.")
        ] = None,
        host: Annotated[
            str, typer.Option("--host", help="Address to bind (loopback unless told otherwise).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8787,
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                help="Required on every request (Authorization: Bearer T, or ?token=T once in "
                "a browser); default $CARBONLEDGER_WEB_TOKEN. Mandatory off loopback.",
            ),
        ] = None,
    ) -> None:
        """Serve the dashboard (read-only) over a SQLite or PostgreSQL ledger; exit 2 at once
        when the ledger cannot be opened (it must exist: record a run first)."""
        from importlib.util import find_spec

        from carbonledger.web import TOKEN_ENV, check_bind

        token = token or os.environ.get(TOKEN_ENV) or None
        try:
            check_bind(host, token)
        except CarbonLedgerError as exc:
            fail_from(exc)
        if not 0 < port < 65536:
            fail(f"--port must be 1..65535, got {port}")
        missing = [m for m in ("fastapi", "uvicorn", "plotly") if find_spec(m) is None]
        if missing:
            fail(f"the dashboard needs {', '.join(missing)}: pip install 'carbonledger[web]'")
        _check_ledger(ledger)
        import uvicorn

        from carbonledger.web import create_app

        where = f"http://{host}:{port}/" + ("?token=..." if token else "")
        typer.echo(f"carbonledger dashboard at {where} (Ctrl-C to stop)", err=True)
        uvicorn.run(create_app(ledger, token=token), host=host, port=port, log_level="warning")


def _check_ledger(target: str | None) -> None:
    """Open ``target`` read-only once, so a missing or unreadable ledger stops ``serve``
    before it listens (exit 2 for a path that is not a ledger, 1 for a ledger that fails),
    instead of a dashboard answering 503 to every request."""
    from carbonledger.ledger import open_ledger

    try:
        open_ledger(target, create=False, read_only=True).close()
    except CarbonLedgerError as exc:
        fail(f"cannot serve this ledger: {exc}", exc.exit_code)
