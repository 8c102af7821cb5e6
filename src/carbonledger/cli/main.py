"""The ``carbonledger`` command: a thin layer over the public API.

Each command group lives in its own module with a ``register(app)`` function.
Exit codes: 0 ok, 1 failure, 2 bad input. Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import sys
from typing import Any

import typer

from carbonledger.cli._common import one_line
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


def usage_message(exc: Any) -> str:
    """A command-line usage error (an unknown option, a missing argument, a value of the
    wrong type) as one line: what was wrong, a suggestion when there is one, and where the
    help is."""
    if type(exc).__name__ == "NoSuchOption":
        text = f"no such option {exc.option_name}"
        if exc.possibilities:
            text += "; did you mean " + ", ".join(sorted(exc.possibilities)) + "?"
    else:
        text = exc.format_message()
        text = text[:1].lower() + text[1:]
    text = one_line(text).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.command_path:
        text += f" (see '{ctx.command_path} --help')"
    return text


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``carbonledger`` script; returns the exit code.

    Every answer to bad input is ONE line on stderr (``error: ...``) and exit 2: our own
    errors (:class:`~carbonledger.errors.InputError`) and the parser's (an unknown option, a
    missing argument, a value of the wrong type). An error we did not foresee is one line
    too, exit 1, asking for a report; ``--debug`` (or ``CARBONLEDGER_DEBUG=1``) shows the
    traceback instead."""
    import errno

    usage_error, click_error = _click_errors()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("CARBONLEDGER_DEBUG") == "1"
    if "--debug" in args:
        args.remove("--debug")
    try:
        code = _command().main(args=args, prog_name="carbonledger", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except usage_error as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as click does
            exc.show()
            return int(exc.exit_code)
        if debug:
            raise
        typer.echo(f"error: {usage_message(exc)}", err=True)
        return int(exc.exit_code)
    except click_error as exc:
        if debug:
            raise
        typer.echo(f"error: {one_line(exc.format_message())}", err=True)
        return int(exc.exit_code)
    except CarbonLedgerError as exc:
        if debug:
            raise
        typer.echo(f"error: {one_line(str(exc), 2000)}", err=True)
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:  # the reader went away (carbonledger runs | head)
        _quiet_stdout()
        return 1
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
            _quiet_stdout()
            return 1
        typer.echo(
            f"error: internal error ({type(exc).__name__}: {one_line(str(exc), 300)}); "
            "this is a bug in carbonledger: please report it with the output of the same "
            "command run with --debug",
            err=True,
        )
        return 1


@functools.cache
def _command() -> Any:
    """The click command of the application, built once per process (building it is most
    of the time a short command takes)."""
    from typer.main import get_command

    return get_command(build_app())


def _click_errors() -> tuple[type[Any], type[Any]]:
    """The parser's ``UsageError`` and ``ClickException`` classes (typer's click, vendored or
    not: found from ``typer.BadParameter``, the one typer exports)."""
    classes = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return classes["UsageError"], classes["ClickException"]


def _quiet_stdout() -> None:
    """After a broken pipe: send what is left of stdout nowhere (no second error at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
