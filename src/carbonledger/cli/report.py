"""``carbonledger report``: an HTML report with charts, or a compute statement for a paper."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carbonledger.cli._common import emit_json, fail, fail_from
from carbonledger.cli._ledger_read import JsonOpt, LedgerOpt, reading
from carbonledger.cli._progress import progress
from carbonledger.errors import CarbonLedgerError

FORMATS = ("html", "md", "latex")


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        run: Annotated[
            str | None, typer.Argument(help="A run id or unique prefix (default: the newest run).")
        ] = None,
        project: Annotated[
            str | None, typer.Option("--project", "-p", help="Report a whole project (HTML).")
        ] = None,
        html_out: Annotated[
            Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")
        ] = None,
        fmt: Annotated[
            str | None,
            typer.Option("--format", "-f", help="md or latex: a compute statement for a paper."),
        ] = None,
        key: Annotated[
            list[str] | None,
            typer.Option("--key", help="Trusted public key (file or fingerprint) for the check."),
        ] = None,
        ledger: LedgerOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Report a run (or a project): HTML with charts, or Markdown/LaTeX for a paper."""
        from carbonledger._version import __version__
        from carbonledger.report.data import gather, ledger_status, run_status

        if fmt is not None and fmt not in ("md", "latex"):
            fail(f"unknown --format {fmt!r}; use md or latex (or --html FILE)")
        if html_out is None and fmt is None and not json_out:
            fail("say what to write: --html FILE, --format md|latex, or --json")
        if project is not None and run is not None:
            fail("give a RUN or --project, not both")
        if project is not None and fmt is not None:
            fail("--format md|latex describes one run; give a RUN")
        with reading(ledger) as led, progress("building the report"):
            try:
                if project is not None:
                    status = ledger_status(led, key)
                    runs = led.list_runs(project=project)
                    if not runs:
                        fail(f"no runs for project {project!r} in {led.location}")
                    if json_out:
                        emit_json({"project": project, "ledger": status.to_dict(),
                                   "runs": [s.to_dict() for s in runs]})  # fmt: skip
                    if html_out is not None:
                        from carbonledger.report.html import project_html

                        text = project_html(f"carbonledger project {project}", runs, status)
                        _write_html(html_out, text)
                    return
                if run is None:
                    newest = led.list_runs(limit=1)
                    if not newest:
                        fail(f"no runs in {led.location}")
                    run = newest[0].run_id
                run_id = led.resolve_run_id(run)
                status = run_status(led, run_id, key)
                if not status.ok:  # a statement is only made from a record that verifies
                    details = "; ".join(status.problems[:3])
                    fail(
                        f"run {run_id}: its record does not verify, so no report is made from "
                        f"it: {details}. Run 'carbonledger verify' for the whole ledger.",
                        code=1,
                    )
                report = gather(led, run_id, status=status, with_samples=html_out is not None)
            except CarbonLedgerError as exc:
                fail_from(exc)
        _write(report, html_out, fmt, json_out, __version__)


def _write_html(path: Path, text: str) -> None:
    """Write the report to ``path`` whole (atomically: a regular file or a new path only);
    exit 2 naming the path when it cannot be (a missing folder, a FIFO, a device...)."""
    from carbonledger.report.crypto import write_atomic

    try:
        write_atomic(path, text.encode("utf-8"))
    except CarbonLedgerError as exc:
        fail_from(exc)
    typer.echo(f"wrote {path} ({len(text) / 1e6:.1f} MB)", err=True)


def _write(
    report: object, html_out: Path | None, fmt: str | None, json_out: bool, version: str
) -> None:
    from carbonledger.report.data import RunReport
    from carbonledger.report.paper import paper_statement

    assert isinstance(report, RunReport)
    if html_out is not None:
        from carbonledger.report.html import run_html

        try:
            text = run_html(report)
        except CarbonLedgerError as exc:
            fail_from(exc)
        _write_html(html_out, text)
    if fmt in ("md", "latex"):
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
            typer.echo(statement, nl=False)
    elif json_out:
        emit_json({"summary": report.summary.to_dict(),
                   "ledger": None if report.ledger is None else report.ledger.to_dict()})  # fmt: skip
