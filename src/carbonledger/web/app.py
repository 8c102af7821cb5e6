"""The dashboard application (FastAPI). Every request opens the ledger read-only, reads,
and closes it: nothing is ever written, and a running run's figures are always current.

Pages: the runs table (``/``: filters, sort and page in the URL, CSV of the filtered runs
at ``/runs.csv``), the projects (``/projects``), a project (``/project?name=P``), an
experiment (``/experiment?project=P&name=E``), the monthly totals (``/months``), the
ledger's verification (``/verify``) and a run (``/runs/ID``, with its HTML report and its
statement for a paper as downloads). JSON under ``/api/``.

Speed: the runs' summaries are kept between requests while the ledger's head (``COUNT:HASH``,
which every write changes) stays the same; a running run's summary is read again every time
(it changes with the clock). A table page holds one page of rows.

This module keeps its annotations evaluated at definition time (no ``from __future__ import
annotations``): FastAPI reads the routes' parameter types from them.
"""

import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from carbonledger.errors import CarbonLedgerError, InputError
from carbonledger.models import RunSummary
from carbonledger.report import format as fmt
from carbonledger.web.security import (
    COOKIE,
    CSP,
    DOWNLOAD_CSP,
    LOOPBACK_HOSTS,
    check_token,
    token_matches,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request

__all__ = ["REFRESH_MS", "create_app"]

#: how often a running run's page asks for fresh figures (milliseconds)
REFRESH_MS = 3000

#: the headers every response carries
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def create_app(
    ledger_target: str | None = None,
    *,
    token: str | None = None,
    allowed_hosts: list[str] | tuple[str, ...] | None = None,
) -> Any:
    """The dashboard over the ledger ``ledger_target`` (a SQLite path or postgresql:// URL;
    None: the default ledger).

    :param token: every request must carry it (header ``Authorization: Bearer T``, the
        cookie set by a ``?token=T`` visit, which is then redirected to the URL without the
        token); checked by :func:`~carbonledger.web.security.check_token` (InputError when
        weak).
    :param allowed_hosts: the ``Host`` names answered (others get 400; ``"*"``: any); by
        default the loopback names (:data:`~carbonledger.web.security.LOOPBACK_HOSTS`). See
        :func:`~carbonledger.web.security.allowed_hosts` for a bind address's names.
    """
    from fastapi import FastAPI
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    if token is not None:
        check_token(token)
    app = FastAPI(title="carbonledger", docs_url=None, redoc_url=None, openapi_url=None)
    reader = _Reader(ledger_target)
    _add_errors(app)
    _add_static(app)
    _add_api(app, reader)
    _add_pages(app, reader)
    _add_downloads(app, reader)
    _add_guard(app, token)
    # outermost: a request for a name the server is not bound to goes no further
    hosts = list(allowed_hosts) if allowed_hosts is not None else list(LOOPBACK_HOSTS)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)
    return app


class _Reader:
    """Opens the ledger read-only for one request at a time; keeps the runs' summaries
    while the ledger's head does not change."""

    def __init__(self, target: str | None) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._cached: tuple[str, list[RunSummary]] | None = None

    @contextmanager
    def reading(self) -> Iterator[Any]:
        from fastapi import HTTPException

        from carbonledger.ledger import open_ledger

        try:
            led = open_ledger(self.target, create=False, read_only=True)
        except CarbonLedgerError as exc:
            raise HTTPException(503, str(exc)) from None
        try:
            yield led
        finally:
            led.close()

    def runs(self, led: Any) -> list[RunSummary]:
        """Every run's summary, newest first (``Ledger.list_runs``), from memory when the
        ledger's head is the one they were read at (running runs read again)."""
        head = led.head()
        with self._lock:
            cached = self._cached
        if head and cached is not None and cached[0] == head:
            return [led.summary(s.run_id) if s.status == "running" else s for s in cached[1]]
        runs: list[RunSummary] = led.list_runs(windows=False)  # the pages need no window
        if head:
            with self._lock:
                self._cached = (head, runs)
        return runs

    def run_report(self, led: Any, run_id: str, samples: bool = True, verify: bool = False) -> Any:
        from fastapi import HTTPException

        from carbonledger.report.data import gather, run_status

        try:
            full = led.resolve_run_id(run_id)
            status = run_status(led, full) if verify else None
            return gather(led, full, status=status, with_samples=samples)
        except InputError as exc:
            raise HTTPException(404, str(exc)) from None


