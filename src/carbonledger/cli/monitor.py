"""``carbonledger monitor``: the whole machine until Ctrl-C (or --duration), optionally
serving Prometheus metrics."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from carbonledger.cli._common import (
    CpuWattsOpt,
    RamWattsOpt,
    check_interval_option,
    emit_json,
    fail,
    fail_from,
)
from carbonledger.errors import CarbonLedgerError


def register(app: typer.Typer) -> None:
    @app.command("monitor")
    def monitor_command(
        json_out: Annotated[
            bool, typer.Option("--json", help="Print the final summary as one JSON line.")
        ] = False,
        project: Annotated[str | None, typer.Option("--project", "-p")] = None,
        experiment: Annotated[str | None, typer.Option("--experiment", "-e")] = None,
        interval: Annotated[
            float, typer.Option("--interval", help="Sampling interval in seconds.")
        ] = 1.0,
        duration: Annotated[
            float | None, typer.Option("--duration", help="Stop after this many seconds.")
        ] = None,
        country: Annotated[str | None, typer.Option("--country")] = None,
        region: Annotated[str | None, typer.Option("--region")] = None,
        pue: Annotated[float | None, typer.Option("--pue")] = None,
        grid: Annotated[float | None, typer.Option("--grid")] = None,
        ledger: Annotated[str | None, typer.Option("--ledger")] = None,
        no_ledger: Annotated[bool, typer.Option("--no-ledger")] = False,
        prometheus_port: Annotated[
            int | None,
            typer.Option(
                "--prometheus-port", help="Serve /metrics on this port (0: any free port)."
            ),
        ] = None,
        prometheus_addr: Annotated[str, typer.Option("--prometheus-addr")] = "127.0.0.1",
        pushgateway: Annotated[
            str | None,
            typer.Option(
                "--pushgateway", help="Push metrics to this Pushgateway URL at every interval."
            ),
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No periodic lines.")] = False,
        cpu_watts: CpuWattsOpt = None,
        ram_watts: RamWattsOpt = None,
    ) -> None:
        """Track the whole machine until Ctrl-C or --duration."""
        from carbonledger.report import format_energy_j, format_mass_g, format_summary
        from carbonledger.tracker import Tracker

        check_interval_option(interval)
        if duration is not None and not duration > 0:
            fail(f"--duration must be > 0 seconds, got {duration:g}")
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
            ).start()
        except CarbonLedgerError as exc:
            fail_from(exc)
        exporter = None
        if prometheus_port is not None:
            from carbonledger.exporters.prometheus import PrometheusExporter

            exporter = PrometheusExporter(
                tracker.summary, port=prometheus_port, addr=prometheus_addr
            )
            exporter.start()
            typer.echo(f"serving Prometheus metrics at {exporter.url}", err=True)
        from carbonledger.cli._live import LiveStatus, status_line

        stop = threading.Event()
        status = "completed"
        elapsed = 0.0
        live = LiveStatus(tracker.summary, interval)
        previous = None
        try:
            while not stop.wait(interval):
                elapsed += interval
                current = tracker.summary()
                if pushgateway:
                    from carbonledger.exporters.prometheus import push_to_gateway

                    try:
                        push_to_gateway(pushgateway, "carbonledger", current)
                    except Exception as exc:
                        typer.echo(f"warning: push to {pushgateway} failed: {exc}", err=True)
                if not quiet and live.enabled:
                    live.show(status_line(current, previous))
                elif not quiet:
                    typer.echo(
                        f"{current.duration_s:8.1f} s  {format_energy_j(current.energy_j):>11}  "
                        f"{format_mass_g(current.co2e_g)} CO2e",
                        err=True,
                    )
                previous = current
                if duration is not None and elapsed >= duration:
                    break
        except (KeyboardInterrupt, SystemExit):
            status = "interrupted"
        finally:
            live.stop()
            summary = tracker.stop(status)  # type: ignore[arg-type]
            if exporter is not None:
                exporter.stop()
        typer.echo(format_summary(summary), err=True)
        if json_out:
            emit_json(summary.to_dict())
