"""``carbonledger run -- CMD ARGS...``: track any command's process tree."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from carbonledger.cli._common import (
    CpuWattsOpt,
    ProgressOpt,
    QuietOpt,
    RamWattsOpt,
    check_interval_option,
    check_ledger_option,
    check_tracker_options,
    emit_json,
    fail,
    one_line,
    parse_tags,
    progress_to_stderr,
)
from carbonledger.cli._run_plan import (
    expected_job,
    realised,
    start_when_planned,
    wait_with_budget,
)

if TYPE_CHECKING:
    from carbonledger.models import RunSummary
    from carbonledger.run import Tracker

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

JsonOut = Annotated[
    bool, typer.Option("--json", help="Print the summary as ONE JSON line last on stdout.")
]
Interval = Annotated[float | None, typer.Option("--interval", help="Sampling interval in seconds.")]
Region = Annotated[
    str | None,
    typer.Option("--region", help="Sub-national zone or cloud region, e.g. US-CA, aws:eu-west-3."),
]
Scope = Annotated[str, typer.Option("--scope", help="process (the command's tree) or machine.")]
Grid = Annotated[float | None, typer.Option("--grid", help="Grid intensity in gCO2e/kWh.")]
LedgerTarget = Annotated[
    str | None,
    typer.Option(
        "--ledger", help="SQLite path or postgresql:// URL.", callback=check_ledger_option
    ),
]
NoLedger = Annotated[bool, typer.Option("--no-ledger", help="Do not record the run.")]
Tags = Annotated[
    list[str] | None,
    typer.Option("--tag", "-t", help="KEY=VALUE kept with the run (repeatable)."),
]
StartWithin = Annotated[
    str | None,
    typer.Option("--start-within", help="Start at the lowest-CO2e time within this long (12h)."),
]
Duration = Annotated[
    str | None,
    typer.Option(
        "--duration", help="The job's expected length (6h, 90m), for --start-within/--budget-kg."
    ),
]
Estimate = Annotated[
    Path | None, typer.Option("--estimate", help="Prediction spec: the job's length and energy.")
]
Forecast = Annotated[
    Path | None,
    typer.Option("--forecast", help="CSV/JSON hourly forecast (timestamp, intensity_g_per_kwh)."),
]
BudgetKg = Annotated[float | None, typer.Option("--budget-kg", help="Carbon budget in kg CO2e.")]
OnBudget = Annotated[
    str,
    typer.Option(
        "--on-budget",
        help="warn, or stop (SIGINT to the command; SIGTERM 5 s later if it still runs).",
    ),
]
Wue = Annotated[
    float | None,
    typer.Option(
        "--wue", help="The data centre's water usage effectiveness, L per kWh of IT energy."
    ),
]
PricePerKwh = Annotated[
    float | None,
    typer.Option("--price-per-kwh", help="The electricity's price per kWh (see --currency)."),
]
Currency = Annotated[
    str | None, typer.Option("--currency", help="ISO 4217 code of --price-per-kwh (EUR, USD...).")
]


def _resource_env(
    wue: float | None, price_per_kwh: float | None, currency: str | None
) -> dict[str, str] | None:
    """The tracker's environment with the water and price settings given as options (they
    take the environment's place, as arguments do); None when none is given."""
    given = {"WUE_L_PER_KWH": wue, "PRICE_PER_KWH": price_per_kwh, "CURRENCY": currency}
    if all(v is None for v in given.values()):
        return None
    env = dict(os.environ)
    env.update({f"CARBONLEDGER_{k}": str(v) for k, v in given.items() if v is not None})
    return env