def _add_guard(app: "FastAPI", token: str | None) -> None:
    """The token (when there is one), the token's redirect out of the address bar, empty
    query parameters dropped, and the security headers of every response."""
    from fastapi import Request
    from fastapi.responses import PlainTextResponse, RedirectResponse, Response

    def clean_url(request: Request) -> str:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "token" and v]
        return request.url.path + ("?" + urlencode(kept) if kept else "")

    def secure(response: Response) -> Response:
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        params = request.query_params
        from_query = params.get("token")
        if token is not None:
            header = request.headers.get("authorization", "")
            bearer = header[7:] if header.lower().startswith("bearer ") else None
            ok = token_matches(token, from_query) if from_query is not None else (
                token_matches(token, bearer) or token_matches(token, request.cookies.get(COOKIE))
            )  # fmt: skip
            if not ok:
                return secure(
                    PlainTextResponse(
                        "a valid token is required: open /?token=TOKEN once in a browser, or "
                        "send Authorization: Bearer TOKEN",
                        status_code=401,
                    )
                )
        if request.method in ("GET", "HEAD") and (
            from_query is not None or any(not v for _, v in params.multi_items())
        ):
            # the token leaves the address bar (and the history); the cookie carries it
            redirect = RedirectResponse(clean_url(request), status_code=303)
            if token is not None and from_query is not None:
                redirect.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/")
            return secure(redirect)
        return secure(await call_next(request))


def _add_errors(app: "FastAPI") -> None:
    """Errors of pages are pages (JSON under /api/)."""
    from fastapi import Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.exceptions import HTTPException

    from carbonledger.web.views import e, layout

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        body = f'<h1>{exc.status_code}</h1><p class="error">{e(exc.detail)}</p>'
        return HTMLResponse(layout(str(exc.status_code), body), status_code=exc.status_code)


def _add_static(app: "FastAPI") -> None:
    """plotly.js from the installed package, and the dashboard's own script and style."""
    from importlib.resources import files

    from fastapi import HTTPException, Response

    cache = {"Cache-Control": "private, max-age=86400"}
    kinds = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}

    @app.get("/static/plotly.min.js")
    def plotly_js() -> Response:
        from plotly.offline import get_plotlyjs

        return Response(get_plotlyjs(), media_type="application/javascript", headers=cache)

    @app.get("/static/{name}")
    def static_file(name: str) -> Response:
        if name not in kinds:
            raise HTTPException(404, f"no static file {name!r}")
        text = files("carbonledger.web").joinpath("static", name).read_text(encoding="utf-8")
        return Response(text, media_type=kinds[name], headers=cache)


def _query(request: "Request") -> Any:
    from fastapi import HTTPException

    from carbonledger.web.query import parse_query

    try:
        return parse_query(request.query_params.multi_items())
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None


