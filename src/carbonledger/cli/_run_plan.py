"""What ``carbonledger run`` does before and around the command for the reduce options:
``--start-within`` (wait for the lowest-CO2e start) and ``--budget-kg`` (check the budget
while the command runs). The planning itself is :mod:`carbonledger.reduce.scheduling`;
saying why and asking what to do on Ctrl-C happen here."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from carbonledger.cli._common import fail
from carbonledger.errors import CarbonLedgerError

if TYPE_CHECKING:
    from carbonledger.models import RunSummary
    from carbonledger.run import Tracker

__all__ = [
    "BUDGET_CHECK_S",
    "STOP_GRACE_S",
    "ask_start_or_quit",
    "expected_job",
    "realised",
    "start_when_planned",
    "wait_with_budget",
]

#: the most seconds between two budget checks while the command runs (five sampling
#: intervals, at least 1 s)
BUDGET_CHECK_S = 10.0
#: seconds a command stopped by the budget has to end after SIGINT before it gets SIGTERM
STOP_GRACE_S = 5.0


def expected_job(duration: str | None, estimate: Path | None) -> tuple[float | None, float | None]:
    """The job's expected length (s) and IT energy (kWh), from --duration / --estimate."""
    from carbonledger.reduce.scheduling import job_from_estimate, parse_duration_s

    expected_s = energy_kwh = None
    try:
        if estimate is not None:
            expected_s, energy_kwh = job_from_estimate(str(estimate))
        if duration is not None:
            expected_s = parse_duration_s(duration, "--duration")
    except CarbonLedgerError as exc:
        fail(str(exc), exc.exit_code)
    return expected_s, energy_kwh


def start_when_planned(
    start_within: str,
    place: str | None,
    expected_s: float | None,
    energy_kwh: float | None,
    forecast: Path | None,
) -> dict[str, Any]:
    """Plan the start, say when and why, wait for it (Ctrl-C: start now or quit; quitting
    exits 130). Returns the scheduling record kept in the run's metadata."""
    from carbonledger.reduce.scheduling import parse_duration_s, plan_for_place, wait_for_start

    if expected_s is None:
        fail("--start-within needs --duration or --estimate (the job's length)")
    try:
        plan = plan_for_place(
            place,
            parse_duration_s(start_within, "--start-within", allow_zero=True),
            expected_s,
            energy_kwh=energy_kwh,
            forecast_file=str(forecast) if forecast else None,
        )
    except CarbonLedgerError as exc:
        fail(str(exc), exc.exit_code)
    _say(plan.explain())
    started, record = wait_for_start(plan, choose=ask_start_or_quit)
    if started is None:
        _say("not started (quit while waiting)")
        raise typer.Exit(130)
    return record


def _say(message: str) -> None:
    """A line on stderr, so that the command's own output stays apart."""
    typer.echo(f"carbonledger: {message}", err=True)


def ask_start_or_quit() -> str:
    """Ask on the terminal, after a Ctrl-C while waiting, whether to start now or quit:
    ``"now"`` or ``"quit"`` (quit on a second Ctrl-C or end of input)."""
    try:
        answer = input("\nstart now [s] or quit [q]? ").strip().lower()
    except (KeyboardInterrupt, EOFError):
        return "quit"
    return "now" if answer in ("s", "start", "now", "y", "yes", "") else "quit"


def wait_with_budget(
    child: subprocess.Popen[bytes],
    tracker: Tracker,
    budget_kg: float | None,
    expected_s: float | None,
    received: list[int],
    *,
    sigint_ignored: bool = False,
) -> int:
    """The command's exit code; with a budget, checked at every sampling interval (at most
    :data:`BUDGET_CHECK_S` apart) while it runs: exceeded with ``--on-budget stop``, the
    command gets SIGINT (recorded as interrupted, reason "budget"), and SIGTERM when it is
    still running :data:`STOP_GRACE_S` later (it ignores SIGINT, or is slow to end). Started
    with SIGINT ignored (``sigint_ignored``: a script's background job, ``cmd &``), the
    command inherited that, and gets SIGTERM at once."""
    period_s = min(BUDGET_CHECK_S, max(0.05, tracker.interval_s))
    returncode: int | None = None
    stop_at: float | None = None  # when the stop signal went out (monotonic s)
    while returncode is None:
        try:
            returncode = child.wait(timeout=None if budget_kg is None else period_s)
        except subprocess.TimeoutExpired:
            if stop_at is not None:  # stopped: SIGTERM once the grace period is over
                if time.monotonic() - stop_at >= STOP_GRACE_S:
                    _signal(child, signal.SIGTERM)
                    returncode = child.wait()
                continue
            hit = tracker.check_budget(expected_s)
            if hit is not None and hit.action == "stop":
                first = signal.SIGTERM if sigint_ignored else signal.SIGINT
                received.append(first)
                _signal(child, first)
                stop_at = time.monotonic()
    return returncode


def _signal(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        child.send_signal(signum)


def realised(record: dict[str, Any], summary: RunSummary) -> dict[str, Any]:
    """``record`` with the saving the chosen start realised (from the provider's actual
    hourly figures for the hours the job ran; bounded, and says so when unknown)."""
    from carbonledger.carbon.providers import forecast_provider
    from carbonledger.reduce.scheduling import realised_saving

    zone = record.get("zone") or ""
    try:
        provider = forecast_provider(zone)[0] if zone else None
        outcome = realised_saving(
            record,
            provider,
            started_unix_s=summary.started_unix_s,
            duration_s=summary.duration_s,
            energy_kwh=summary.energy_kwh,
            pue=summary.pue,
        )
    except Exception as exc:  # the run is done: a missing figure must not fail it
        outcome = {"method": f"not computed: {type(exc).__name__}: {exc}"}
    return {**record, "realised": outcome}
