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
from carbonledger.web.pages import REFRESH_MS, add_pages, compared_project
from carbonledger.web.query import request_query
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

__all__ = ["REFRESH_MS", "create_app"]


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
    reader = Reader(ledger_target)
    _add_errors(app)
    _add_static(app)
    _add_api(app, reader)
    add_pages(app, reader)
    _add_downloads(app, reader)
    _add_guard(app, token)
    # outermost: a request for a name the server is not bound to goes no further
    hosts = list(allowed_hosts) if allowed_hosts is not None else list(LOOPBACK_HOSTS)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)
    return app


class Reader:
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


def _add_api(app: "FastAPI", reader: Reader) -> None:
    """The JSON API (a figure no one knows, NaN in a damaged run, is ``null``)."""
    from fastapi import HTTPException, Request
    from fastapi.responses import JSONResponse as PlainJSONResponse

    from carbonledger.report.export import json_safe

    class JSONResponse(PlainJSONResponse):
        def render(self, content: Any) -> bytes:
            return super().render(json_safe(content))

    from carbonledger.report.aggregate import monthly_totals, totals
    from carbonledger.web import views

    reading, run_report = reader.reading, reader.run_report

    @app.get("/api/runs")
    def api_runs(request: Request) -> JSONResponse:
        query = request_query(request)
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
        base, entries = compared_project(runs, name, baseline)
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
        return JSONResponse({"status": s.status, "totals": views.run_totals(s), "figures": figs})

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


def _add_downloads(app: "FastAPI", reader: Reader) -> None:
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

        query = request_query(request)
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
