"""The dashboard's charts, and how a page carries them.

A page never holds an inline script (its Content-Security-Policy forbids them): each figure
travels as JSON in a ``<script type="application/json">`` block, and ``/static/dashboard.js``
draws it with plotly.js. Axes are in the unit the page's tables use for the chart's largest
value, hover labels are the tables' own text (:mod:`carbonledger.report.format`), and runs
are named by their name and date (:func:`carbonledger.report.aggregate.run_labels`), never
by id alone.

The figures are Plotly's figure JSON written directly (``{"data": [...], "layout": {...}}``),
not ``plotly.graph_objects`` (which validates and deep-copies its template per figure: 70 ms
a chart); plotly's ``plotly_white`` template travels once per page
(:func:`template_block`) and the script puts it under each layout.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from carbonledger.models import RunSummary
from carbonledger.report import format as fmt
from carbonledger.report.aggregate import MonthTotals, Totals, run_labels
from carbonledger.report.text import printable

__all__ = [
    "PER_RUN_LIMIT",
    "cumulative_figure",
    "figure_block",
    "monthly_figure",
    "per_run_figure",
    "projects_figure",
    "template_block",
]

#: the most runs drawn as bars (the latest ones)
PER_RUN_LIMIT = 60

Figure = dict[str, Any]


def _layout(title: str, **more: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "height": 360,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        **more,
    }


def _when(t: float) -> str:
    """A moment as plotly.js reads a date (UTC, no zone: the axes say UTC)."""
    return _dt.datetime.fromtimestamp(t, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _range_text(t: Totals) -> str:
    return fmt.with_range(t.co2e_g, t.co2e_low_g, t.co2e_high_g, fmt.mass)


def _json(value: Any) -> str:
    """JSON safe inside ``<script>``: ``<`` ``>`` ``&`` as ``\\u003c``..., non-ASCII escaped."""
    from carbonledger.report.export import json_safe  # NaN (a damaged run): null, a gap

    text = json.dumps(json_safe(value), separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def _template() -> str:
    from carbonledger.report.figures import require_plotly

    require_plotly()
    import plotly.io as pio

    return _json(pio.templates["plotly_white"].to_plotly_json())


def template_block() -> str:
    """plotly's ``plotly_white`` template, once per page, for the figures without one."""
    return f'<script type="application/json" id="chart-template">{_template()}</script>'


def figure_block(name: str, figure: Any) -> str:
    """An empty chart ``<div>`` and the figure's JSON (a figure of this module, or a
    ``plotly.graph_objects`` figure)."""
    data = figure if isinstance(figure, dict) else json.loads(figure.to_json())
    chart = f"chart-{html.escape(name, quote=True)}"
    return (
        f'<div class="chart" id="{chart}"></div>'
        f'<script type="application/json" class="figure" data-chart="{chart}">{_json(data)}'
        "</script>"
    )


def cumulative_figure(summaries: Sequence[RunSummary], title: str) -> Figure:
    """CO2e added up run by run, in order of start (a step at each run), with the range of
    the total as a band."""
    runs = sorted(summaries, key=lambda s: (s.started_unix_s, s.run_id))
    total = low = high = 0.0
    cum, lows, highs = [], [], []
    for s in runs:
        total, low, high = total + s.co2e_g, low + s.co2e_low_g, high + s.co2e_high_g
        cum.append(total)
        lows.append(low)
        highs.append(high)
    size, unit = fmt.mass_unit(highs)
    when = [_when(s.started_unix_s) for s in runs]
    labels = run_labels(runs)
    line = {"shape": "hv", "width": 0}
    data = [
        {"type": "scatter", "x": when, "y": [v / size for v in highs], "mode": "lines",
         "line": line, "hoverinfo": "skip", "showlegend": False},
        {"type": "scatter", "x": when, "y": [v / size for v in lows], "mode": "lines",
         "line": line, "fill": "tonexty", "fillcolor": "rgba(31,119,180,0.18)",
         "name": "range", "hoverinfo": "skip"},
        {"type": "scatter", "x": when, "y": [v / size for v in cum], "mode": "lines+markers",
         "line": {"shape": "hv"}, "name": "CO2e", "hoverinfo": "text",
         "hovertext": [f"{label}<br>total {fmt.with_range(c, lo, hi, fmt.mass)}"
                       for label, c, lo, hi in zip(labels, cum, lows, highs, strict=True)]},
    ]  # fmt: skip
    layout = _layout(
        title,
        xaxis={"type": "date", "title": {"text": "run start (UTC)"}},
        yaxis={"title": {"text": f"CO2e ({unit})"}, "rangemode": "tozero"},
    )
    return {"data": data, "layout": layout}


