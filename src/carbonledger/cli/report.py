"""``carbonledger report``: an HTML report with charts, a compute statement for a paper, and the
formats organisations and model hubs read (BoAmps, a model card's metadata, an Impact
Framework manifest, an SCI score, GHG Protocol figures). Every one is made from records that
verify first, and carries the ledger's head and the verification's result."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from carbonledger.cli._common import JsonOpt, LedgerOpt, emit_json, fail, fail_from
from carbonledger.cli._ledger_read import reading
from carbonledger.cli._progress import progress
from carbonledger.errors import CarbonLedgerError

if TYPE_CHECKING:
    from carbonledger.models import RunSummary
    from carbonledger.report.data import LedgerStatus, RunReport

#: formats that describe one run
RUN_FORMATS = ("md", "latex", "boamps", "model-card", "impact-framework", "sci")
#: formats that describe a project or a period (many runs)
PROJECT_FORMATS = ("ghg", "ghg-csv")
FORMATS = RUN_FORMATS + PROJECT_FORMATS


def _when(text: str | None, option: str, *, end: bool) -> float | None:
    """``--since``/``--until`` as unix seconds: a date (``2025-01-31``; for ``--until`` the
    whole day is included) or an ISO 8601 time (UTC unless it says otherwise)."""
    from datetime import datetime, timedelta, timezone

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option} takes a date (2025-01-31) or an ISO 8601 time, got {text!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if end and len(text.strip()) == 10:  # a date: until the end of that day
        moment += timedelta(days=1)
    return moment.timestamp()


def _task_options(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            fail(f"--task takes NAME=VALUE (e.g. stage=training), got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _stop_unless_verified(status: LedgerStatus, what: str) -> None:
    """A report is made only from records that verify (exit 1 otherwise)."""
    if not status.ok:
        details = "; ".join(status.problems[:3]) or "problems found"
        fail(
            f"{what} does not verify, so no report is made from it: {details}. Run "
            "'carbonledger verify' for the whole ledger.",
            code=1,
        )


def _emit(text: str, output: Path | None) -> None:
    """``text`` to ``output`` (written atomically) or to stdout."""
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    from carbonledger.report.crypto import write_atomic

    try:  # a regular file or a new path only; a missing folder, a FIFO... said in one line
        write_atomic(output, text.encode("utf-8"))
    except CarbonLedgerError as exc:
        fail_from(exc)
    typer.echo(f"wrote {output}", err=True)


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        run: Annotated[
            str | None, typer.Argument(help="A run id or unique prefix (default: the newest run).")
        ] = None,
        project: Annotated[
            str | None,
            typer.Option("--project", "-p", help="Report a whole project (HTML, ghg)."),
        ] = None,
        experiment: Annotated[
            str | None,
            typer.Option("--experiment", "-e", help="With a project or period: one experiment."),
        ] = None,
        since: Annotated[
            str | None,
            typer.Option("--since", help="Runs started on or after this date or time (UTC)."),
        ] = None,
        until: Annotated[
            str | None,
            typer.Option("--until", help="Runs started up to this date (included) or time."),
        ] = None,
        html_out: Annotated[
            Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")
        ] = None,
        fmt: Annotated[
            str | None,
            typer.Option(
                "--format",
                "-f",
                help="md or latex (a statement for a paper), boamps, model-card, "
                "impact-framework, sci (one run); ghg or ghg-csv (a project or a period).",
            ),
        ] = None,
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", help="Write the report here (default: stdout)."),
        ] = None,
        task: Annotated[
            list[str] | None,
            typer.Option(
                "--task",
                help="NAME=VALUE of the task (stage, family, data_type, data_usage...; "
                "boamps, model-card). Repeatable; over the run's task_<name> tags.",
            ),
        ] = None,
        write_card: Annotated[
            Path | None,
            typer.Option(
                "--write",
                help="model-card: set co2_eq_emissions in this existing card (README.md) in "
                "place; the rest of the card is left as it is.",
            ),
        ] = None,
        functional_unit: Annotated[
            str | None,
            typer.Option(
                "--functional-unit",
                help="sci: R, e.g. '1000 requests' (requests, tokens, images, samples, "
                "epochs, users...).",
            ),
        ] = None,
        count: Annotated[
            float | None,
            typer.Option(
                "--count",
                help="sci: how many units the run served (default: its metric of that name).",
            ),
        ] = None,
        bucket_s: Annotated[
            int | None,
            typer.Option(
                "--bucket-s",
                help="impact-framework: seconds per observation (1, 5, 10, 30, 60, 300, 900, "
                "3600; default: at most 500 observations).",
            ),
        ] = None,
        residual_mix: Annotated[
            Path | None,
            typer.Option(
                "--residual-mix",
                help="ghg: CSV of residual-mix factors (zone,intensity_g_per_kwh,year,source) "
                "for the market-based figure of runs without a contractual factor.",
            ),
        ] = None,
        key: Annotated[
            list[str] | None,
            typer.Option("--key", help="Trusted public key (file or fingerprint) for the check."),
        ] = None,
        ledger: LedgerOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Report a run (or a project, or a period) from records that verify first: HTML with
        charts, Markdown/LaTeX for a paper, BoAmps, a model card's co2_eq_emissions, an
        Impact Framework manifest, an SCI score, GHG Protocol Scope 2 and 3 figures."""
        if fmt is not None and fmt not in FORMATS:
            fail(f"unknown --format {fmt!r}; use one of {', '.join(FORMATS)} (or --html FILE)")
        if html_out is None and fmt is None and not json_out:
            fail(f"say what to write: --html FILE, --format {'|'.join(FORMATS)}, or --json")
        if project is not None and run is not None:
            fail("give a RUN or --project, not both")
        many = fmt in PROJECT_FORMATS or (fmt is None and (project is not None or since or until))
        if fmt in RUN_FORMATS and (project is not None or since or until or experiment):
            fail(f"--format {fmt} describes one run; give a RUN (not --project/--since/--until)")
        if fmt in PROJECT_FORMATS and run is not None:
            fail(f"--format {fmt} describes a project or a period: give --project and/or "
                 "--since/--until, not a RUN")  # fmt: skip
        if experiment is not None and not many:
            fail("--experiment selects runs of a project or a period: give --project or --since")
        if write_card is not None and fmt != "model-card":
            fail("--write updates a model card: use it with --format model-card")
        if fmt == "sci" and functional_unit is None:
            fail("--format sci needs --functional-unit, e.g. --functional-unit '1000 requests'")
        window = (_when(since, "--since", end=False), _when(until, "--until", end=True))
        fields = _task_options(task)
        if many:
            _project_report(ledger, key, project, experiment, window, fmt, html_out, output,
                            residual_mix, json_out, {"since": since, "until": until})  # fmt: skip
            return
        from carbonledger.report.data import gather, run_status

        with reading(ledger) as led, progress("building the report"):
            try:
                if run is None:
                    newest = led.list_runs(limit=1)
                    if not newest:
                        fail(f"no runs in {led.location}")
                    run = newest[0].run_id
                run_id = led.resolve_run_id(run)
                status = run_status(led, run_id, key)
                _stop_unless_verified(status, f"run {run_id}: its record")
                samples = html_out is not None or fmt == "impact-framework"
                report = gather(led, run_id, status=status, with_samples=samples)
            except CarbonLedgerError as exc:
                fail_from(exc)
        options = {"task": fields, "write": write_card, "functional_unit": functional_unit,
                   "count": count, "bucket_s": bucket_s}  # fmt: skip
        _write(report, html_out, fmt, json_out, output, options)


