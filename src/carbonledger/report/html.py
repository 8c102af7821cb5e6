"""One self-contained HTML report (plotly.js embedded: works offline, no CDN).

Needs the ``report`` extra (``pip install carbonledger[report]``). Figures are written by
the one formatter (:mod:`carbonledger.report.format`), the same as the text summary and the
charts. A run's windows are a table of each window when there are at most
:data:`WINDOW_TABLE_LIMIT`, else a table of their name patterns (count, totals, energy per
window: mean, p50, p90, max; the largest windows named), never a row per window.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from carbonledger.models import RunSummary, WindowSummary
from carbonledger.report import format as fmt
from carbonledger.report.data import LedgerStatus, RunReport
from carbonledger.report.text import meaningful_equivalents, printable, status_text

__all__ = [
    "WINDOW_TABLE_LIMIT",
    "figure_divs",
    "ledger_line",
    "page",
    "project_body",
    "project_html",
    "run_body",
    "run_html",
    "summary_card",
    "windows_html",
]

#: a run with at most this many windows lists each; more are summarised by name pattern
WINDOW_TABLE_LIMIT = 50

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left}th{background:#f3f3f3}.bad{color:#b00}.ok{color:#070}small{color:#666}
"""


def _e(value: object) -> str:
    """``value`` safe in HTML: control characters and bidirectional overrides written as
    ``\\xNN`` escapes (:func:`~carbonledger.report.text.printable`), then HTML-escaped."""
    return html.escape(printable(value), quote=True)


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


