"""Shared helpers of the command modules: JSON output and error exits."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer

from carbonledger.errors import CarbonLedgerError

#: ``--cpu-watts`` and ``--ram-watts`` of ``run`` and ``monitor``
CpuWattsOpt = Annotated[
    float | None,
    typer.Option(
        "--cpu-watts",
        help="The CPU's full-load power in watts (scaled by utilisation), instead of a model.",
    ),
]
RamWattsOpt = Annotated[
    float | None,
    typer.Option(
        "--ram-watts",
        help="The power of the whole installed memory in watts (constant), instead of a model.",
    ),
]


#: ``--quiet`` and ``--progress`` of ``run`` and ``monitor``
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No live line, no progress lines (warnings only).")
]
ProgressOpt = Annotated[
    float,
    typer.Option(
        "--progress",
        help="When stderr is not a terminal (a CI log, nohup, SLURM), a progress line every so "
        "many seconds (0: none).",
    ),
]


def progress_to_stderr(quiet: bool, progress_s: float) -> float:
    """Send the "carbonledger" logger's lines to stderr (INFO, or WARNING with ``quiet``);
    the seconds between the tracker's progress lines: ``progress_s`` when stderr is not a
    terminal (where the live line is drawn instead) and not quiet, else 0."""
    import logging

    if not (progress_s == 0 or 1 <= progress_s <= 86400):
        fail(f"--progress must be 0 (none) or 1 to 86400 seconds, got {progress_s:g}")
    logger = logging.getLogger("carbonledger")
    if not any(getattr(h, "carbonledger_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.carbonledger_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    on_terminal = sys.stderr.isatty()
    return 0.0 if quiet or on_terminal else float(progress_s)


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


def parse_tags(items: list[str] | None) -> dict[str, str]:
    """``["team=vision", "seed=3"]`` -> ``{"team": "vision", "seed": "3"}`` (exit 2 when an
    item has no '=')."""
    tags: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--tag takes KEY=VALUE, got {item!r}")
        tags[key] = value
    return tags


def check_interval_option(interval_s: float | None) -> None:
    """Exit 2 with the allowed range when ``--interval`` is outside 0.01 s .. 1 day."""
    if interval_s is None:
        return
    from carbonledger.errors import InputError
    from carbonledger.run.settings import check_interval_s

    try:
        check_interval_s(interval_s, "--interval")
    except InputError as exc:
        fail(str(exc))