def register(app: typer.Typer) -> None:
    @app.command(
        "run",
        # the options before the command are ours (an unknown one is an error with a
        # suggestion); everything from the command's name on is the command's
        context_settings={"allow_extra_args": True, "allow_interspersed_args": False},
    )
    def run_command(
        ctx: typer.Context,
        json_out: JsonOut = False,
        project: Annotated[str | None, typer.Option("--project", "-p")] = None,
        experiment: Annotated[str | None, typer.Option("--experiment", "-e")] = None,
        interval: Interval = None,
        country: Annotated[str | None, typer.Option("--country")] = None,
        region: Region = None,
        scope: Scope = "process",
        pue: Annotated[float | None, typer.Option("--pue")] = None,
        grid: Grid = None,
        ledger: LedgerTarget = None,
        no_ledger: NoLedger = False,
        expected_epochs: Annotated[int | None, typer.Option("--expected-epochs")] = None,
        cpu_watts: CpuWattsOpt = None,
        ram_watts: RamWattsOpt = None,
        tag: Tags = None,
        start_within: StartWithin = None,
        duration: Duration = None,
        estimate: Estimate = None,
        forecast: Forecast = None,
        budget_kg: BudgetKg = None,
        on_budget: OnBudget = "warn",
        quiet: QuietOpt = False,
        progress: ProgressOpt = 60.0,
        wue: Wue = None,
        price_per_kwh: PricePerKwh = None,
        currency: Currency = None,
    ) -> None:
        """Run CMD, track its process tree, and exit with CMD's exit code: a live line on a
        terminal, else a progress line every --progress seconds through the log."""
        check_tracker_options(
            project=project, experiment=experiment, interval=interval, country=country,
            region=region, scope=scope, pue=pue, grid=grid, expected_epochs=expected_epochs,
            cpu_watts=cpu_watts, ram_watts=ram_watts, budget_kg=budget_kg, on_budget=on_budget,
        )  # fmt: skip
        if forecast is not None and start_within is None:
            fail("--forecast is the forecast for --start-within; give --start-within too")
        cmd = _command(ctx, scope, interval)
        progress_s = progress_to_stderr(quiet, progress)
        tags = parse_tags(tag)
        expected_s, energy_kwh = expected_job(duration, estimate)
        schedule = None
        if start_within is not None:
            schedule = start_when_planned(
                start_within, region or country, expected_s, energy_kwh, forecast
            )
        # Track from before the child exists, rooted at this process: the command's whole
        # tree is counted from its birth (plus carbonledger's own small sampler).
        tracker = _start_tracker(
            project, experiment, country=country, region=region, scope=scope,
            interval_s=interval, pue=pue, grid_g_per_kwh=grid,
            ledger=False if no_ledger else ledger, expected_epochs=expected_epochs,
            cpu_watts=cpu_watts, ram_watts=ram_watts, tags=tags, budget_kg=budget_kg,
            on_budget=on_budget, handle_signals=False, command=cmd, progress_s=progress_s,
            env=_resource_env(wue, price_per_kwh, currency),
        )  # fmt: skip
        returncode, summary = _supervise(cmd, tracker, budget_kg, expected_s, schedule, quiet)
        _finish(cmd, returncode, summary, json_out)


def _command(ctx: typer.Context, scope: str, interval_s: float | None) -> list[str]:
    """The command to run, checked (exit 2 on bad options, 127/126 as a shell does)."""
    cmd = list(ctx.args)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        fail("no command given; usage: carbonledger run [OPTIONS] -- CMD [ARGS...]")
    if scope not in ("process", "machine"):
        fail(f"unknown scope {scope!r}; use --scope process or --scope machine")
    check_interval_option(interval_s)
    exe = cmd[0]
    found = shutil.which(exe) if os.sep not in exe else (exe if os.path.exists(exe) else None)
    if found is None:
        typer.echo(f"carbonledger: command not found: {one_line(exe)}", err=True)
        raise typer.Exit(127)
    if os.sep in exe and not os.access(exe, os.X_OK):
        typer.echo(f"carbonledger: permission denied: {one_line(exe)}", err=True)
        raise typer.Exit(126)
    return cmd


def _start_tracker(*args: Any, **options: Any) -> Tracker:
    from carbonledger.errors import CarbonLedgerError
    from carbonledger.run import Tracker

    try:
        return Tracker(*args, **options).start()
    except CarbonLedgerError as exc:
        fail(str(exc), exc.exit_code)


def _supervise(
    cmd: list[str],
    tracker: Tracker,
    budget_kg: float | None,
    expected_s: float | None,
    schedule: dict[str, Any] | None,
    quiet: bool = False,
) -> tuple[int, RunSummary]:
    """Run the command under the tracker, forwarding signals, with the live status line;
    the command's exit code and the run's summary."""
    try:
        child = subprocess.Popen(cmd)
    except OSError as exc:
        tracker.stop("failed")
        typer.echo(f"carbonledger: cannot run {cmd[0]}: {exc.strerror}", err=True)
        raise typer.Exit(126) from None
    received: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    from carbonledger.cli._live import LiveStatus

    previous = {s: signal.signal(s, forward) for s in SIGNALS}
    # inherited ignored (a script's background job): the command ignores SIGINT as well
    sigint_ignored = previous.get(signal.SIGINT) is signal.SIG_IGN
    live = LiveStatus(tracker.summary, tracker.interval_s)
    if not quiet:
        live.start()
    try:
        returncode = wait_with_budget(
            child, tracker, budget_kg, expected_s, received, sigint_ignored=sigint_ignored
        )
        live.stop()
        if schedule is not None:  # the choice, and the saving it realised
            tracker.update_meta({"schedule": realised(schedule, tracker.summary())})
        status = "interrupted" if received else ("completed" if returncode == 0 else "failed")
        summary = tracker.stop(status)  # type: ignore[arg-type]
    finally:
        live.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return returncode, summary


def _finish(cmd: list[str], returncode: int, summary: RunSummary, json_out: bool) -> NoReturn:
    """Print the summary (stderr; JSON last on stdout) and exit with the command's code."""
    from carbonledger.report import format_summary

    typer.echo(format_summary(summary), err=True)
    if json_out:
        data = summary.to_dict()
        data["exit_code"] = returncode
        data["command"] = cmd
        emit_json(data)
    code = returncode if returncode >= 0 else 128 - returncode
    sys.stdout.flush()
    raise typer.Exit(code)