def _project_report(
    target: str | None,
    key: list[str] | None,
    project: str | None,
    experiment: str | None,
    window: tuple[float | None, float | None],
    fmt: str | None,
    html_out: Path | None,
    output: Path | None,
    residual_mix: Path | None,
    json_out: bool,
    period: dict[str, str | None],
) -> None:
    """A report of many runs: a project, a period, or both (the whole ledger's records are
    verified first)."""
    from carbonledger.report.data import ledger_status
    from carbonledger.report.standards.ghg import select_runs

    residual = _residual_mix(residual_mix) if residual_mix is not None else None
    with reading(target) as led, progress("building the report"):
        try:
            status = ledger_status(led, key)
            _stop_unless_verified(status, "the ledger")
            runs = select_runs(
                led.list_runs(project=project),
                experiment=experiment,
                since_unix_s=window[0],
                until_unix_s=window[1],
            )
        except CarbonLedgerError as exc:
            fail_from(exc)
        where = f"project {project!r}" if project is not None else "the period"
        if not runs:
            fail(f"no runs for {where} in {led.location}")
    selection = {"project": project, "experiment": experiment, **period}
    if fmt in PROJECT_FORMATS:
        _ghg(runs, status, selection, residual, fmt, json_out, output)
        return
    if json_out:
        emit_json({**selection, "ledger": status.to_dict(),
                   "runs": [s.to_dict() for s in runs]})  # fmt: skip
    if html_out is not None:
        from carbonledger.report.html import project_html

        title = f"carbonledger project {project}" if project else "carbonledger runs"
        try:
            text = project_html(title, runs, status)
        except CarbonLedgerError as exc:
            fail_from(exc)
        _emit(text, html_out)


