"""``carbonledger estimate``: a training run's (or deployment's) footprint before it runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from carbonledger.cli._common import emit_json, fail, fail_from
from carbonledger.errors import CarbonLedgerError

if TYPE_CHECKING:
    from carbonledger.predict import Estimate, InferenceEstimate
    from carbonledger.report.regions import RegionOption


SpecArg = Annotated[
    Path | None,
    typer.Argument(
        help="YAML spec (model, training, hardware, datacenter; see "
        "examples/estimates/). Or give the options below instead.",
        show_default=False,
    ),
]
ParamsOpt = Annotated[str | None, typer.Option("--params", help="Total parameters: 7e9, 7B.")]
TokensOpt = Annotated[str | None, typer.Option("--tokens", help="Training tokens: 2e12, 2T.")]
AcceleratorOpt = Annotated[
    str | None,
    typer.Option("--accelerator", help="A100-80GB, H100, TPUv4, MI300X, ..."),
]
DevicesOpt = Annotated[str | None, typer.Option("--devices", help="Number of accelerators.")]
PueOpt = Annotated[
    str | None,
    typer.Option(
        "--pue",
        help="Data-centre PUE (default: assumed 1.30, 80% interval 1.09-1.56, carried into "
        "the energy and CO2e intervals).",
    ),
]
GridOpt = Annotated[str | None, typer.Option("--grid", help="Grid intensity, gCO2e/kWh.")]
ZoneOpt = Annotated[
    str | None,
    typer.Option("--zone", help="Instead of --grid: FR, US-CA, aws:eu-west-3, ..."),
]
DeviceHoursOpt = Annotated[
    str | None, typer.Option("--device-hours", help="Measured device-hours.")
]
AvgPowerOpt = Annotated[
    str | None,
    typer.Option("--avg-power-w", help="Measured average power per device, W."),
]
MfuOpt = Annotated[str | None, typer.Option("--mfu", help="Measured model-FLOPs utilisation, 0-1.")]
MoeActiveParamsOpt = Annotated[
    str | None,
    typer.Option("--moe-active-params", help="Mixture of experts: parameters per token."),
]
FlopsOpt = Annotated[str | None, typer.Option("--flops", help="Total model FLOPs, when counted.")]
RecomputeOpt = Annotated[
    str | None,
    typer.Option("--recompute", help="Activation recomputation: none, selective, full."),
]
LifetimeYearsOpt = Annotated[
    str | None,
    typer.Option("--lifetime-years", help="Hardware life for embodied carbon (5)."),
]
CompareRegionsOpt = Annotated[
    bool,
    typer.Option(
        "--compare-regions",
        help="The same run in the lowest-carbon countries and cloud regions.",
    ),
]
TopOpt = Annotated[int, typer.Option("--top", help="With --compare-regions: zones of each kind.")]
CompareAcceleratorsOpt = Annotated[
    str | None,
    typer.Option("--compare-accelerators", help="The same run on A,B,C (e.g. A100,H100,TPUv4)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One line of JSON.")]


def register(app: typer.Typer) -> None:
    @app.command("estimate")
    def estimate_command(
        spec: SpecArg = None,
        params: ParamsOpt = None,
        tokens: TokensOpt = None,
        accelerator: AcceleratorOpt = None,
        devices: DevicesOpt = None,
        pue: PueOpt = None,
        grid: GridOpt = None,
        zone: ZoneOpt = None,
        device_hours: DeviceHoursOpt = None,
        avg_power_w: AvgPowerOpt = None,
        mfu: MfuOpt = None,
        moe_active_params: MoeActiveParamsOpt = None,
        flops: FlopsOpt = None,
        recompute: RecomputeOpt = None,
        lifetime_years: LifetimeYearsOpt = None,
        compare_regions: CompareRegionsOpt = False,
        top: TopOpt = 5,
        compare_accelerators: CompareAcceleratorsOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Predict the energy and CO2e of a training run (and of serving the model, when
        the spec has an inference section), with an 80% interval and every assumption."""
        given = {
            "params": params,
            "tokens": tokens,
            "accelerator": accelerator,
            "devices": devices,
            "pue": pue,
            "grid": grid,
            "zone": zone,
            "device_hours": device_hours,
            "avg_power_w": avg_power_w,
            "mfu": mfu,
            "moe_active_params": moe_active_params,
            "flops": flops,
            "recompute": recompute,
            "lifetime_years": lifetime_years,
        }
        try:
            _run(
                spec,
                {k: v for k, v in given.items() if v is not None},
                regions=compare_regions,
                top=top,
                others=compare_accelerators,
                json_out=json_out,
            )
        except CarbonLedgerError as exc:
            fail_from(exc)


