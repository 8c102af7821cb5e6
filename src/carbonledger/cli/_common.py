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

    class Stderr(logging.StreamHandler):  # type: ignore[type-arg]
        """Whatever sys.stderr is when a line is written (a caller may swap it)."""

        @property
        def stream(self) -> Any:
            return sys.stderr

        @stream.setter
        def stream(self, value: Any) -> None:
            pass

    logger = logging.getLogger("carbonledger")
    if not any(getattr(h, "carbonledger_cli", False) for h in logger.handlers):
        handler = Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.carbonledger_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    on_terminal = sys.stderr.isatty()
    return 0.0 if quiet or on_terminal else float(progress_s)


def check_ledger_option(value: str | None) -> str | None:
    """The callback of every ``--ledger`` option: a file path, ``:memory:`` or a
    ``postgresql://`` URL (:func:`carbonledger.ledger.transports.check_target`); anything else
    is a usage error (one line, exit 2) before the command runs."""
    if value is None:
        return None
    from carbonledger.errors import InputError
    from carbonledger.ledger.transports import check_target

    try:
        return check_target(value, "the ledger")
    except InputError as exc:
        raise typer.BadParameter(str(exc)) from None


#: every command's ``--ledger`` and ``--json``
LedgerOpt = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        "-l",
        help="Ledger file or postgresql:// URL (default: $CARBONLEDGER_LEDGER, else the "
        "per-user ledger).",
        callback=check_ledger_option,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def emit_json(obj: Any) -> None:
    """Print ``obj`` as ONE line of JSON on stdout (the last line a machine reads); a
    non-finite number (a figure nobody computed) is ``null``, never ``NaN``."""
    from carbonledger.report.export import json_safe

    text = json.dumps(json_safe(obj), default=str, sort_keys=False, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def one_line(text: str, limit: int = 2000) -> str:
    """``text`` as ONE printable line: control characters and line separators (what a
    hostile value may carry: newlines, escape sequences, NUL) written as escapes, runs of
    spaces as one, cut to ``limit`` characters."""
    out = []
    for ch in str(text):
        if ch in " \t\n\r":
            out.append(" ")
        elif ch.isprintable():
            out.append(ch)
        else:  # \x1b, \x00, \x85, \u2028...: escaped, never acted on by the terminal
            out.append(ch.encode("unicode_escape").decode("ascii"))
    flat = " ".join("".join(out).split(" "))
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` (on one line) on stderr and exit with ``code`` (2: bad
    input, 1: failure)."""
    typer.echo(f"error: {one_line(message)}", err=True)
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


def check_tracker_options(**options: Any) -> None:
    """Exit 2 (one line naming the option, the value and the range) for a bad option of
    ``run`` or ``monitor``, before anything is measured or waited for. ``options`` are
    keyword arguments named like the flags (``country`` for ``--country``; None: not given):
    the checks are :mod:`carbonledger._inputs`', the same the Python API applies."""
    from carbonledger import _inputs
    from carbonledger.errors import InputError
    from carbonledger.run.settings import BUDGET_ACTIONS, MAX_BUDGET_KG, MAX_EPOCHS

    checks: dict[str, Any] = {
        "project": _inputs.name,
        "experiment": _inputs.name,
        "country": _inputs.text,
        "region": _inputs.text,
        "pue": _inputs.pue,
        "grid": _inputs.intensity_g_per_kwh,
        "cpu_watts": _inputs.watts,
        "ram_watts": _inputs.watts,
        "pushgateway": _inputs.http_url,
        "prometheus_addr": _inputs.text,
    }
    try:
        for key, value in options.items():
            if value is None:
                continue
            flag = "--" + key.replace("_", "-")
            if key in checks:
                checks[key](value, flag)
            elif key == "expected_epochs":
                _inputs.integer(value, flag, low=1, high=MAX_EPOCHS)
            elif key == "budget_kg":
                _inputs.number(value, flag, low=0.0, high=MAX_BUDGET_KG, low_open=True,
                               unit="kg CO2e")  # fmt: skip
            elif key == "on_budget" and value not in BUDGET_ACTIONS:
                raise InputError(f"{flag} must be warn or stop, got {value!r:.60}")
            elif key == "duration_s":
                _inputs.number(value, "--duration", low=0.0, high=_inputs.MAX_DURATION_S,
                               low_open=True, unit="s")  # fmt: skip
            elif key == "prometheus_port":
                _inputs.integer(value, flag, low=0, high=65535)
            elif key == "interval":
                check_interval_option(value)
            elif key == "scope" and value not in ("process", "machine"):
                raise InputError(f"unknown scope {value!r:.60}: {flag} must be process or machine")
    except InputError as exc:
        fail(str(exc))


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
