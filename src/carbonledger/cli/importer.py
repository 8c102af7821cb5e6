"""``carbonledger import``: past work as estimated runs: a cluster's jobs from SLURM accounting
(``import slurm``), an Impact Framework output manifest (``import impact-framework``)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from carbonledger.cli._common import (
    JsonOpt,
    LedgerOpt,
    emit_json,
    fail,
    fail_from,
)

#: the longest ``sacct`` may take to answer (seconds)
SACCT_TIMEOUT_S = 300.0


def _sacct_text(path: str | None, since: str | None) -> str:
    """The sacct output: the file (``-`` for stdin), else what the sacct command prints."""
    import shutil
    import subprocess

    from carbonledger._files import read_input_text
    from carbonledger.errors import InputError
    from carbonledger.run.slurm import SACCT_COMMAND, SACCT_FIELDS, SACCT_MAX_BYTES

    if path is not None:
        try:
            return read_input_text(path, "sacct output", max_bytes=SACCT_MAX_BYTES, stdin=True)
        except InputError as exc:
            fail_from(exc)
    if shutil.which("sacct") is None:
        fail(
            "no sacct command here: give a file saved on the cluster with "
            f"'TZ=UTC sacct --allusers --allocations --parsable2 --format={SACCT_FIELDS}'"
        )
    command = [*SACCT_COMMAND, *([f"--starttime={since}"] if since else [])]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, "TZ": "UTC"},
            check=False, timeout=SACCT_TIMEOUT_S, errors="replace",
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        fail(f"sacct gave no answer within {SACCT_TIMEOUT_S:g} s (is slurmdbd up?)", 1)
    if done.returncode != 0:
        fail(f"sacct failed ({done.returncode}): {done.stderr.strip()[-300:]}", 1)
    return done.stdout


def _unplaced_context(where: Any) -> Any:
    """The carbon context of imported work whose place nobody gave and whose intensity the
    manifest carries: the location unknown (the world's code, source "default"), the water and
    price settings as for any run."""
    from carbonledger.accounting import CarbonContext
    from carbonledger.carbon import resolve_price, resolve_water, world_average

    code = world_average().code
    origins = dict(where.origins)
    return CarbonContext(
        code,
        "default",
        0.0,
        "",
        water=resolve_water(where.wue_l_per_kwh, origins.get("wue_l_per_kwh", ""), None),
        price=resolve_price(where.price_per_kwh, where.prices, where.currency, code, origins),
    )


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Import past work (a scheduler's accounting, an Impact Framework output) as "
        "estimated runs."
    )
    app.add_typer(group, name="import")

    @group.command("slurm")
    def slurm_command(
        path: Annotated[
            str | None,
            typer.Argument(
                help="sacct output saved to a file ('-': stdin); default: run sacct here."
            ),
        ] = None,
        ledger: LedgerOpt = None,
        project: Annotated[str, typer.Option(help="Project of the imported runs.")] = "slurm",
        country: Annotated[str | None, typer.Option(help="The cluster's country.")] = None,
        region: Annotated[str | None, typer.Option(help="A zone or cloud region.")] = None,
        grid_g_per_kwh: Annotated[
            float | None, typer.Option("--grid-g-per-kwh", help="Grid intensity, gCO2e/kWh.")
        ] = None,
        pue: Annotated[float | None, typer.Option(help="The data centre's PUE.")] = None,
        gpu_watts: Annotated[
            float | None,
            typer.Option("--gpu-watts", help="GPU TDP in watts (when sacct names no known model)."),
        ] = None,
        since: Annotated[
            str | None, typer.Option(help="Passed to sacct --starttime (when sacct is run).")
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Turn SLURM accounting (sacct --parsable2) into estimated runs in the ledger.

        Each finished job becomes the run slurm-<job id>: CPU-hours x a per-vCPU power model,
        GPU-hours x the GPU's TDP x 0.7 (0.4-1.0), allocated memory x W/GB, all labelled
        estimated with their range. Jobs already in the ledger are skipped."""
        from carbonledger import _inputs
        from carbonledger.errors import CarbonLedgerError
        from carbonledger.run import resolve_carbon
        from carbonledger.run.settings import resolve
        from carbonledger.run.slurm import (
            estimate_components,
            import_jobs,
            jobs_over,
            parse_sacct,
        )

        try:
            _inputs.name(project, "--project")
            if gpu_watts is not None:
                _inputs.watts(gpu_watts, "--gpu-watts")
            if pue is not None:
                _inputs.pue(pue, "--pue")
            if grid_g_per_kwh is not None:
                _inputs.intensity_g_per_kwh(grid_g_per_kwh, "--grid-g-per-kwh")
            for flag, value in (("--country", country), ("--region", region)):
                if value is not None:
                    _inputs.text(value, flag)
            if since is not None and (not _inputs.text(since, "--since") or since[0] == "-"):
                fail(f"--since must be a date or time sacct takes (2024-05-01), got {since!r}")
        except CarbonLedgerError as exc:
            fail_from(exc)
        text = _sacct_text(path, since)
        try:
            jobs = parse_sacct(text)
            for job in jobs_over(jobs):  # an unknown GPU is said before anything else
                estimate_components(job, gpu_watts=gpu_watts)
            where = resolve(
                {"country": country, "region": region, "grid_g_per_kwh": grid_g_per_kwh,
                 "pue": pue, "probe_cloud": False, "ip_geolocation": False},
                env=os.environ,
            ).location  # fmt: skip
            context = resolve_carbon(where, os.environ)[0]
            done = import_jobs(jobs, ledger, context, project=project, gpu_watts=gpu_watts)
        except CarbonLedgerError as exc:
            fail_from(exc)
        if json_out:
            emit_json({"imported": list(done.run_ids), "skipped": list(done.skipped)})
            return
        typer.echo(
            f"imported {len(done.run_ids)} job(s) as estimated runs"
            + (
                f"; skipped {len(done.skipped)} (already in the ledger or not over)"
                if done.skipped
                else ""
            )
        )

    @group.command("impact-framework")
    def impact_command(
        path: Annotated[
            str, typer.Argument(help="The output manifest if-run wrote (out.yaml; '-': stdin).")
        ],
        ledger: LedgerOpt = None,
        project: Annotated[
            str, typer.Option(help="Project of the imported runs.")
        ] = "impact-framework",
        country: Annotated[str | None, typer.Option(help="Where the work ran: a country.")] = None,
        region: Annotated[str | None, typer.Option(help="A zone or cloud region.")] = None,
        grid_g_per_kwh: Annotated[
            float | None,
            typer.Option(
                "--grid-g-per-kwh",
                help="Grid intensity, gCO2e/kWh, for observations that carry none.",
            ),
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Record the runs an Impact Framework output manifest computed (each leaf of its tree
        with outputs) as estimated runs: energy from the observations' cpu/energy,
        gpu/energy, memory/energy (else it/energy, else energy), the PUE from pue, the CO2e
        from the Framework's carbon-operational, the embodied share from carbon-embodied.
        Runs already imported are skipped."""
        from carbonledger._files import read_input_text
        from carbonledger.errors import CarbonLedgerError
        from carbonledger.run import resolve_carbon
        from carbonledger.run.impact_import import import_runs, parse_output
        from carbonledger.run.settings import resolve

        try:  # the options first, then the file
            where = resolve(
                {"country": country, "region": region, "grid_g_per_kwh": grid_g_per_kwh,
                 "probe_cloud": False, "ip_geolocation": False, "project": project},
                env=os.environ,
            ).location  # fmt: skip
            text = read_input_text(path, "Impact Framework output", stdin=True)
            name, runs = parse_output(text, "stdin" if path == "-" else path)
            if all(r.intensity_g_per_kwh is not None for r in runs) and not (
                country or region or grid_g_per_kwh is not None
            ):  # the manifest gives every intensity: the place stays unknown, said so
                context = _unplaced_context(where)
            else:
                context = resolve_carbon(where, os.environ)[0]
            done = import_runs(name, runs, ledger, context, project=project, source=path)
        except CarbonLedgerError as exc:
            fail_from(exc)
        if json_out:
            emit_json({"imported": list(done.run_ids), "skipped": list(done.skipped)})
            return
        typer.echo(
            f"imported {len(done.run_ids)} run(s) from {name!r} as estimated runs"
            + (f"; skipped {len(done.skipped)} already in the ledger" if done.skipped else "")
        )
