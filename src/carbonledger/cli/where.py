"""``carbonledger where``: cloud regions ranked by a job's expected CO2e."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NamedTuple

import typer

from carbonledger.cli._common import LedgerOpt, emit_json, fail, fail_from
from carbonledger.errors import CarbonLedgerError

#: the job's energy, as ``where`` and ``when`` take it (or a run of the ledger)
KwhOpt = Annotated[float | None, typer.Option("--kwh", help="The job's IT energy in kWh.")]
EstimateOpt = Annotated[
    Path | None, typer.Option("--estimate", help="A prediction spec (SPEC.yaml).")
]


#: the most energy a job is given as (kWh): 1e12 kWh is a terawatt-year and more
MAX_KWH = 1e12


class JobEnergy(NamedTuple):
    """A job's IT energy (kWh, with its range), where it comes from, and the job's own PUE
    when it has one (a run's, a prediction's)."""

    kwh: float
    low_kwh: float
    high_kwh: float
    basis: str
    pue: float | None = None
    pue_source: str = ""


def job_energy_kwh(
    kwh: float | None, estimate: Path | None, run: str | None, ledger: str | None
) -> JobEnergy | None:
    """The job's IT energy (kWh, low, high) and where it comes from: ``--kwh``, a
    prediction spec (``--estimate``) or a run of the ledger; None when none was given.
    Exits 2 when more than one is given."""
    given = [n for n, v in (("--kwh", kwh), ("--estimate", estimate), ("RUN", run)) if v]
    if len(given) > 1:
        fail(f"give one of --kwh, --estimate or RUN, not {' and '.join(given)}")
    if kwh is not None:
        from carbonledger import _inputs

        try:
            _inputs.number(kwh, "--kwh", low=0.0, high=MAX_KWH, unit="kWh")
        except CarbonLedgerError as exc:
            fail_from(exc)
        return JobEnergy(kwh, kwh, kwh, "given (--kwh)")
    if estimate is not None:
        from carbonledger.predict import load_spec

        e = load_spec(estimate).training()
        if e is None:
            fail(f"{estimate} describes no training run; give --kwh instead")
        to_kwh = 1e3 / e.pue  # facility MWh -> IT kWh
        return JobEnergy(
            e.energy_mwh * to_kwh,
            e.energy_mwh_low * to_kwh,
            e.energy_mwh_high * to_kwh,
            f"estimated from {estimate} (80% interval)",
            e.pue,
            f"the prediction's PUE ({estimate})",
        )
    if run is not None:
        from carbonledger.ledger import open_ledger
        from carbonledger.units import j_to_kwh

        led = open_ledger(ledger, create=False, read_only=True)
        try:
            s = led.summary(led.resolve_run_id(run))
        finally:
            led.close()
        return JobEnergy(
            j_to_kwh(s.energy_j),
            j_to_kwh(s.energy_low_j),
            j_to_kwh(s.energy_high_j),
            f"run {s.run_id} (measured/estimated as recorded)",
            s.pue,
            f"the run's PUE ({s.pue_source})",
        )
    return None


def register(app: typer.Typer) -> None:
    @app.command("where")
    def where_command(
        run: Annotated[
            str | None,
            typer.Argument(help="A run of the ledger (id or prefix).", show_default=False),
        ] = None,
        kwh: KwhOpt = None,
        estimate: EstimateOpt = None,
        cloud: Annotated[
            str, typer.Option("--cloud", help="Providers, comma-separated: aws,gcp,azure.")
        ] = "aws,gcp,azure",
        near: Annotated[
            str | None,
            typer.Option("--near", help="Only regions in the same geography as this one."),
        ] = None,
        top: Annotated[int, typer.Option("--top", help="How many regions to list.")] = 10,
        ledger: LedgerOpt = None,
        json_out: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
    ) -> None:
        """Rank cloud regions by the expected CO2e of a job (per kWh without a job)."""
        from carbonledger.report.regions import rank_regions
        from carbonledger.units import kwh_to_j

        if top < 1:
            fail(f"--top must be >= 1, got {top}")
        clouds = [c for c in cloud.split(",") if c.strip()]
        if not clouds:
            fail("--cloud needs at least one provider, e.g. aws,gcp,azure")
        try:
            job = job_energy_kwh(kwh, estimate, run, ledger) or JobEnergy(
                1.0, 1.0, 1.0, "per kWh (no job given)"
            )
            kwh_mid, basis = job.kwh, job.basis
            options = rank_regions(
                kwh_to_j(kwh_mid),
                energy_low_j=kwh_to_j(job.low_kwh),
                energy_high_j=kwh_to_j(job.high_kwh),
                pue=1.0 if job.pue is None else job.pue,
                pue_source=job.pue_source or "assumed 1.0: the provider publishes no PUE",
                clouds=clouds,
                countries=False,
                near=near,
            )[:top]
        except CarbonLedgerError as exc:
            fail_from(exc)
        if json_out:
            emit_json(
                {
                    "energy_kwh": kwh_mid,
                    "energy_basis": basis,
                    "regions": [o.to_dict() for o in options],
                }
            )
            return
        from carbonledger.report import format as fmt
        from carbonledger.report.text import printable

        typer.echo(
            f"job: {fmt.energy(kwh_to_j(kwh_mid))} IT energy ({basis}); CO2e = energy x PUE x grid"
        )
        co2e = [fmt.with_range(o.co2e_g, o.co2e_low_g, o.co2e_high_g, fmt.mass) for o in options]
        width = max((len(o.code) for o in options), default=0)
        co2e_width = max((len(c) for c in co2e), default=0)
        for o, text in zip(options, co2e, strict=True):
            cfe = fmt.percent(o.cfe_share) if o.cfe_share is not None else "-"
            typer.echo(
                f"{printable(o.code):<{width}}  {text:<{co2e_width}}  "
                f"{fmt.intensity(o.intensity_g_per_kwh):>15} {o.intensity_year}  CFE {cfe:>4}  "
                f"PUE {fmt.pue(o.pue):<5}  {o.geography}"
            )
        if options:
            typer.echo(
                f"intensity: yearly grid figures (source per region: `carbonledger intensity "
                f"{options[0].code}`); PUE: {options[0].pue_source}"
            )
