"""The dashboard's HTML pages: the runs table, the projects, a project, an experiment, the
monthly totals, the ledger's verification and a run (:mod:`.app` builds the application and
its JSON, downloads and guards).

Like :mod:`.app`, this module keeps its annotations evaluated at definition time: FastAPI
reads the routes' parameter types from them.
"""

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from carbonledger.models import RunSummary
from carbonledger.report import format as fmt
from carbonledger.web.query import request_query

if TYPE_CHECKING:
    from fastapi import FastAPI

    from carbonledger.report.aggregate import ExperimentComparison
    from carbonledger.web.app import Reader

__all__ = ["REFRESH_MS", "add_pages", "compared_project", "over_time"]

#: how often a running run's page asks for fresh figures (milliseconds)
REFRESH_MS = 3000


def add_pages(app: "FastAPI", reader: "Reader") -> None:
    """The HTML pages."""
    from dataclasses import replace

    from fastapi import HTTPException, Request, Response
    from fastapi.responses import HTMLResponse, RedirectResponse

    from carbonledger.report.aggregate import (
        COMPARED_STATUS,
        compare_experiments,
        monthly_totals,
        totals,
    )
    from carbonledger.web import charts, views
    from carbonledger.web.views import e, layout

    reading = reader.reading

    def footer(led: Any) -> str:
        return f"Read-only view of the ledger {e(led.location)}."

    @app.get("/", response_class=HTMLResponse)
    def runs_page(request: Request) -> Response:
        query = request_query(request)
        with reading() as led:
            every = reader.runs(led)
            where = footer(led)
        chosen = query.sorted(query.filter.apply(every))
        pages = max(1, -(-len(chosen) // query.per))
        if query.page > pages:
            query = replace(query, page=pages)
        if request.query_params.multi_items() != query.params():
            # the form sends every field: the link to share is the short, canonical one
            return RedirectResponse(query.url("/"), status_code=303)
        projects = sorted({s.project for s in every})
        experiments = sorted(
            {s.experiment for s in every if query.filter.project in (None, s.project)}
        )
        csv_url = query.url("/runs.csv", sort="started", descending=True, page=1)
        body = (
            "<h1>Runs</h1>"
            + views.filter_form(query, projects, experiments)
            + views.totals_line(totals(chosen))
            + f'<p class="downloads"><a id="csv" href="{e(csv_url)}">Download CSV</a>'
            "<small>the filtered runs, with the columns of <code>carbonledger export --csv"
            "</code></small></p>" + views.runs_table(query, query.page_of(chosen), len(chosen))
        )
        return HTMLResponse(layout("Runs", body, current="/", footer=where))

    @app.get("/projects", response_class=HTMLResponse)
    def projects_page() -> str:
        with reading() as led:
            every = reader.runs(led)
            where = footer(led)
        by_project: dict[str, list[RunSummary]] = {}
        for s in every:
            by_project.setdefault(s.project, []).append(s)
        items = [(name, totals(runs)) for name, runs in sorted(by_project.items())]
        rows = "".join(
            views.totals_row(
                ("project", f'<a href="{e(views.project_url(name))}">{e(name)}</a>'),
                t,
                ("experiments", e(fmt.count(len({s.experiment for s in by_project[name]})))),
                ("last run (UTC)", e(fmt.moment(t.last_started_unix_s or 0)[:16])),
            )
            for name, t in items
        )
        body = (
            "<h1>Projects</h1>"
            + views.totals_line(totals(every))
            + '<div class="table-wrap"><table class="projects stack"><thead><tr><th>project</th>'
            "<th>runs</th><th>energy</th><th>measured</th><th>CO2e</th><th>experiments</th>"
            f"<th>last run (UTC)</th></tr></thead><tbody>{rows}</tbody></table></div>"
            + (charts.figure_block("projects", charts.projects_figure(items)) if items else "")
        )
        return layout("Projects", body, charts=bool(items), current="/projects", footer=where)

    @app.get("/project", response_class=HTMLResponse)
    def project_page(name: str, baseline: str | None = None) -> str:
        with reading() as led:
            runs = [s for s in reader.runs(led) if s.project == name]
            where = footer(led)
        base, entries = compared_project(runs, name, baseline)
        assert base is not None
        months = monthly_totals(runs, by="experiment")
        completed = {
            x.experiment: [s for s in runs if s.experiment == x.experiment
                           and s.status == COMPARED_STATUS]
            for x in entries
        }  # fmt: skip
        choices = " ".join(
            f'<a href="{e(views.project_url(name) + "&" + urlencode({"baseline": x.experiment}))}">'
            f"{e(x.experiment)}</a>"
            for x in entries
            if x.experiment != base
        )
        table_url = "/?" + urlencode({"project": name})
        csv_url = "/runs.csv?" + urlencode({"project": name})
        body = (
            views.crumbs(("Projects", "/projects"), (name, None))
            + f"<h1>Project {e(name)}</h1>"
            + over_time(runs, table_url, csv_url, "its runs in the table")
            + charts.figure_block("months", charts.monthly_figure(
                months, "CO2e per month, by experiment", by="experiment"))
            + views.months_table(months, "experiment")
            + "<h2>Runs</h2>"
            + charts.figure_block("per_run", charts.per_run_figure(runs))
            + "<h2>Experiments compared</h2>"
            f"<p>Each experiment's completed runs (B) against those of the baseline "
            f"<b>{e(base)}</b> (A): the mean per run, the difference B − A, whether it lies "
            "beyond both sides' estimate ranges (measurement uncertainty) and beyond the "
            "run-to-run spread (2 standard errors, Welch; needs 2 runs a side), and what "
            "else differs between them."
            + (f" Compare with another baseline: {choices}." if choices else "")
            + "</p>"
            + views.comparison_table(base, entries, completed, name)
        )  # fmt: skip
        return layout(f"Project {name}", body, charts=True, current="/projects", footer=where)

    @app.get("/experiment", response_class=HTMLResponse)
    def experiment_page(project: str, name: str) -> str:
        with reading() as led:
            in_project = [s for s in reader.runs(led) if s.project == project]
            where = footer(led)
        runs = [s for s in in_project if s.experiment == name]
        if not runs:
            raise HTTPException(404, f"no runs of experiment {name!r} in project {project!r}")
        others = sorted({s.experiment for s in in_project} - {name})
        completed = {
            x: [s for s in in_project if s.experiment == x and s.status == COMPARED_STATUS]
            for x in [name, *others]
        }
        newest = sorted(runs, key=lambda s: (-s.started_unix_s, s.run_id))[:20]
        table_url = "/?" + urlencode({"project": project, "experiment": name})
        csv_url = "/runs.csv?" + urlencode({"project": project, "experiment": name})
        compared = ""
        for other in others:  # this experiment as B, the other as A (the baseline)
            _, entries = compare_experiments(in_project, other)
            pair = [x for x in entries if x.experiment in (other, name)]
            compared += f"<h3>against {e(other)}</h3>" + views.comparison_table(
                other, pair, completed, project
            )
        body = (
            views.crumbs(("Projects", "/projects"), (project, views.project_url(project)),
                         (name, None))
            + f"<h1>Experiment {e(name)} <small>of {e(project)}</small></h1>"
            + over_time(runs, table_url, csv_url, "all its runs in the table")
            + "<h2>Runs</h2>"
            + charts.figure_block("per_run", charts.per_run_figure(runs))
            + f"<p>The newest {len(newest)} of {fmt.count(len(runs))} runs:</p>"
            + '<div class="table-wrap"><table class="runs stack"><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in ("run", "project", "experiment", "tags",
                      "started (UTC)", "duration", "energy", "CO2e", "measured", "status"))
            + f"</tr></thead><tbody>{views.run_rows(newest)}</tbody></table></div>"
            + "<h2>Compared with the other experiments of the project</h2>"
            + ("<p>Completed runs, this experiment as B against each other as A (the mean "
               "per run, B − A, and whether the difference lies beyond the estimate ranges "
               "and the run-to-run spread).</p>" + compared
               if others else "<p>The project has no other experiment.</p>")
        )  # fmt: skip
        return layout(f"Experiment {name}", body, charts=True, current="/projects", footer=where)

    @app.get("/months", response_class=HTMLResponse)
    def months_page() -> str:
        with reading() as led:
            every = reader.runs(led)
            where = footer(led)
        months = monthly_totals(every, by="project")
        body = (
            "<h1>Monthly totals</h1><p>The organisation's runs by UTC month of their start "
            "(a run counts whole in the month it started); ranges add up the runs' ranges.</p>"
            + views.totals_line(totals(every))
            + (
                charts.figure_block(
                    "months", charts.monthly_figure(months, "CO2e per month, by project")
                )
                + views.months_table(months, "project")
                if months
                else ""
            )
        )
        return layout("Months", body, charts=bool(months), current="/months", footer=where)

    @app.get("/verify", response_class=HTMLResponse)
    def verify_page() -> str:
        from carbonledger.report.data import ledger_status
        from carbonledger.report.html import ledger_line

        with reading() as led:
            status = ledger_status(led)
            where = footer(led)
        problems = "".join(f"<li>{e(p)}</li>" for p in status.problems[:200])
        body = (
            "<h1>Verification</h1><p>Every record of the ledger checked against its signatures "
            "and the keys you trust (the run pages check their own run).</p>"
            + ledger_line(status)
            + (f"<h2>Problems</h2><ul>{problems}</ul>" if problems else "")
        )
        return layout("Verify", body, current="/verify", footer=where)

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(run_id: str, countries: bool = False) -> str:
        from carbonledger.report.html import run_body
        from carbonledger.report.regions import rank_regions_for_run

        with reading() as led:
            report = reader.run_report(led, run_id, verify=True)
            where = footer(led)
        s = report.summary
        # cloud regions: places a team can run; countries only when asked (?countries=1)
        options = rank_regions_for_run(s, countries=countries)[:10]
        regions = "".join(
            f"<tr><td>{e(o.code)}</td><td>{e(o.name)}</td>"
            f"<td>{e(fmt.mass(o.co2e_g))}</td><td>{e(fmt.mass(o.saving_g))}</td></tr>"
            for o in options
        )
        where_to = "cloud regions and countries" if countries else "cloud regions"
        other = (
            f"<a href='{e(views.run_url(s.run_id))}'>cloud regions only</a>"
            if countries
            else f"<a href='{e(views.run_url(s.run_id, '?countries=1'))}'>countries too</a>"
        )
        verified = report.ledger is not None and report.ledger.ok
        downloads = (
            f'<a id="report-html" href="{e(views.run_url(s.run_id, "/report.html"))}">HTML report</a>'
            f'<a id="statement-md" href="{e(views.run_url(s.run_id, "/statement.md"))}">'
            "statement for a paper (Markdown)</a>"
            if verified
            else "<span class='bad'>no report or statement: the run's record does not verify</span>"
        )
        report_body = run_body(
            report, figures=lambda figs: "".join(charts.figure_block(n, f) for n, f in figs)
        )
        # the report's title first, then the live totals and the downloads
        cut = report_body.find("</h1>") + len("</h1>")
        body = (
            views.run_heading(s)
            + report_body[:cut]
            + f'<p class="totals">Totals: <span id="totals">{e(views.run_totals(s))}</span></p>'
            + f'<p class="downloads">Downloads: {downloads}</p>'
            + report_body[cut:]
            + f"<h2 id='elsewhere'>The same energy in other {where_to}</h2>"
            f"<p><small>{other}</small></p><table><tr><th>place</th><th>name</th>"
            f"<th>CO2e</th><th>saving</th></tr>{regions}</table>"
        )  # fmt: skip
        attrs = {"run": s.run_id, "status": s.status, "refresh-ms": str(REFRESH_MS)}
        return layout(f"run {s.run_id}", body, charts=True, attrs=attrs, footer=where)


def compared_project(
    runs: list[RunSummary], name: str, baseline: str | None
) -> "tuple[str | None, list[ExperimentComparison]]":
    """A project's experiments compared against ``baseline`` (the page's and the API's):
    HTTP 404 for a project without runs, 400 for a baseline it does not have."""
    from fastapi import HTTPException

    from carbonledger.report.aggregate import compare_experiments

    if not runs:
        raise HTTPException(404, f"no runs of project {name!r}")
    try:
        return compare_experiments(runs, baseline)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def over_time(runs: list[RunSummary], table_url: str, csv_url: str, table_label: str) -> str:
    """The totals line, the links to the runs in the table and as CSV, and the cumulative
    CO2e figure of a project's or an experiment's page."""
    from carbonledger.report.aggregate import totals
    from carbonledger.web import charts, views
    from carbonledger.web.views import e

    return (
        views.totals_line(totals(runs))
        + f'<p class="downloads"><a href="{e(table_url)}">{e(table_label)}</a>'
        f'<a href="{e(csv_url)}">Download CSV</a></p>'
        "<h2>Over time</h2>"
        + charts.figure_block("cumulative", charts.cumulative_figure(
            runs, "CO2e added up, run by run (band: estimate range)"))
    )  # fmt: skip