def run_body(
    report: RunReport, figures: Callable[[Sequence[tuple[str, Any]]], str] | None = None
) -> str:
    """The report's HTML body (without plotly.js), shared with the dashboard; ``figures``
    writes the charts (default :func:`figure_divs`; the dashboard's carry no inline script)."""
    from carbonledger.report.figures import run_figures

    s = report.summary
    co2e = fmt.with_range(s.co2e_g, s.co2e_low_g, s.co2e_high_g, fmt.mass)
    facts = [
        ("Run", s.run_id), ("Project / experiment", f"{s.project} / {s.experiment}"),
        ("Status", status_text(s)), ("Started (UTC)", fmt.moment(s.started_unix_s)),
        ("Duration", fmt.duration(s.duration_s)), ("Energy (IT)", fmt.energy(s.energy_j)),
        ("Measured share", fmt.percent(s.measured_share)), ("CO2e", co2e),
    ]  # fmt: skip
    basis = [
        ("Location", s.location, s.location_source),
        ("Grid intensity", fmt.intensity(s.intensity_g_per_kwh), s.intensity_source),
        ("PUE", fmt.pue(s.pue), s.pue_source),
    ]
    if s.water_l is not None and s.wue_l_per_kwh is not None:
        water = f"{fmt.litres(s.water_l)} (WUE {fmt.sig3(s.wue_l_per_kwh)} L/kWh of IT energy)"
        basis.append(("Water (on site)", water, s.water_source))
    if s.electricity_cost is not None and s.price_per_kwh is not None:
        cost = f"{fmt.money(s.electricity_cost, s.currency)} (at {fmt.sig3(s.price_per_kwh)}/kWh)"
        basis.append(("Electricity cost", cost, s.cost_source))
    comps = [
        (
            c.component, c.device, fmt.energy(c.energy_j), fmt.watts(c.power_w),
            "measured" if c.measured else "estimated", c.method,
            "" if c.measured or c.low_j is None or c.high_j is None
            else fmt.span(c.low_j, c.high_j, fmt.energy),
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
        _table(comps, ("component", "device", "energy", "mean power", "how", "method", "range")),
    ]
    eq = meaningful_equivalents(s.co2e_g)
    if eq:
        parts.append("<p>About " + _e("; ".join(f"{v} {d}" for v, d in eq)) + ".</p>")
    metrics = s.extra.get("metrics")
    if isinstance(metrics, dict) and metrics:
        parts += ["<h2>Metrics</h2>", _table(sorted(metrics.items()), ("name", "value"))]
    parts.append(windows_html(s))
    parts.append((figures or figure_divs)(run_figures(report)))
    return "\n".join(parts)


def windows_html(summary: RunSummary) -> str:
    """The run's windows: a row each (at most :data:`WINDOW_TABLE_LIMIT`), else a row per
    name pattern (digits as ``#``); "" when the run has none."""
    from carbonledger.report.windows import group_windows

    if not summary.windows and not summary.extra.get("window_stats"):
        return ""
    if len(summary.windows) <= WINDOW_TABLE_LIMIT and not summary.extra.get("window_stats"):
        each = [
            (w.path, fmt.moment(w.started_unix_s), fmt.duration(w.duration_s),
             fmt.energy(w.energy_j), "" if w.co2e_g is None else fmt.mass(w.co2e_g))
            for w in summary.windows
        ]  # fmt: skip
        return "<h2>Windows</h2>" + _table(
            each, ("window", "started", "duration", "energy", "CO2e")
        )
    groups = group_windows(summary)
    rows = [
        (
            g.pattern, fmt.count(g.count), fmt.energy(g.energy_j), fmt.duration(g.duration_s),
            "" if g.co2e_g is None else fmt.mass(g.co2e_g), fmt.energy(g.mean_energy_j),
            "" if g.p50_energy_j is None else fmt.energy(g.p50_energy_j),
            "" if g.p90_energy_j is None else fmt.energy(g.p90_energy_j),
            fmt.energy(g.max_energy_j),
            ", ".join(f"{p} ({fmt.energy(e)})" for p, e in g.largest),
        )
        for g in groups
    ]  # fmt: skip
    total = sum(g.count for g in groups)
    head = ("pattern", "windows", "energy", "duration", "CO2e", "mean", "p50", "p90", "max",
            "largest")  # fmt: skip
    return (
        f"<h2>Windows</h2><p>{_e(fmt.count(total))} windows, summarised by name pattern "
        "(digits as #); energy per window: mean, median (p50), 90th percentile (p90), "
        "largest.</p>" + _table(rows, head)
    )


def summary_card(item: RunSummary | WindowSummary) -> str:
    """A run's or a window's footprint as a small HTML table (what a notebook shows for
    ``_carbon``): energy and how it was obtained, CO2e with its range and basis, duration,
    and a row per device. Needs nothing beyond the standard library."""
    total_j = sum(c.energy_j for c in item.components)
    measured_j = sum(c.energy_j for c in item.components if c.measured)
    share = fmt.percent(measured_j / total_j if total_j > 0 else 0.0)
    if isinstance(item, RunSummary):
        title = (
            f"carbonledger run {item.run_id} ({item.project} / {item.experiment}, {item.status})"
        )
        co2e = (
            f"{fmt.with_range(item.co2e_g, item.co2e_low_g, item.co2e_high_g, fmt.mass)} at "
            f"{fmt.intensity(item.intensity_g_per_kwh)} ({item.location}), PUE "
            f"{fmt.pue(item.pue)}"
        )
    else:
        title = f"carbonledger window {item.path}"
        co2e = "" if item.co2e_g is None else fmt.mass(item.co2e_g)
    facts = [
        ("Energy (IT)", f"{fmt.energy(total_j)} ({share} measured)"),
        ("CO2e", co2e),
        ("Duration", fmt.duration(item.duration_s)),
    ]
    devices = [
        (c.device, fmt.energy(c.energy_j), "measured" if c.measured else "estimated", c.method,
         "" if c.measured or c.low_j is None or c.high_j is None
         else fmt.span(c.low_j, c.high_j, fmt.energy))
        for c in item.components
    ]  # fmt: skip
    return (
        f"<div><b>{_e(title)}</b>{_table([f for f in facts if f[1]])}"
        + _table(devices, ("device", "energy", "how", "method", "range"))
        + "</div>"
    )


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
        (s.run_id, s.experiment, s.status, fmt.moment(s.started_unix_s),
         fmt.duration(s.duration_s), fmt.energy(s.energy_j), fmt.mass(s.co2e_g))
        for s in summaries
    ]  # fmt: skip
    return "\n".join(
        [
            f"<h1>{_e(title)}</h1>",
            f"<p>{fmt.count(len(summaries))} runs, {_e(fmt.energy(energy))}, "
            f"{_e(fmt.mass(co2e))} CO2e</p>",
            ledger_line(status),
            _table(rows, ("run", "experiment", "status", "started", "duration", "energy", "CO2e")),
            figure_divs(project_figures(summaries)) if summaries else "",
        ]
    )


def project_html(title: str, summaries: Sequence[RunSummary], status: LedgerStatus | None) -> str:
    """The self-contained HTML report of several runs (a project)."""
    return page(title, project_body(title, summaries, status), plotlyjs=_plotlyjs())
