"""The ``carbonledger`` command: a thin layer over the public API.

Each command group lives in its own module with a ``register(app)`` function.
Exit codes: 0 ok, 1 failure, 2 bad input. Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

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
    _reflow_help(app)
    return app


def reflow(text: str | None) -> str | None:
    """A command's help as paragraphs of one line each: the line breaks a docstring has at
    the source's width are joined, so ``--help`` wraps at the terminal's width instead of
    breaking a sentence in the middle; blank lines still separate paragraphs."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _reflow_help(app: typer.Typer) -> None:
    """:func:`reflow` the help of every command and group of ``app`` (docstrings included)."""
    infos: list[Any] = list(app.registered_commands)
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is not None:
            sub.info.help = reflow(sub.info.help)
            infos.extend(sub.registered_commands)
        group.help = reflow(group.help)
    for info in infos:
        info.help = reflow(info.help or inspect.getdoc(info.callback))


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
