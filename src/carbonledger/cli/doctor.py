"""``carbonledger doctor``: which sensors work here, why the others do not, how to fix them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from carbonledger.cli._common import emit_json


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor_command(
        json_out: Annotated[
            bool, typer.Option("--json", help="One JSON object on stdout.")
        ] = False,
        scope: Annotated[
            str,
            typer.Option("--scope", help="machine (default) or process: which sensors to list."),
        ] = "machine",
    ) -> None:
        """List every sensor, available or not, why, and how to enable it."""
        import os

        from carbonledger.carbon import resolve_location
        from carbonledger.ledger import default_ledger_path
        from carbonledger.sensors.discovery import discover

        found = discover(scope=scope)
        chosen = {s.info.device for s in found.sensors}
        rows: list[dict[str, Any]] = []
        for info in found.candidates:
            row = info.to_dict()
            row["in_use"] = info.device in chosen and info.available
            rows.append(row)
        for s in found.sensors:
            s.close()
        try:
            loc = resolve_location(probe_cloud=False)
            location: dict[str, Any] = {
                "zone": loc.zone.code,
                "name": loc.zone.name,
                "source": loc.source,
                "intensity_g_per_kwh": loc.zone.intensity_g_per_kwh,
                "detail": loc.detail,
            }
        except Exception as exc:  # doctor reports problems, it does not stop on them
            location = {"error": str(exc)}
        ledger = os.environ.get("CARBONLEDGER_LEDGER") or str(default_ledger_path())
        report = {
            "cpu_model": found.cpu_model,
            "sockets": found.sockets,
            "sensors": rows,
            "notes": list(found.notes),
            "location": location,
            "ledger": ledger,
        }
        if json_out:
            emit_json(report)
            return
        typer.echo(f"CPU: {found.cpu_model} ({found.sockets} socket(s))")
        typer.echo("Sensors:")
        for row in rows:
            mark = "ok " if row["available"] else "-- "
            use = " [in use]" if row["in_use"] else ""
            kind = (
                ""
                if not row["available"]
                else (" (measured)" if row["measured"] else " (estimated)")
            )
            typer.echo(
                f"  {mark}{row['component']:<4} {row['device']:<22} {row['method']}{kind}{use}"
            )
            if row["reason"]:
                typer.echo(f"       why: {row['reason']}")
            if row["fix"] and not row["available"]:
                typer.echo(f"       fix: {row['fix']}")
        typer.echo("Choices:")
        for note in found.notes:
            typer.echo(f"  {note}")
        if "error" in location:
            typer.echo(f"Location: error: {location['error']}")
        else:
            typer.echo(
                f"Location: {location['zone']} ({location['name']}), from {location['source']}, "
                f"{location['intensity_g_per_kwh']:.4g} gCO2e/kWh"
            )
            if location["detail"]:
                typer.echo(f"  {location['detail']}")
        typer.echo(f"Ledger: {ledger}")
