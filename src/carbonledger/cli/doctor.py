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
        try:
            report = _gather(scope)
        except CarbonLedgerError as exc:
            fail_from(exc)
        if json_out:
            emit_json(report)
        else:
            _print(report)


def _gather(scope: str, **hardware: Any) -> dict[str, Any]:
    """Everything doctor says, as one JSON-ready dict (sensors are closed before returning);
    ``hardware``: discovery's hardware roots (``cpuinfo=``, ``powercap_root=``...)."""
    import os

    from carbonledger.ledger import default_ledger_path
    from carbonledger.run.config import load_settings
    from carbonledger.sensors import discover

    settings = load_settings()
    found = discover(
        scope=scope,
        cpu_watts=settings.get("cpu_watts"),
        ram_watts=settings.get("ram_watts"),
        **hardware,
    )
    chosen = {s.info.device for s in found.sensors}
    rows: list[dict[str, Any]] = []
    for info in found.candidates:
        row = info.to_dict()
        row["in_use"] = info.device in chosen and info.available
        rows.append(row)
    for s in found.sensors:
        s.close()
    return {
        "cpu_model": found.cpu_model,
        "sockets": found.sockets,
        "virtual_machine": found.hypervisor or None,
        "sensors": rows,
        "assumed_power": [a.to_dict() for a in found.assumptions],
        "notes": list(found.notes),
        "location": _location(),
        "ledger": os.environ.get("CARBONLEDGER_LEDGER") or str(default_ledger_path()),
    }


def _location() -> dict[str, Any]:
    from carbonledger.carbon import resolve_location

    try:
        loc = resolve_location(probe_cloud=False)
    except Exception as exc:  # doctor reports problems, it does not stop on them
        return {"error": str(exc)}
    return {
        "zone": loc.zone.code,
        "name": loc.zone.name,
        "source": loc.source,
        "intensity_g_per_kwh": loc.zone.intensity_g_per_kwh,
        "detail": loc.detail,
    }


def _print(report: dict[str, Any]) -> None:
    """doctor's text: each explanation once (a model's basis is in its sensor's line; the
    choices and the watts assumed refer to it instead of repeating it)."""
    vm = report["virtual_machine"]
    typer.echo(f"CPU: {report['cpu_model'] or 'unknown model'} ({report['sockets']} socket(s))")
    typer.echo(f"Virtual machine: yes ({vm})" if vm else "Virtual machine: no sign of a hypervisor")
    typer.echo("Sensors:")
    for row in report["sensors"]:
        mark = "ok " if row["available"] else "-- "
        use = " [in use]" if row["in_use"] else ""
        kind = (
            "" if not row["available"] else (" (measured)" if row["measured"] else " (estimated)")
        )
        typer.echo(f"  {mark}{row['component']:<4} {row['device']:<22} {row['method']}{kind}{use}")
        if row["reason"]:
            typer.echo(f"       why: {row['reason']}")
        if row["fix"] and not row["available"]:
            typer.echo(f"       fix: {row['fix']}")
    said = " ".join(str(row["reason"]) for row in report["sensors"])
    bases = [str(a["basis"]) for a in report["assumed_power"]]
    typer.echo("Choices:")
    for note in report["notes"]:
        typer.echo(f"  {_without_repeats(note, said, bases)}")
    _print_assumed(report["assumed_power"], said)
    location = report["location"]
    if "error" in location:
        typer.echo(f"Location: error: {location['error']}")
    else:
        typer.echo(
            f"Location: {location['zone']} ({location['name']}), from {location['source']}, "
            f"{location['intensity_g_per_kwh']:.4g} gCO2e/kWh"
        )
        if location["detail"]:
            typer.echo(f"  {location['detail']}")
    typer.echo(f"Ledger: {report['ledger']}")


def _without_repeats(note: str, said: str, bases: list[str]) -> str:
    """``note`` less a model's basis in brackets that a sensor's line already printed."""
    for basis in bases:
        if basis and f"({basis})" in note and basis in said:
            return note.replace(f"({basis})", "(basis above)")
    return note


def _print_assumed(assumed: list[dict[str, Any]], said: str = "") -> None:
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
        if a["basis"] not in said:
            typer.echo(f"       why: {a['basis']}")
        if a["source"] not in said:
            typer.echo(f"       source: {a['source']}")
