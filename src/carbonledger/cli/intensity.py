"""``carbonledger intensity``: the grid carbon intensity of a place, or of every place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from carbonledger.cli._common import emit_json, fail, fail_from
from carbonledger.errors import CarbonLedgerError

if TYPE_CHECKING:
    from carbonledger.carbon import Zone


def register(app: typer.Typer) -> None:
    @app.command("intensity")
    def intensity_command(
        code: Annotated[
            str | None,
            typer.Argument(
                help="Zone: country code or name (FR, FRA, France), subregion (US-CA, "
                "SE-SE3) or cloud region (aws:eu-west-3, gcp:europe-west1, azure:westeurope).",
                show_default=False,
            ),
        ] = None,
        list_all: Annotated[
            bool, typer.Option("--list", help="List every zone (or those of --kind).")
        ] = False,
        kind: Annotated[
            str | None,
            typer.Option("--kind", help="With --list: country, subregion or cloud."),
        ] = None,
        json_out: Annotated[
            bool, typer.Option("--json", help="JSON on stdout (an array with --list).")
        ] = False,
    ) -> None:
        """Show a zone's grid intensity (gCO2e/kWh), its year, source and licence."""
        from carbonledger.carbon import intensity, list_zones

        if list_all == (code is not None):
            fail("give a zone CODE, or --list (e.g. `carbonledger intensity FR`)")
        if kind is not None and not list_all:
            fail("--kind goes with --list")
        try:
            zones = list_zones(kind) if list_all else [intensity(code or "")]
        except CarbonLedgerError as exc:
            fail_from(exc)
        if json_out:
            if list_all:
                emit_json([z.to_dict() for z in zones])
            else:
                emit_json(zones[0].to_dict())
            return
        if list_all:
            _print_table(zones)
            return
        zone = zones[0]
        lines = [
            ("zone", f"{zone.code} ({zone.name})"),
            ("kind", zone.kind),
            ("intensity_g_per_kwh", f"{zone.intensity_g_per_kwh:g} ({zone.basis})"),
            ("year", str(zone.year)),
        ]
        if zone.kind == "cloud":
            lines.append(("grid_zone", zone.grid_zone))
            if zone.provider_intensity_g_per_kwh is not None:
                lines.append(("provider figure", f"{zone.provider_intensity_g_per_kwh:g} g/kWh"))
            if zone.cfe_share is not None:
                lines.append(("carbon-free share", f"{zone.cfe_share:.0%}"))
        lines += [("source", zone.source), ("licence", zone.licence)]
        width = max(len(k) for k, _ in lines)
        for key, value in lines:
            typer.echo(f"{key:<{width}}  {value}")


def _print_table(zones: list[Zone]) -> None:
    import sys

    if not sys.stdout.isatty():  # piped: plain aligned columns, one zone a line
        width = max(len(z.code) for z in zones) if zones else 4
        for z in zones:
            typer.echo(
                f"{z.code:<{width}}  {z.intensity_g_per_kwh:>7.1f}  {z.year}  {z.basis:<9}  "
                f"{z.kind:<9}  {z.name}"
            )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("code", "name", "kind"):
        table.add_column(column)
    table.add_column("g/kWh", justify="right")
    table.add_column("year", justify="right")
    table.add_column("basis")
    table.add_column("licence")
    for zone in zones:
        table.add_row(
            zone.code,
            zone.name,
            zone.kind,
            f"{zone.intensity_g_per_kwh:.0f}",
            str(zone.year),
            zone.basis,
            zone.licence,
        )
    Console(soft_wrap=True).print(table)
    typer.echo(f"{len(zones)} zones; `carbonledger intensity CODE` shows a zone's source")
