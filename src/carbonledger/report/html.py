"""One self-contained HTML report (plotly.js embedded: works offline, no CDN).

Needs the ``report`` extra (``pip install carbonledger[report]``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from carbonledger.models import RunSummary
from carbonledger.report import format as fmt
from carbonledger.report.data import LedgerStatus, RunReport
from carbonledger.report.text import format_energy_j, format_mass_g, meaningful_equivalents
from carbonledger.units import iso_utc

__all__ = [
    "figure_divs",
    "ledger_line",
    "page",
    "project_body",
    "project_html",
    "run_body",
    "run_html",
]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left}th{background:#f3f3f3}.bad{color:#b00}.ok{color:#070}small{color:#666}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(rows: Sequence[Sequence[object]], head: Sequence[str] = ()) -> str:
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>")
    out += ["<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows]
    return "".join(out) + "</table>"


def figure_divs(figures: Sequence[tuple[str, Any]]) -> str:
    """The figures as ``<div>``s that need plotly.js already on the page."""
    return "\n".join(
        fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{name}")
        for name, fig in figures
    )


def page(title: str, body: str, *, plotlyjs: str | None = None) -> str:
    """A full HTML page; ``plotlyjs`` is the library's source, embedded inline when given
    (the report), else the page loads ``/static/plotly.min.js`` (the dashboard)."""
    script = (
        f"<script>{plotlyjs}</script>"
        if plotlyjs is not None
        else '<script src="/static/plotly.min.js"></script>'
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_STYLE}</style>{script}</head><body>{body}</body></html>"
    )


def ledger_line(status: LedgerStatus | None) -> str:
    if status is None:
        return "<p>Ledger: not verified for this report.</p>"
    cls = "ok" if status.ok else "bad"
    return f'<p>Ledger: <span class="{cls}">{_e(status.text)}</span></p>'


def run_body(report: RunReport) -> str:
    """The report's HTML body (without plotly.js), shared with the dashboard."""
    from carbonledger.report.figures import run_figures

    s = report.summary
    started = iso_utc(s.started_unix_s, timespec="auto", suffix="+00:00")
    co2e = format_mass_g(s.co2e_g)
    if s.co2e_high_g > s.co2e_low_g:
        co2e += f" (range {format_mass_g(s.co2e_low_g)} – {format_mass_g(s.co2e_high_g)})"
    facts = [
        ("Run", s.run_id), ("Project / experiment", f"{s.project} / {s.experiment}"),
        ("Status", s.status), ("Started (UTC)", started), ("Duration", fmt.duration(s.duration_s)),
        ("Energy (IT)", format_energy_j(s.energy_j)),
        ("Measured share", fmt.percent(s.measured_share)), ("CO2e", co2e),
    ]  # fmt: skip
    basis = [
        ("Location", s.location, s.location_source),
        ("Grid intensity", f"{fmt.sig3(s.intensity_g_per_kwh)} gCO2e/kWh", s.intensity_source),
        ("PUE", f"{s.pue:g}", s.pue_source),
    ]
    comps = [
        (
            c.component, c.device, format_energy_j(c.energy_j),
            "measured" if c.measured else "estimated", c.method,
            "" if c.measured or c.low_j is None or c.high_j is None
            else f"{format_energy_j(c.low_j)} – {format_energy_j(c.high_j)}",
        )
        for c in s.components
    ]  # fmt: skip
    parts = [
        f"<h1>carbonledger run {_e(s.run_id)}</h1>",
        _table(facts),
        ledger_line(report.ledger),
        "<h2>Where the numbers come from</h2>",
        _table(basis, ("quantity", "value", "source")),
        "<h2>Components</h2>",
        _table(comps, ("component", "device", "energy", "how", "method", "range")),
    ]
    eq = meaningful_equivalents(s.co2e_g)
    if eq:
        parts.append("<p>About " + _e("; ".join(f"{v} {d}" for v, d in eq)) + ".</p>")
    metrics = s.extra.get("metrics")
    if isinstance(metrics, dict) and metrics:
        parts += ["<h2>Metrics</h2>", _table(sorted(metrics.items()), ("name", "value"))]
    parts.append(figure_divs(run_figures(report)))
    return "\n".join(parts)


def _plotlyjs() -> str:
    from carbonledger.report.figures import require_plotly

    require_plotly()
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def run_html(report: RunReport) -> str:
    """The self-contained HTML report of one run."""
    body = run_body(report)
    return page(f"carbonledger run {report.summary.run_id}", body, plotlyjs=_plotlyjs())


def project_body(title: str, summaries: Sequence[RunSummary], status: LedgerStatus | None) -> str:
    """Totals, a run table and the project charts (without plotly.js)."""
    from carbonledger.report.figures import project_figures

    energy = sum(s.energy_j for s in summaries)
    co2e = sum(s.co2e_g for s in summaries)
    rows = [
        (s.run_id, s.experiment, s.status, fmt.duration(s.duration_s),
         format_energy_j(s.energy_j), format_mass_g(s.co2e_g))
        for s in summaries
    ]  # fmt: skip
    return "\n".join(
        [
            f"<h1>{_e(title)}</h1>",
            f"<p>{len(summaries)} runs, {_e(format_energy_j(energy))}, "
            f"{_e(format_mass_g(co2e))} CO2e</p>",
            ledger_line(status),
            _table(rows, ("run", "experiment", "status", "duration", "energy", "CO2e")),
            figure_divs(project_figures(summaries)) if summaries else "",
        ]
    )


def project_html(title: str, summaries: Sequence[RunSummary], status: LedgerStatus | None) -> str:
    """The self-contained HTML report of several runs (a project)."""
    return page(title, project_body(title, summaries, status), plotlyjs=_plotlyjs())