def _add_api(app: "FastAPI", reader: _Reader) -> None:
    """The JSON API (a figure no one knows, NaN in a damaged run, is ``null``)."""
    from fastapi import HTTPException, Request
    from fastapi.responses import JSONResponse as PlainJSONResponse

    from carbonledger.report.export import json_safe

    class JSONResponse(PlainJSONResponse):
        def render(self, content: Any) -> bytes:
            return super().render(json_safe(content))

    from carbonledger.report.aggregate import compare_experiments, monthly_totals, totals

    reading, run_report = reader.reading, reader.run_report

    @app.get("/api/runs")
    def api_runs(request: Request) -> JSONResponse:
        query = _query(request)
        with reading() as led:
            runs = query.sorted(query.filter.apply(reader.runs(led)))
        return JSONResponse([s.to_dict() for s in runs])

    @app.get("/api/projects")
    def api_projects() -> JSONResponse:
        with reading() as led:
            return JSONResponse(_tree(reader.runs(led)))

    @app.get("/api/project")
    def api_project(name: str, baseline: str | None = None) -> JSONResponse:
        with reading() as led:
            runs = [s for s in reader.runs(led) if s.project == name]
        if not runs:
            raise HTTPException(404, f"no runs of project {name!r}")
        try:
            base, entries = compare_experiments(runs, baseline)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return JSONResponse(
            {
                "project": name,
                "totals": totals(runs).to_dict(),
                "baseline": base,
                "experiments": [x.to_dict() for x in entries],
                "months": [m.to_dict() for m in monthly_totals(runs, by="experiment")],
            }
        )

    @app.get("/api/months")
    def api_months() -> JSONResponse:
        with reading() as led:
            runs = reader.runs(led)
        return JSONResponse([m.to_dict() for m in monthly_totals(runs)])

    @app.get("/api/verify")
    def api_verify() -> JSONResponse:
        from carbonledger.report.data import ledger_status

        with reading() as led:
            return JSONResponse(ledger_status(led).to_dict())

    @app.get("/api/runs/{run_id}")
    def api_run(run_id: str) -> JSONResponse:
        with reading() as led:
            return JSONResponse(run_report(led, run_id, samples=False).summary.to_dict())

    @app.get("/api/runs/{run_id}/figures")
    def api_figures(run_id: str) -> JSONResponse:
        import json

        from carbonledger.report.figures import run_figures

        with reading() as led:
            report = run_report(led, run_id)
        s = report.summary
        figs = [{"id": n, "figure": json.loads(f.to_json())} for n, f in run_figures(report)]
        return JSONResponse({"status": s.status, "totals": _run_totals(s), "figures": figs})

    @app.get("/api/runs/{run_id}/regions")
    def api_regions(
        run_id: str, top: int = 10, cloud: str = "aws,gcp,azure", countries: bool = False
    ) -> JSONResponse:
        from carbonledger.report.regions import rank_regions_for_run

        with reading() as led:
            s = run_report(led, run_id, samples=False).summary
        clouds = [c for c in cloud.split(",") if c]
        try:
            options = rank_regions_for_run(s, clouds=clouds, countries=countries)
        except InputError as exc:
            raise HTTPException(400, str(exc)) from None
        return JSONResponse([o.to_dict() for o in options[: max(top, 1)]])


def _run_totals(s: RunSummary) -> str:
    co2e = fmt.with_range(s.co2e_g, s.co2e_low_g, s.co2e_high_g, fmt.mass)
    return (
        f"{fmt.energy(s.energy_j)} ({fmt.percent(s.measured_share)} measured), "
        f"{co2e} CO2e ({s.status})"
    )


def _tree(summaries: list[RunSummary]) -> dict[str, Any]:
    """projects -> experiments -> runs, with energy and CO2e totals at each level."""
    projects: dict[str, Any] = {}
    for s in summaries:
        p = projects.setdefault(s.project, {"energy_j": 0.0, "co2e_g": 0.0, "experiments": {}})
        x = p["experiments"].setdefault(s.experiment, {"energy_j": 0.0, "co2e_g": 0.0, "runs": []})
        for node in (p, x):
            node["energy_j"] += s.energy_j
            node["co2e_g"] += s.co2e_g
        x["runs"].append(
            {"run_id": s.run_id, "status": s.status, "started_unix_s": s.started_unix_s,
             "duration_s": s.duration_s, "energy_j": s.energy_j, "co2e_g": s.co2e_g}
        )  # fmt: skip
    return {
        "energy_j": sum(s.energy_j for s in summaries),
        "co2e_g": sum(s.co2e_g for s in summaries),
        "runs": len(summaries),
        "projects": projects,
    }