def _residual_mix(path: Path) -> Any:
    from carbonledger.report.standards.ghg import read_residual_mix

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text")
    try:
        return read_residual_mix(text, str(path))
    except CarbonLedgerError as exc:
        fail_from(exc)


def _ghg(
    runs: list[RunSummary],
    status: LedgerStatus,
    selection: dict[str, Any],
    residual: Any,
    fmt: str | None,
    json_out: bool,
    output: Path | None,
) -> None:
    import json

    from carbonledger.report.standards.ghg import ghg_csv, ghg_report

    report = ghg_report(runs, status, selection=selection, residual_mix=residual)
    if fmt == "ghg-csv" and not json_out:
        _emit(ghg_csv(report), output)
        return
    data = report.to_dict()
    if json_out and output is None:
        emit_json(data)
        return
    _emit(json.dumps(data, indent=2, default=str) + "\n", output)


def _write(
    report: RunReport,
    html_out: Path | None,
    fmt: str | None,
    json_out: bool,
    output: Path | None,
    options: dict[str, Any],
) -> None:
    from carbonledger._version import __version__

    if html_out is not None:
        from carbonledger.report.html import run_html

        try:
            text = run_html(report)
        except CarbonLedgerError as exc:
            fail_from(exc)
        _emit(text, html_out)
    try:
        if fmt in ("md", "latex"):
            _paper(report, fmt, json_out, output, __version__)
        elif fmt is not None:
            _standard(report, fmt, json_out, output, options, __version__)
        elif json_out:
            emit_json({"summary": report.summary.to_dict(),
                       "ledger": None if report.ledger is None else report.ledger.to_dict()})  # fmt: skip
    except CarbonLedgerError as exc:
        fail_from(exc)


def _paper(report: RunReport, fmt: str, json_out: bool, output: Path | None, version: str) -> None:
    from carbonledger.report.paper import paper_statement

    statement = paper_statement(
        report.summary,
        fmt,  # type: ignore[arg-type]
        version=version,
        status=report.ledger,
    )
    if json_out:
        emit_json({"format": fmt, "statement": statement, "summary": report.summary.to_dict(),
                   "ledger": None if report.ledger is None else report.ledger.to_dict()})  # fmt: skip
    else:
        _emit(statement, output)


def _standard(
    report: RunReport,
    fmt: str,
    json_out: bool,
    output: Path | None,
    options: dict[str, Any],
    version: str,
) -> None:
    """One run in a standard's format (see :mod:`carbonledger.report.standards`)."""
    import json
    import time

    task: dict[str, str] = options["task"]
    if fmt == "boamps":
        from carbonledger.report.standards.boamps import boamps_report

        data: Any = boamps_report(report, task, version=version, now_unix_s=time.time())
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "model-card":
        _model_card(report, task, json_out, output, options["write"], version)
        return
    elif fmt == "impact-framework":
        from carbonledger.report.standards.impact import impact_manifest, manifest_yaml

        data = impact_manifest(report, version=version, bucket_s=options["bucket_s"])
        text = manifest_yaml(data)
    else:
        from carbonledger.report.standards.sci import parse_functional_unit, sci, sci_text

        unit = parse_functional_unit(options["functional_unit"])
        result = sci(report.summary, unit, report.ledger, count=options["count"])
        data, text = result.to_dict(), sci_text(result)
    if json_out and output is None:
        emit_json(data)
    elif json_out:
        _emit(json.dumps(data, indent=2, default=str) + "\n", output)
    else:
        _emit(text, output)


def _model_card(
    report: RunReport,
    task: dict[str, str],
    json_out: bool,
    output: Path | None,
    card: Path | None,
    version: str,
) -> None:
    from carbonledger.report.standards.model_card import (
        co2_eq_emissions,
        metadata_yaml,
        update_card,
    )

    block = co2_eq_emissions(report.summary, report.ledger, task, version=version)
    if card is not None:
        try:
            text = card.read_text(encoding="utf-8")
        except FileNotFoundError:
            fail(
                f"no model card at {card}: create it first, or leave out --write to print the block"
            )
        except OSError as exc:
            fail(f"cannot read {card}: {exc.strerror or exc}")
        except UnicodeDecodeError:
            fail(f"{card} is not UTF-8 text")
        _emit(update_card(text, block), card)
        return
    if json_out:
        from carbonledger.report.standards import record_dict

        emit_json({"co2_eq_emissions": block, "record": record_dict(report.ledger)})
        return
    _emit(metadata_yaml(block), output)
