"""The dashboard application (FastAPI). Every request opens the ledger read-only, reads,
and closes it: nothing is ever written, and a running run's figures are always current."""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from carbonledger.errors import CarbonLedgerError, InputError
from carbonledger.report.text import format_energy_j, format_mass_g
from carbonledger.web.security import COOKIE, token_matches

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app"]

#: how often a running run's page asks for fresh figures (milliseconds)
REFRESH_MS = 3000

_LIVE_JS = """
<script>
(function(){
  const status = document.body.dataset.status;
  if (status !== "running") return;
  async function refresh(){
    const r = await fetch("/api/runs/" + document.body.dataset.run + "/figures");
    if (!r.ok) return;
    const figs = await r.json();
    for (const f of figs.figures) {
      const el = document.getElementById("chart-" + f.id);
      if (el) Plotly.react(el, f.figure.data, f.figure.layout);
    }
    document.getElementById("totals").textContent = figs.totals;
    if (figs.status !== "running") { clearInterval(timer); }
  }
  const timer = setInterval(refresh, REFRESH_MS);
})();
</script>
""".replace("REFRESH_MS", str(REFRESH_MS))


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _tree(summaries: list[Any]) -> dict[str, Any]:
    """projects -> experiments -> runs, with energy and CO2e totals at each level."""
    projects: dict[str, Any] = {}
    for s in summaries:
        p = projects.setdefault(s.project, {"energy_j": 0.0, "co2e_g": 0.0, "experiments": {}})
        e = p["experiments"].setdefault(s.experiment, {"energy_j": 0.0, "co2e_g": 0.0, "runs": []})
        for node in (p, e):
            node["energy_j"] += s.energy_j
            node["co2e_g"] += s.co2e_g
        e["runs"].append(
            {"run_id": s.run_id, "status": s.status, "started_unix_s": s.started_unix_s,
             "duration_s": s.duration_s, "energy_j": s.energy_j, "co2e_g": s.co2e_g}
        )  # fmt: skip
    return {
        "energy_j": sum(s.energy_j for s in summaries),
        "co2e_g": sum(s.co2e_g for s in summaries),
        "runs": len(summaries),
        "projects": projects,
    }


def _tree_html(tree: dict[str, Any]) -> str:
    out = ["<ul class='projects'>"]
    for pname, p in sorted(tree["projects"].items()):
        out.append(
            f"<li><b>{_e(pname)}</b> — {_e(format_energy_j(p['energy_j']))}, "
            f"{_e(format_mass_g(p['co2e_g']))} CO2e<ul>"
        )
        for ename, e in sorted(p["experiments"].items()):
            out.append(
                f"<li>{_e(ename)} — {_e(format_energy_j(e['energy_j']))}, "
                f"{_e(format_mass_g(e['co2e_g']))}<ul>"
            )
            for r in e["runs"]:
                out.append(
                    f"<li><a class='run' href='/runs/{_e(r['run_id'])}'>{_e(r['run_id'])}</a> "
                    f"{_e(r['status'])} {_e(format_energy_j(r['energy_j']))} "
                    f"{_e(format_mass_g(r['co2e_g']))}</li>"
                )
            out.append("</ul></li>")
        out.append("</ul></li>")
    return "".join(out) + "</ul>"


def create_app(ledger_target: str | None = None, *, token: str | None = None) -> Any:
    """The dashboard over the ledger ``ledger_target`` (a SQLite path or postgresql:// URL;
    None: the default ledger). With ``token``, every request must carry it (header
    ``Authorization: Bearer T``, ``?token=T``, or the cookie set by a ``?token=`` visit)."""
    from fastapi import FastAPI

    app = FastAPI(title="carbonledger", docs_url=None, redoc_url=None, openapi_url=None)
    if token is not None:
        _add_token_check(app, token)
    reader = _Reader(ledger_target)
    _add_api(app, reader)
    _add_pages(app, reader)
    return app


class _Reader:
    """Opens the ledger read-only for one request at a time."""

    def __init__(self, target: str | None) -> None:
        self.target = target

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

    def run_report(self, led: Any, run_id: str, samples: bool = True, verify: bool = False) -> Any:
        from fastapi import HTTPException

        from carbonledger.report.data import gather, run_status

        try:
            full = led.resolve_run_id(run_id)
            status = run_status(led, full) if verify else None
            return gather(led, full, status=status, with_samples=samples)
        except InputError as exc:
            raise HTTPException(404, str(exc)) from None


