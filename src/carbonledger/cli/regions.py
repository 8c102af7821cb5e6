"""``carbonledger regions [RUN | --kwh X]``: the same energy in other countries and clouds."""

from __future__ import annotations

from typing import Annotated

import typer

from carbonledger.cli._common import JsonOpt, LedgerOpt, emit_json, fail, fail_from
from carbonledger.cli._ledger_read import reading, summaries
from carbonledger.errors import CarbonLedgerError


def register(app: typer.Typer) -> None:
    @app.command("regions")
    def regions_command(
        run: Annotated[
            str | None, typer.Argument(help="A run id or prefix (default: the newest run).")
        ] = None,
        kwh: Annotated[
            float | None, typer.Option("--kwh", help="Energy in kWh instead of a run's.")
        ] = None,
        top: Annotated[int, typer.Option("--top", "-n", help="Show this many places.")] = 10,
        cloud: Annotated[
            str | None,
            typer.Option("--cloud", help="Cloud providers to include, e.g. aws,gcp,azure."),
        ] = None,
        only_cloud: Annotated[
            bool, typer.Option("--only-cloud", help="Only cloud regions, no countries.")
        ] = False,
        include_all: Annotated[
            bool,
            typer.Option(
                "--all", help="Also territories where nobody runs jobs (tiny or dependent)."
            ),
        ] = False,
        pue: Annotated[
            float | None,
            typer.Option(
                "--pue",
                help="PUE of countries and the reference (default: the run's, else 1); "
                "cloud regions use their provider's.",
            ),
        ] = None,
        ledger: LedgerOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Rank countries (and cloud regions) by the CO2e of the same energy."""
        from carbonledger.report import format as fmt
        from carbonledger.report.regions import rank_regions, rank_regions_for_run
        from carbonledger.report.text import printable
        from carbonledger.units import kwh_to_j

        if top < 1:
            fail(f"--top must be >= 1, got {top}")
        clouds = [c.strip() for c in cloud.split(",") if c.strip()] if cloud else []
        if only_cloud and not clouds:
            clouds = ["aws", "gcp", "azure"]
        reference = None
        here = "the world average"
        try:
            if kwh is not None:
                if run is not None:
                    fail("give a RUN or --kwh, not both")
                from carbonledger import _inputs
                from carbonledger.cli.where import MAX_KWH

                energy_j = kwh_to_j(_inputs.number(kwh, "--kwh", low=0.0, high=MAX_KWH, unit="kWh"))
                options = rank_regions(
                    energy_j, pue=1.0 if pue is None else pue,
                    pue_source="given" if pue is not None else "assumed 1.0 (give --pue)",
                    clouds=clouds, countries=not only_cloud, include_all=include_all,
                )  # fmt: skip
            else:
                with reading(ledger) as led:
                    if run is None:
                        newest = led.list_runs(limit=1)
                        if not newest:
                            fail(f"no runs in {led.location}; give --kwh X")
                        s = newest[0]
                    else:
                        s = summaries(led, [run])[0]
                energy_j, reference = s.energy_j, s.intensity_g_per_kwh
                here = f"{s.location} ({fmt.sig3(s.intensity_g_per_kwh)} g/kWh)"
                options = rank_regions_for_run(
                    s, pue=pue, clouds=clouds, countries=not only_cloud, include_all=include_all
                )
                pue = s.pue if pue is None else pue
        except CarbonLedgerError as exc:
            fail_from(exc)
        shown = options[:top]
        if json_out:
            emit_json({"energy_j": energy_j, "pue": pue or 1.0, "reference": here,
                       "reference_g_per_kwh": reference,
                       "options": [o.to_dict() for o in shown]})  # fmt: skip
            return
        clouds_pue = "; cloud regions at their provider's PUE" if clouds else ""
        typer.echo(
            f"{fmt.energy(energy_j)} at PUE {fmt.pue(pue or 1.0)}{clouds_pue}; saving against {here}"
        )
        for o in shown:
            pct = "" if o.saving_pct is None else f" ({fmt.sig3(o.saving_pct)}%)"
            typer.echo(
                f"  {printable(o.code):<22} {printable(o.name):<40} "
                f"{fmt.sig3(o.intensity_g_per_kwh):>6} g/kWh {fmt.mass(o.co2e_g):>10}  "
                f"saves {fmt.mass(o.saving_g)}{pct}"
            )
