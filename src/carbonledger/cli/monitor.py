"""``carbonledger monitor``: the whole machine until Ctrl-C (or --duration), optionally
serving Prometheus metrics."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer

from carbonledger.cli._common import (
    CpuWattsOpt,
    LedgerOpt,
    ProgressOpt,
    QuietOpt,
    RamWattsOpt,
    check_interval_option,
    check_tracker_options,
    emit_json,
    fail_from,
    progress_to_stderr,
)
from carbonledger.errors import CarbonLedgerError

if TYPE_CHECKING:
    from carbonledger.models import RunSummary
    from carbonledger.report.prometheus import PrometheusExporter
    from carbonledger.run import Tracker

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the final summary as one JSON line.")]
ProjectOpt = Annotated[str | None, typer.Option("--project", "-p")]
ExperimentOpt = Annotated[str | None, typer.Option("--experiment", "-e")]
IntervalOpt = Annotated[float, typer.Option("--interval", help="Sampling interval in seconds.")]
DurationOpt = Annotated[
    float | None, typer.Option("--duration", help="Stop after this many seconds.")
]
CountryOpt = Annotated[str | None, typer.Option("--country")]
RegionOpt = Annotated[str | None, typer.Option("--region")]
PueOpt = Annotated[float | None, typer.Option("--pue")]
GridOpt = Annotated[float | None, typer.Option("--grid")]
NoLedgerOpt = Annotated[bool, typer.Option("--no-ledger")]
PrometheusPortOpt = Annotated[
    int | None,
    typer.Option("--prometheus-port", help="Serve /metrics on this port (0: any free port)."),
]
PrometheusAddrOpt = Annotated[str, typer.Option("--prometheus-addr")]
PushgatewayOpt = Annotated[
    str | None,
    typer.Option("--pushgateway", help="Push metrics to this Pushgateway URL at every interval."),
]


def _start_exporter(
    tracker: Tracker, prometheus_port: int | None, prometheus_addr: str
) -> PrometheusExporter | None:
    """Serve /metrics when ``--prometheus-port`` was given; None otherwise."""
    if prometheus_port is None:
        return None
    from carbonledger.report.prometheus import PrometheusExporter

    exporter = PrometheusExporter(tracker.summary, port=prometheus_port, addr=prometheus_addr)
    exporter.start()
    typer.echo(f"serving Prometheus metrics at {exporter.url}", err=True)
    return exporter


def _push(pushgateway: str, current: RunSummary, timeout_s: float = 2.0) -> None:
    """Push ``current`` to the Pushgateway within ``timeout_s`` seconds; a failure is a
    warning on stderr, not an exit."""
    from carbonledger.report.prometheus import push_to_gateway

    try:
        push_to_gateway(pushgateway, "carbonledger", current, timeout_s=timeout_s)
    except Exception as exc:
        typer.echo(f"warning: push to {pushgateway} failed: {exc}", err=True)


def _loop(
    tracker: Tracker,
    interval: float,
    duration: float | None,
    pushgateway: str | None,
    quiet: bool,
    exporter: PrometheusExporter | None,
) -> RunSummary:
    """Sample every ``interval`` seconds until Ctrl-C or ``duration`` (one deadline: a slow
    Pushgateway never makes the command run longer); stop the tracker (and the exporter) and
    return the final summary."""
    import time

    from carbonledger.cli._live import LiveStatus, status_line

    stop = threading.Event()
    status = "completed"
    deadline = None if duration is None else time.monotonic() + duration
    live = LiveStatus(tracker.summary, interval)
    previous = None
    try:
        while True:
            wait_s = interval if deadline is None else min(interval, deadline - time.monotonic())
            if wait_s > 0 and stop.wait(wait_s):
                break
            current = tracker.summary()
            left = None if deadline is None else deadline - time.monotonic()
            if pushgateway and (left is None or left > 0):
                _push(pushgateway, current, 2.0 if left is None else min(2.0, left))
            if not quiet and live.enabled:  # elsewhere the tracker logs progress lines
                live.show(status_line(current, previous))
            previous = current
            if deadline is not None and time.monotonic() >= deadline:
                break
    except (KeyboardInterrupt, SystemExit):
        status = "interrupted"
    finally:
        live.stop()
        summary = tracker.stop(status)  # type: ignore[arg-type]
        if exporter is not None:
            exporter.stop()
    return summary


def register(app: typer.Typer) -> None:
    @app.command("monitor")
    def monitor_command(
        json_out: JsonOpt = False,
        project: ProjectOpt = None,
        experiment: ExperimentOpt = None,
        interval: IntervalOpt = 1.0,
        duration: DurationOpt = None,
        country: CountryOpt = None,
        region: RegionOpt = None,
        pue: PueOpt = None,
        grid: GridOpt = None,
        ledger: LedgerOpt = None,
        no_ledger: NoLedgerOpt = False,
        prometheus_port: PrometheusPortOpt = None,
        prometheus_addr: PrometheusAddrOpt = "127.0.0.1",
        pushgateway: PushgatewayOpt = None,
        quiet: QuietOpt = False,
        progress: ProgressOpt = 60.0,
        cpu_watts: CpuWattsOpt = None,
        ram_watts: RamWattsOpt = None,
    ) -> None:
        """Track the whole machine until Ctrl-C or --duration: a live line on a terminal,
        else a progress line every --progress seconds through the log."""
        from carbonledger.report import format_summary
        from carbonledger.run import Tracker

        check_interval_option(interval)
        progress_s = progress_to_stderr(quiet, progress)
        check_tracker_options(
            project=project, experiment=experiment, country=country, region=region, pue=pue,
            grid=grid, cpu_watts=cpu_watts, ram_watts=ram_watts, pushgateway=pushgateway,
            prometheus_port=prometheus_port, prometheus_addr=prometheus_addr,
            duration_s=duration,
        )  # fmt: skip
        if prometheus_port is not None or pushgateway:
            from carbonledger.report.prometheus import require_client

            try:  # before measuring starts: without the package there is nothing to serve
                require_client()
            except CarbonLedgerError as exc:
                fail_from(exc)
        try:
            tracker = Tracker(
                project or "monitor",
                experiment,
                country=country,
                region=region,
                pue=pue,
                grid_g_per_kwh=grid,
                scope="machine",
                interval_s=interval,
                ledger=False if no_ledger else ledger,
                cpu_watts=cpu_watts,
                ram_watts=ram_watts,
                handle_signals=True,
                progress_s=progress_s,
            ).start()
        except CarbonLedgerError as exc:
            fail_from(exc)
        exporter = _start_exporter(tracker, prometheus_port, prometheus_addr)
        summary = _loop(tracker, interval, duration, pushgateway, quiet, exporter)
        typer.echo(format_summary(summary), err=True)
        if json_out:
            emit_json(summary.to_dict())