def _add_token_check(app: FastAPI, token: str) -> None:
    """Every request must carry ``token`` (header, query or cookie)."""
    from fastapi import Request, Response
    from fastapi.responses import PlainTextResponse

    @app.middleware("http")
    async def require_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else None
        from_query = request.query_params.get("token")
        given = given or from_query or request.cookies.get(COOKIE)
        if not token_matches(token, given):
            return PlainTextResponse("a valid token is required", status_code=401)
        response = await call_next(request)
        if from_query:
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response


def _add_api(app: FastAPI, reader: _Reader) -> None:
    """The JSON API and the static plotly.js."""
    from fastapi import HTTPException, Response
    from fastapi.responses import JSONResponse

    reading, run_report = reader.reading, reader.run_report

    @app.get("/static/plotly.min.js")
    def plotly_js() -> Response:
        from plotly.offline import get_plotlyjs

        return Response(get_plotlyjs(), media_type="application/javascript")

    @app.get("/api/runs")
    def api_runs(project: str | None = None) -> JSONResponse:
        with reading() as led:
            return JSONResponse([s.to_dict() for s in led.list_runs(project=project)])

    @app.get("/api/projects")
    def api_projects() -> JSONResponse:
        with reading() as led:
            return JSONResponse(_tree(led.list_runs()))

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
        from carbonledger.report.figures import run_figures

        with reading() as led:
            report = run_report(led, run_id)
        s = report.summary
        figs = [{"id": n, "figure": json.loads(f.to_json())} for n, f in run_figures(report)]
        totals = f"{format_energy_j(s.energy_j)}, {format_mass_g(s.co2e_g)} CO2e ({s.status})"
        return JSONResponse({"status": s.status, "totals": totals, "figures": figs})

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


def _add_pages(app: FastAPI, reader: _Reader) -> None:
    """The HTML pages: the runs tree and a run."""
    from fastapi.responses import HTMLResponse

    reading, run_report = reader.reading, reader.run_report

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        from carbonledger.report.data import ledger_status
        from carbonledger.report.figures import project_figures
        from carbonledger.report.html import figure_divs, ledger_line, page

        with reading() as led:
            runs = led.list_runs()
            status = ledger_status(led)
        tree = _tree(runs)
        body = (
            "<h1>carbonledger</h1>"
            f"<p id='org-totals'>Organisation: {tree['runs']} runs, "
            f"{_e(format_energy_j(tree['energy_j']))}, {_e(format_mass_g(tree['co2e_g']))} "
            f"CO2e</p>{ledger_line(status)}{_tree_html(tree)}"
            + (figure_divs(project_figures(runs)) if runs else "<p>No runs yet.</p>")
        )
        return page("carbonledger", body)

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(run_id: str, countries: bool = False) -> str:
        from carbonledger.report.html import page, run_body
        from carbonledger.report.regions import rank_regions_for_run

        with reading() as led:
            report = run_report(led, run_id, verify=True)
        s = report.summary
        # cloud regions: places a team can run; countries only when asked (?countries=1)
        options = rank_regions_for_run(s, countries=countries)[:10]
        regions = "".join(
            f"<tr><td>{_e(o.code)}</td><td>{_e(o.name)}</td>"
            f"<td>{_e(format_mass_g(o.co2e_g))}</td><td>{_e(format_mass_g(o.saving_g))}</td></tr>"
            for o in options
        )
        where = "cloud regions and countries" if countries else "cloud regions"
        other = (
            f"<a href='/runs/{_e(s.run_id)}'>cloud regions only</a>"
            if countries
            else f"<a href='/runs/{_e(s.run_id)}?countries=1'>countries too</a>"
        )
        body = (
            "<p><a href='/'>all runs</a></p>"
            f"<p>Totals: <span id='totals'>{_e(format_energy_j(s.energy_j))}, "
            f"{_e(format_mass_g(s.co2e_g))} CO2e ({_e(s.status)})</span></p>"
            + run_body(report)
            + f"<h2 id='elsewhere'>The same energy in other {where}</h2>"
            f"<p><small>{other}</small></p><table><tr><th>place</th><th>name</th>"
            f"<th>CO2e</th><th>saving</th></tr>{regions}</table>"
        )
        text = page(f"run {s.run_id}", body)
        return text.replace(
            "<body>", f"<body data-run='{_e(s.run_id)}' data-status='{_e(s.status)}'>", 1
        ).replace("</body>", _LIVE_JS + "</body>")
