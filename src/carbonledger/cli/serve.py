"""``carbonledger serve``: the dashboard (needs ``pip install carbonledger[web]``)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from carbonledger.cli._common import LedgerOpt, fail, fail_from
from carbonledger.errors import CarbonLedgerError


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_command(
        ledger: LedgerOpt = None,
        host: Annotated[
            str, typer.Option("--host", help="Address to bind (loopback unless told otherwise).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8787,
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                help="Required on every request (Authorization: Bearer T, or ?token=T once in "
                "a browser); default $CARBONLEDGER_WEB_TOKEN; at least 16 characters of 8 "
                "different ones. Off loopback without one, a token is generated and printed.",
            ),
        ] = None,
        allow_host: Annotated[
            list[str] | None,
            typer.Option(
                "--allow-host",
                help="Also answer requests for this host name (a DNS name of this machine, "
                "a proxy's name); others get 400. Repeatable.",
            ),
        ] = None,
    ) -> None:
        """Serve the dashboard (read-only) over a SQLite or PostgreSQL ledger; exit 2 at once
        when the ledger cannot be opened (it must exist: record a run first).

        Requests are answered only for the names the server is bound to (loopback: 127.0.0.1
        and localhost) and those given with --allow-host."""
        from importlib.util import find_spec

        from carbonledger.web import (
            TOKEN_ENV,
            allowed_hosts,
            check_bind,
            generate_token,
            is_loopback,
        )

        token = token or os.environ.get(TOKEN_ENV) or None
        generated = token is None and not is_loopback(host)
        if generated:
            token = generate_token()
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

        shown = f"[{host}]" if ":" in host else host
        where = f"http://{shown}:{port}/"
        if generated:
            typer.echo(
                f"carbonledger dashboard at {where} (Ctrl-C to stop); generated token (give "
                f"it as --token or {TOKEN_ENV} to keep it): {token}\n"
                f"open once in a browser: {where}?token={token}",
                err=True,
            )
        else:
            suffix = "?token=..." if token else ""
            typer.echo(f"carbonledger dashboard at {where}{suffix} (Ctrl-C to stop)", err=True)
        hosts = allowed_hosts(host, allow_host or [])
        app = create_app(ledger, token=token, allowed_hosts=hosts)
        uvicorn.run(app, host=host, port=port, log_level="warning")


def _check_ledger(target: str | None) -> None:
    """Open ``target`` read-only once, so a missing or unreadable ledger stops ``serve``
    before it listens (exit 2 for a path that is not a ledger, 1 for a ledger that fails),
    instead of a dashboard answering 503 to every request."""
    from carbonledger.ledger import open_ledger

    try:
        open_ledger(target, create=False, read_only=True).close()
    except CarbonLedgerError as exc:
        fail(f"cannot serve this ledger: {exc}", exc.exit_code)
