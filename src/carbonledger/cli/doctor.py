"""``carbonledger doctor``: which sensors work here, why the others do not, how to fix them,
and the watts each estimating model assumes (method, figures, source)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from carbonledger.cli._common import emit_json, fail_from
from carbonledger.errors import CarbonLedgerError


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
        from carbonledger.config import load_settings
        from carbonledger.ledger import default_ledger_path
        from carbonledger.sensors.discovery import discover

        try:
            settings = load_settings()
            found = discover(
                scope=scope,
                cpu_watts=settings.get("cpu_watts"),
                ram_watts=settings.get("ram_watts"),
            )
        except CarbonLedgerError as exc:
            fail_from(exc)
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
        assumed = [a.to_dict() for a in found.assumptions]
        report = {
            "cpu_model": found.cpu_model,
            "sockets": found.sockets,
            "virtual_machine": found.hypervisor or None,
            "sensors": rows,
            "assumed_power": assumed,
            "notes": list(found.notes),
            "location": location,
            "ledger": ledger,
        }
        if json_out:
            emit_json(report)
            return
        typer.echo(f"CPU: {found.cpu_model or 'unknown model'} ({found.sockets} socket(s))")
        typer.echo(
            f"Virtual machine: yes ({found.hypervisor})"
            if found.hypervisor
            else "Virtual machine: no sign of a hypervisor (bare metal)"
        )
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
        if assumed:
            typer.echo("Watts assumed (estimated components):")
        for a in assumed:
            figures = (
                f"{a['max_w']:.3g} W"
                if a["idle_w"] == a["max_w"]
                else f"{a['idle_w']:.3g} W idle to {a['max_w']:.3g} W at full load"
            )
            if a["low_w"] != a["high_w"]:
                figures += f" (range {a['low_w']:.3g}-{a['high_w']:.3g} W)"
            typer.echo(f"  {a['component']}: {a['method']}: {figures}")
            typer.echo(f"       why: {a['basis']}")
            typer.echo(f"       source: {a['source']}")
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
