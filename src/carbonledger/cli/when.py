"""``carbonledger when``: the start in a window with the lowest expected CO2e for a job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carbonledger.cli._common import emit_json, fail, fail_from
from carbonledger.cli.where import EstimateOpt, KwhOpt
from carbonledger.errors import CarbonLedgerError


def register(app: typer.Typer) -> None:
    @app.command("when")
    def when_command(
        duration: Annotated[
            str, typer.Option("--duration", help="The job's length: 6h, 90m, 1.5d, 3600s.")
        ],
        within: Annotated[
            str, typer.Option("--within", help="Start at most this long from now.")
        ] = "24h",
        zone: Annotated[
            str | None, typer.Option("--zone", help="Grid zone: GB, FR, DE, US-CAL-CISO...")
        ] = None,
        region: Annotated[
            str | None, typer.Option("--region", help="Cloud region: aws:eu-west-2...")
        ] = None,
        forecast: Annotated[
            Path | None,
            typer.Option(
                "--forecast", help="CSV/JSON rows of timestamp, intensity_g_per_kwh (ISO 8601)."
            ),
        ] = None,
        kwh: KwhOpt = None,
        estimate: EstimateOpt = None,
        timeout: Annotated[
            float, typer.Option("--timeout", help="Seconds for the whole forecast call.")
        ] = 3.0,
        json_out: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
    ) -> None:
        """The start with the lowest expected CO2e over the job's hours, vs starting now."""
        from carbonledger import _inputs
        from carbonledger.cli.where import job_energy_kwh
        from carbonledger.reduce.scheduling import parse_duration_s, plan_for_place

        if (zone is None) == (region is None):
            fail("give --zone (e.g. GB) or --region (e.g. aws:eu-west-2)")
        try:
            _inputs.timeout_s(timeout, "--timeout")
            _inputs.text(zone or region, "--zone" if zone is not None else "--region")
            duration_s = parse_duration_s(duration, "--duration")
            within_s = parse_duration_s(within, "--within", allow_zero=True)
            energy = job_energy_kwh(kwh, estimate, None, None)
            plan = plan_for_place(
                zone or region or "",
                within_s,
                duration_s,
                energy_kwh=None if energy is None else energy.kwh,
                forecast_file=str(forecast) if forecast else None,
                timeout_s=timeout,
            )
        except CarbonLedgerError as exc:
            fail_from(exc)
        if json_out:
            emit_json(plan.to_dict())
            return
        from carbonledger.report import format as fmt
        from carbonledger.units import kwh_to_j

        typer.echo(plan.explain())
        if plan.co2e_now_g is not None and plan.co2e_at_start_g is not None:
            energy_j = kwh_to_j(plan.energy_kwh or 0.0)
            typer.echo(
                f"expected CO2e: {fmt.mass(plan.co2e_at_start_g)} at the chosen start vs "
                f"{fmt.mass(plan.co2e_now_g)} now ({fmt.energy(energy_j)} x PUE {fmt.pue(plan.pue)})"
            )
        age = plan.forecast_age_s()
        if age is not None:
            cached = ", from the cache" if plan.forecast_from_cache else ""
            typer.echo(f"forecast: {plan.source}, {fmt.duration(age)} old{cached}")