def _add_pages(app: "FastAPI", reader: _Reader) -> None:
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
        query = _query(request)
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
        if not runs:
            raise HTTPException(404, f"no runs of project {name!r}")
        try:
            base, entries = compare_experiments(runs, baseline)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
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
            + views.totals_line(totals(runs))
            + f'<p class="downloads"><a href="{e(table_url)}">its runs in the table</a>'
            f'<a href="{e(csv_url)}">Download CSV</a></p>'
            "<h2>Over time</h2>"
            + charts.figure_block("cumulative", charts.cumulative_figure(
                runs, "CO2e added up, run by run (band: estimate range)"))
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
            + views.totals_line(totals(runs))
            + f'<p class="downloads"><a href="{e(table_url)}">all its runs in the table</a>'
            f'<a href="{e(csv_url)}">Download CSV</a></p>'
            "<h2>Over time</h2>"
            + charts.figure_block("cumulative", charts.cumulative_figure(
                runs, "CO2e added up, run by run (band: estimate range)"))
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
            + f'<p class="totals">Totals: <span id="totals">{e(_run_totals(s))}</span></p>'
            + f'<p class="downloads">Downloads: {downloads}</p>'
            + report_body[cut:]
            + f"<h2 id='elsewhere'>The same energy in other {where_to}</h2>"
            f"<p><small>{other}</small></p><table><tr><th>place</th><th>name</th>"
            f"<th>CO2e</th><th>saving</th></tr>{regions}</table>"
        )  # fmt: skip
        attrs = {"run": s.run_id, "status": s.status, "refresh-ms": str(REFRESH_MS)}
        return layout(f"run {s.run_id}", body, charts=True, attrs=attrs, footer=where)


def _add_downloads(app: "FastAPI", reader: _Reader) -> None:
    """The CSV of the filtered runs, and a run's HTML report and statement for a paper
    (only from a record that verifies)."""
    from fastapi import HTTPException, Request, Response

    def attachment(text: str, media_type: str, filename: str) -> Response:
        return Response(
            text,
            media_type=media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Content-Security-Policy": DOWNLOAD_CSP,
            },
        )

    def verified_report(run_id: str, samples: bool) -> Any:
        with reader.reading() as led:
            report = reader.run_report(led, run_id, samples=samples, verify=True)
        if report.ledger is None or not report.ledger.ok:
            details = "; ".join(report.ledger.problems[:3]) if report.ledger else ""
            raise HTTPException(
                409,
                f"run {report.summary.run_id}: its record does not verify, so no report is "
                f"made from it: {details}",
            )
        return report

    @app.get("/runs.csv")
    def runs_csv(request: Request) -> Response:
        from carbonledger.report.export import export_text

        query = _query(request)
        with reader.reading() as led:
            runs = query.filter.apply(reader.runs(led))
        # the order of carbonledger export: oldest first
        runs.sort(key=lambda s: (s.started_unix_s, s.run_id))
        text, _ = export_text(runs, "csv")
        return attachment(text, "text/csv; charset=utf-8", "carbonledger-runs.csv")

    @app.get("/runs/{run_id}/report.html")
    def run_report_html(run_id: str) -> Response:
        from carbonledger.report.html import run_html

        report = verified_report(run_id, samples=True)
        name = f"carbonledger-run-{_safe_name(report.summary.run_id)}.html"
        return attachment(run_html(report), "text/html; charset=utf-8", name)

    @app.get("/runs/{run_id}/statement.md")
    def run_statement(run_id: str) -> Response:
        from carbonledger._version import __version__
        from carbonledger.report.paper import paper_statement

        report = verified_report(run_id, samples=False)
        text = paper_statement(report.summary, "md", version=__version__, status=report.ledger)
        name = f"carbonledger-run-{_safe_name(report.summary.run_id)}.md"
        return attachment(text, "text/markdown; charset=utf-8", name)


def _safe_name(text: str) -> str:
    """``text`` as a file name: letters, digits, ``-`` and ``_`` only."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in text)