def _direct_kwargs(given: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """training() arguments from the command-line options."""
    missing = [f"--{k}" for k in ("params", "tokens", "accelerator", "devices") if k not in given]
    if missing:
        fail(
            "give a SPEC.yaml, or at least "
            + ", ".join(missing)
            + " (e.g. carbonledger estimate --params 7e9 --tokens 2e12 "
            "--accelerator A100-80GB --devices 1024 --pue 1.1 --grid 385)"
        )
    if ("grid" in given) == ("zone" in given):
        fail("give the grid intensity: --grid G (gCO2e/kWh) or --zone CODE (e.g. FR), one of them")
    notes: list[str] = []
    kwargs: dict[str, Any] = {
        "params": given["params"],
        "tokens": given["tokens"],
        "accelerator": given["accelerator"],
        "devices": given["devices"],
    }
    if "zone" in given:
        from carbonledger.carbon import intensity

        z = intensity(given["zone"])
        kwargs["grid_g_per_kwh"] = z.intensity_g_per_kwh
        notes.append(f"grid intensity of {z.name} ({z.code}): {z.year}, {z.source}")
    else:
        kwargs["grid_g_per_kwh"] = given["grid"]
    renames = {"moe_active_params": "active_params"}
    for key in (
        "pue",
        "device_hours",
        "avg_power_w",
        "mfu",
        "moe_active_params",
        "flops",
        "recompute",
        "lifetime_years",
    ):
        if key in given:
            kwargs[renames.get(key, key)] = given[key]
    return kwargs, notes


def _from_spec_or_options(
    spec_path: Path | None, given: dict[str, str]
) -> tuple[str, Estimate | None, InferenceEstimate | None, dict[str, Any]]:
    """(name, training estimate, inference estimate, training() kwargs) from the spec file
    or from the command-line options (exit 2 when both or neither are given)."""
    from dataclasses import replace

    from carbonledger.predict import load_spec, training

    if spec_path is not None:
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            fail(f"give a SPEC.yaml or the options ({flags}), not both")
        spec = load_spec(spec_path)
        return spec.name, spec.training(), spec.inference(), dict(spec.training_kwargs or {})
    if not given:
        fail(
            "give a SPEC.yaml or the run: carbonledger estimate --params 7e9 --tokens 2e12 "
            "--accelerator A100-80GB --devices 1024 --pue 1.1 --grid 385"
        )
    kwargs, notes = _direct_kwargs(given)
    est = training(**kwargs)
    if notes:
        est = replace(est, assumptions=(*est.assumptions, *notes))
    return "", est, None, kwargs


def _run(
    spec_path: Path | None,
    given: dict[str, str],
    *,
    regions: bool,
    top: int,
    others: str | None,
    json_out: bool,
) -> None:
    from carbonledger.predict import compare_accelerators

    name, est, inf, kwargs = _from_spec_or_options(spec_path, given)
    if (regions or others) and est is None:
        fail("--compare-regions and --compare-accelerators need a training section")
    region_rows = _compare_regions(est, top) if regions and est is not None else []
    other_estimates: list[Estimate] = []
    if others:
        names = [n for n in (x.strip() for x in others.split(",")) if n]
        other_estimates = compare_accelerators(names, **kwargs)

    if json_out:
        doc: dict[str, Any] = est.to_dict() if est is not None else {}
        if name:
            doc["name"] = name
        if inf is not None:
            doc["inference"] = inf.to_dict()
        if regions and est is not None:
            doc["compare_regions"] = [_region_row(est, r) for r in region_rows]
        if others:
            doc["compare_accelerators"] = [_short(e) for e in other_estimates]
        emit_json(doc)
        return
    if est is not None:
        _print_training(est, name)
    if inf is not None:
        _print_inference(inf)
    if region_rows and est is not None:
        _print_regions(est, region_rows)
    if other_estimates and est is not None:
        _print_accelerators(est, other_estimates)


def _short(e: Estimate) -> dict[str, Any]:
    d = e.to_dict()
    keys = (
        "accelerator",
        "devices",
        "device_hours",
        "days",
        "energy_mwh",
        "operational_tco2e",
        "operational_tco2e_low",
        "operational_tco2e_high",
        "embodied_tco2e",
        "total_tco2e",
        "mfu",
        "avg_power_w",
        "assumptions",
    )
    return {k: d[k] for k in keys}


def _n(x: float) -> str:
    from carbonledger.predict import fmt

    return fmt(x)


def _span(low: float, high: float, unit: str = "") -> str:
    """``low – high unit``, the one range separator of every output."""
    from carbonledger.report.format import RANGE_SEP

    return f"{_n(low)}{RANGE_SEP}{_n(high)}" + (f" {unit}" if unit else "")


def _print_training(e: Estimate, name: str) -> None:
    title = f"Training estimate{f' — {name}' if name else ''}: {_n(e.params)} parameters"
    if e.active_params != e.params:
        title += f" ({_n(e.active_params)} active)"
    title += f", {_n(e.tokens)} tokens, {e.devices} x {e.accelerator}"
    pue = (
        ("PUE", f"{e.pue:g} (given)", "")
        if e.pue_low is None or e.pue_high is None
        else ("PUE", f"{e.pue:.2f} (assumed)", _span(e.pue_low, e.pue_high))
    )
    rows = [
        ("device-hours", _n(e.device_hours), _span(e.device_hours_low, e.device_hours_high)),
        ("days (wall clock)", f"{e.days:.1f}", ""),
        pue,
        (
            "energy (PUE incl.)",
            f"{_n(e.energy_mwh)} MWh",
            _span(e.energy_mwh_low, e.energy_mwh_high, "MWh"),
        ),
        ("operational CO2e", f"{_n(e.co2e_t)} t", _span(e.co2e_t_low, e.co2e_t_high, "t")),
        ("embodied CO2e", f"{_n(e.embodied_t)} t", ""),
        ("total CO2e", f"{_n(e.total_t)} t", _span(e.total_t_low, e.total_t_high, "t")),
    ]
    typer.echo(title)
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for label, value, interval in rows:
        typer.echo(
            f"  {label:<{w0}}  {value:>{w1}}" + (f"   (80%: {interval})" if interval else "")
        )
    if e.measured:
        typer.echo(f"  measured: {', '.join(e.measured)}")
    typer.echo("Assumptions:")
    for a in e.assumptions:
        typer.echo(f"  - {a}")


def _print_inference(i: InferenceEstimate) -> None:
    typer.echo(
        f"\nInference estimate: {_n(i.active_params)} active parameters on {i.devices} x "
        f"{i.accelerator}, batch {i.batch_size or '-'} ({i.regime})"
    )
    typer.echo(
        f"  per 1,000 tokens   {i.energy_per_1k_tokens_wh:.3g} Wh  "
        f"(80%: {_span(i.energy_per_1k_tokens_wh_low, i.energy_per_1k_tokens_wh_high)}), "
        f"{i.co2e_per_1k_tokens_g:.3g} gCO2e, embodied {i.embodied_per_1k_tokens_g:.2g} g"
    )
    typer.echo(
        f"  per request ({i.input_tokens} in, {i.output_tokens} out)   "
        f"{i.energy_per_request_wh:.3g} Wh, {i.co2e_per_request_g:.3g} gCO2e"
    )
    if i.total_requests is not None:
        d = i.to_dict()
        typer.echo(
            f"  deployment ({_n(i.total_requests)} requests)   {_n(d['deployment_energy_kwh'])} kWh, "
            f"{_n(d['deployment_co2e_kg'])} kgCO2e (80%: {_n(d['deployment_co2e_kg_low'])} - "
            f"{_n(d['deployment_co2e_kg_high'])}), embodied {_n(d['deployment_embodied_kg'])} kg"
        )
    typer.echo("Assumptions:")
    for a in i.assumptions:
        typer.echo(f"  - {a}")


def _compare_regions(e: Estimate, top: int) -> list[RegionOption]:
    """The ``top`` lowest-CO2e countries and cloud regions (every provider) for the run's
    IT energy and its 80% interval, from the one region ranking: countries at the run's
    PUE, cloud regions at their provider's."""
    from carbonledger.carbon import list_zones
    from carbonledger.report.regions import rank_regions
    from carbonledger.units import mwh_to_j

    if top < 1:
        fail(f"--top must be >= 1, got {top}")
    to_it_j = mwh_to_j(1.0) / e.pue  # facility MWh -> IT joules
    ranked = rank_regions(
        e.energy_mwh * to_it_j,
        energy_low_j=e.energy_mwh_low * to_it_j,
        energy_high_j=e.energy_mwh_high * to_it_j,
        pue=e.pue,
        pue_source="the estimate's PUE",
        reference_g_per_kwh=e.grid_g_per_kwh,
        clouds=sorted({z.provider for z in list_zones("cloud")}),
    )
    return [o for kind in ("country", "cloud") for o in [r for r in ranked if r.kind == kind][:top]]


def _region_row(e: Estimate, o: RegionOption) -> dict[str, Any]:
    """A row of ``--json``'s ``compare_regions`` (tonnes; total with the run's embodied)."""
    from carbonledger.units import g_to_t

    return {
        "code": o.code,
        "name": o.name,
        "kind": o.kind,
        "intensity_g_per_kwh": o.intensity_g_per_kwh,
        "year": o.intensity_year,
        "source": o.intensity_source,
        "pue": o.pue,
        "operational_tco2e": g_to_t(o.co2e_g),
        "operational_tco2e_low": g_to_t(o.co2e_low_g),
        "operational_tco2e_high": g_to_t(o.co2e_high_g),
        "total_tco2e": g_to_t(o.co2e_g) + e.embodied_t,
    }


def _print_regions(e: Estimate, rows: list[RegionOption]) -> None:
    from carbonledger.units import g_to_t

    typer.echo(
        f"\nThe same run elsewhere (here: {_n(e.grid_g_per_kwh)} g/kWh, {_n(e.co2e_t)} t; "
        "cloud regions at their provider's PUE):"
    )
    for r in rows:
        typer.echo(
            f"  {r.kind:<8} {r.code:<24} {r.intensity_g_per_kwh:>7.1f} g/kWh  "
            f"{_n(g_to_t(r.co2e_g)):>8} t  (80%: {_n(g_to_t(r.co2e_low_g))} - "
            f"{_n(g_to_t(r.co2e_high_g))})  {r.name}"
        )


def _print_accelerators(e: Estimate, others: list[Estimate]) -> None:
    typer.echo(f"\nThe same run on other accelerators ({e.devices} devices each):")
    for x in [e, *others]:
        typer.echo(
            f"  {x.accelerator:<16} {_n(x.device_hours):>10} device-hours  {x.days:>7.1f} days  "
            f"{_n(x.energy_mwh):>8} MWh  {_n(x.co2e_t):>8} t (80%: {_n(x.co2e_t_low)} - "
            f"{_n(x.co2e_t_high)})  + {_n(x.embodied_t)} t embodied"
        )
