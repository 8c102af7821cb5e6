"""The ``carbonledger`` command: a thin layer over the public API.

Each command group lives in its own module with a ``register(app)`` function.
Exit codes: 0 ok, 1 failure, 2 bad input. Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from carbonledger.errors import CarbonLedgerError

#: command modules, each with ``register(app: typer.Typer) -> None``
COMMAND_MODULES = (
    "run",
    "doctor",
    "intensity",
    "estimate",
    "ledger",
    "keys",
    "settle",
    "migrate",
    "monitor",
    "serving",
    "sync",
    "when",
    "where",
    "report",
    "compare",
    "regions",
    "metric",
    "serve",
    "importer",
)


def _print_version(value: bool) -> None:
    """``--version``: print the package version and exit."""
    if value:
        from carbonledger._version import __version__

        typer.echo(f"carbonledger {__version__}")
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    """Build the Typer application with every command group registered."""
    app = typer.Typer(
        name="carbonledger",
        help="Measure, predict and report the energy and carbon footprint of ML work.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        version: bool = typer.Option(
            False,
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit.",
        ),
    ) -> None:
        """Measure, predict and report the energy and carbon footprint of ML work."""

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"carbonledger.cli.{name}")
        except ModuleNotFoundError as exc:  # a command group not built yet
            if exc.name == f"carbonledger.cli.{name}":
                continue
            raise
        module.register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``carbonledger`` script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("CARBONLEDGER_DEBUG") == "1"
    if "--debug" in args:
        args.remove("--debug")
    app = build_app()
    try:
        app(args=args, prog_name="carbonledger", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CarbonLedgerError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
