"""``carbonledger compare A B`` / ``--a RUN... --b RUN...``: A/B deltas with noise."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from carbonledger.cli._common import JsonOpt, LedgerOpt, emit_json, fail, fail_from
from carbonledger.cli._ledger_read import reading, summaries
from carbonledger.errors import CarbonLedgerError


def _value(name: str, value: float) -> str:
    from carbonledger.report import format as fmt

    if name == "energy_j":
        return fmt.energy(value)
    if name == "co2e_g":
        return fmt.mass(value)
    if name == "duration_s":
        return fmt.duration(abs(value)) if value >= 0 else "-" + fmt.duration(-value)
    return fmt.sig3(value)


#: how the text names what each kind of mismatch moves
_FACTOR_NAMES = {"energy": "IT energy", "pue": "PUE", "intensity": "grid intensity"}
_KIND_NAMES = {
    "scope": "scope",
    "location": "location",
    "intensity_source": "intensity source",
    "pue": "PUE",
}
_WHY = {
    "scope": "their energies count different things (process: the process tree's share; "
    "machine: the whole host)",
    "location": "another grid",
    "intensity_source": "another dataset or year for the grid",
    "pue": "another facility overhead",
}


def mismatch_lines(result: Any) -> list[str]:
    """The warnings ``compare`` prints when A and B differ in scope, location, intensity
    source or PUE, each with the share of the CO2e delta it explains, and the split of the
    delta over IT energy, PUE and grid intensity."""
    from carbonledger.report import format as fmt
    from carbonledger.report.text import printable

    lines = []
    for m in result.mismatches:
        share = (
            ""
            if m.co2e_share is None
            else f"; {_FACTOR_NAMES[m.factor]} explains {fmt.percent(m.co2e_share)} of the "
            "CO2e delta"
        )
        lines.append(
            f"warning: A and B differ in {_KIND_NAMES[m.kind]} (A: {printable(m.a)}; B: "
            f"{printable(m.b)}): {_WHY[m.kind]}{share}"
        )
    if result.co2e_shares is not None:
        parts = ", ".join(
            f"{_FACTOR_NAMES[k]} {fmt.percent(v)}" for k, v in result.co2e_shares.items()
        )
        lines.append(f"CO2e delta explained by: {parts} (log-mean Divisia decomposition)")
    return lines


def _verdict(d: Any) -> str:
    notes = []
    if d.exceeds_uncertainty is not None:
        notes.append("beyond" if d.exceeds_uncertainty else "within")
        notes[-1] += " the estimate's range"
    if d.exceeds_spread is not None:
        notes.append(("beyond" if d.exceeds_spread else "within") + " run-to-run spread")
    return "; ".join(notes)


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_command(
        runs: Annotated[
            list[str] | None, typer.Argument(help="A B: two runs (ids or unique prefixes).")
        ] = None,
        a: Annotated[
            list[str] | None, typer.Option("--a", help="A run of side A (repeatable).")
        ] = None,
        b: Annotated[
            list[str] | None, typer.Option("--b", help="A run of side B (repeatable).")
        ] = None,
        ledger: LedgerOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Compare energy, CO2e, duration and logged metrics of B against A (the baseline)."""
        from carbonledger.report import format as fmt
        from carbonledger.report.compare import compare_runs
        from carbonledger.report.text import printable

        side_a, side_b = list(a or ()), list(b or ())
        if runs:
            if side_a or side_b or len(runs) != 2:
                fail("give exactly two runs A B, or --a RUN... --b RUN...")
            side_a, side_b = [runs[0]], [runs[1]]
        if not side_a or not side_b:
            fail("give two runs A B, or --a RUN... --b RUN... (several runs per side)")
        with reading(ledger) as led:
            sa, sb = summaries(led, side_a), summaries(led, side_b)
        try:
            result = compare_runs(sa, sb)
        except CarbonLedgerError as exc:
            fail_from(exc)
        if json_out:
            emit_json(result.to_dict())
            return
        typer.echo(f"A: {', '.join(printable(r) for r in result.a_runs)}")
        typer.echo(f"B: {', '.join(printable(r) for r in result.b_runs)}")
        for d in result.deltas:
            pct = (
                ""
                if d.delta_pct is None
                else f" ({'+' if d.delta_pct >= 0 else ''}{fmt.sig3(d.delta_pct)}%)"
            )
            sign = "+" if d.delta >= 0 else "-"
            line = (
                f"  {printable(d.name):<16} A {_value(d.name, d.a):>10}  B {_value(d.name, d.b):>10}"
                f"  Δ {sign}{_value(d.name, abs(d.delta))}{pct}"
            )
            verdict = _verdict(d)
            typer.echo(line + (f"  [{verdict}]" if verdict else ""))
        for text in mismatch_lines(result):
            typer.echo(text)
