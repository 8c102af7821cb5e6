"""Shared helpers of the command modules: JSON output and error exits."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer

from carbonledger.errors import CarbonLedgerError


def emit_json(obj: Any) -> None:
    """Print ``obj`` as ONE line of JSON on stdout (the last line a machine reads)."""
    sys.stdout.write(json.dumps(obj, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code`` (2: bad input, 1: failure)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def fail_from(exc: CarbonLedgerError) -> NoReturn:
    """Exit with the message and exit code of a library error."""
    fail(str(exc), exc.exit_code)