def per_run_figure(summaries: Sequence[RunSummary], title: str = "CO2e per run") -> Figure:
    """A bar per run (the latest :data:`PER_RUN_LIMIT`, oldest left), labelled by name and
    date, a colour per experiment, error bars the estimate range."""
    runs = sorted(summaries, key=lambda s: (s.started_unix_s, s.run_id))[-PER_RUN_LIMIT:]
    labels = run_labels(runs)
    size, unit = fmt.mass_unit(s.co2e_high_g for s in runs)
    shown = f" (the latest {len(runs)} of {len(summaries)})" if len(runs) < len(summaries) else ""
    experiments = list(dict.fromkeys(s.experiment for s in runs))
    data = []
    for experiment in experiments:
        mine = [(label, s) for label, s in zip(labels, runs, strict=True)
                if s.experiment == experiment]  # fmt: skip
        data.append(
            {
                "type": "bar", "x": [label for label, _ in mine],
                "y": [s.co2e_g / size for _, s in mine], "name": printable(experiment),
                "hoverinfo": "text",
                "hovertext": [
                    f"{label} ({s.run_id[:8]}, {s.status})<br>"
                    f"CO2e {fmt.with_range(s.co2e_g, s.co2e_low_g, s.co2e_high_g, fmt.mass)}<br>"
                    f"energy {fmt.energy(s.energy_j)}, {fmt.percent(s.measured_share)} measured"
                    for label, s in mine
                ],
                "error_y": {"type": "data",
                            "array": [(s.co2e_high_g - s.co2e_g) / size for _, s in mine],
                            "arrayminus": [(s.co2e_g - s.co2e_low_g) / size for _, s in mine]},
            }
        )  # fmt: skip
    layout = _layout(
        title + shown + " · error bars: estimate range",
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": labels,
               "automargin": True},
        yaxis={"title": {"text": f"CO2e ({unit})"}, "rangemode": "tozero"},
        # one bar per label: overlaid traces keep each bar centred on its label
        barmode="overlay", bargap=0.15, showlegend=len(experiments) > 1,
    )  # fmt: skip
    return {"data": data, "layout": layout}


def monthly_figure(months: Sequence[MonthTotals], title: str, by: str = "project") -> Figure:
    """CO2e per UTC month, a bar stacked by ``by`` (project or experiment); hover: the part's
    CO2e with its range."""
    size, unit = fmt.mass_unit(m.totals.co2e_high_g for m in months)
    names = sorted({k for m in months for k in m.parts})
    data = []
    for name in names:
        parts = [m.parts.get(name, Totals()) for m in months]
        data.append(
            {
                "type": "bar", "x": [m.month for m in months],
                "y": [p.co2e_g / size for p in parts], "name": printable(name),
                "hoverinfo": "text",
                "hovertext": [
                    f"{m.month} · {printable(name)}: {_range_text(p)} ({fmt.count(p.runs)} runs)"
                    for m, p in zip(months, parts, strict=True)
                ],
            }
        )  # fmt: skip
    layout = _layout(
        title,
        xaxis={"type": "category", "title": {"text": f"month (UTC), by {by}"}},
        yaxis={"title": {"text": f"CO2e ({unit})"}, "rangemode": "tozero"},
        barmode="stack", showlegend=len(names) > 1,
    )  # fmt: skip
    return {"data": data, "layout": layout}


def projects_figure(projects: Sequence[tuple[str, Totals]]) -> Figure:
    """CO2e per project (largest first), error bars the range."""
    ordered = sorted(projects, key=lambda p: -p[1].co2e_g)
    size, unit = fmt.mass_unit(t.co2e_high_g for _, t in ordered)
    data = [
        {
            "type": "bar", "x": [printable(name) for name, _ in ordered],
            "y": [t.co2e_g / size for _, t in ordered], "name": "CO2e", "hoverinfo": "text",
            "hovertext": [f"{printable(name)}: {_range_text(t)} ({fmt.count(t.runs)} runs)"
                          for name, t in ordered],
            "error_y": {"type": "data",
                        "array": [(t.co2e_high_g - t.co2e_g) / size for _, t in ordered],
                        "arrayminus": [(t.co2e_g - t.co2e_low_g) / size for _, t in ordered]},
        }
    ]  # fmt: skip
    layout = _layout(
        "CO2e per project · error bars: estimate range",
        xaxis={"type": "category", "automargin": True},
        yaxis={"title": {"text": f"CO2e ({unit})"}, "rangemode": "tozero"},
    )
    return {"data": data, "layout": layout}
