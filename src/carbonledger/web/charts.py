"""The dashboard's charts (Plotly figures) and how a page carries them.

A page never holds an inline script (its Content-Security-Policy forbids them): each figure
travels as JSON in a ``<script type="application/json">`` block, and ``/static/dashboard.js``
draws it. Axes are in the unit the page's tables use for the chart's largest value, hover
labels are the tables' own text (:mod:`carbonledger.report.format`), and runs are named by
their name and date (:func:`carbonledger.report.aggregate.run_labels`), never by id alone.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Sequence
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
]

#: the most runs drawn as bars (the latest ones)
PER_RUN_LIMIT = 60

_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 360,
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
}


def _go() -> Any:
    from carbonledger.report.figures import require_plotly

    return require_plotly()


def _when(t: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(t, tz=_dt.timezone.utc)


def _range_text(t: Totals) -> str:
    return fmt.with_range(t.co2e_g, t.co2e_low_g, t.co2e_high_g, fmt.mass)


def figure_block(name: str, figure: Any) -> str:
    """The figure as an empty chart ``<div>`` and its JSON (``<`` ``>`` ``&`` escaped as
    ``\\u003c``..., so no text in it can close the block)."""
    data = json.dumps(json.loads(figure.to_json()), separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    chart = f"chart-{html.escape(name, quote=True)}"
    return (
        f'<div class="chart" id="{chart}"></div>'
        f'<script type="application/json" class="figure" data-chart="{chart}">{data}</script>'
    )


def cumulative_figure(summaries: Sequence[RunSummary], title: str) -> Any:
    """CO2e added up run by run, in order of start (a step at each run), with the range of
    the total as a band."""
    go = _go()
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
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    fig.add_trace(
        go.Scatter(x=when, y=[v / size for v in highs], mode="lines", line_shape="hv",
                   line={"width": 0}, hoverinfo="skip", showlegend=False)
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=when, y=[v / size for v in lows], mode="lines", line_shape="hv",
                   line={"width": 0}, fill="tonexty", fillcolor="rgba(31,119,180,0.15)",
                   name="range", hoverinfo="skip")
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=when, y=[v / size for v in cum], mode="lines+markers", line_shape="hv",
            name="CO2e", hoverinfo="text",
            hovertext=[
                f"{printable(label)}<br>total {fmt.with_range(c, lo, hi, fmt.mass)}"
                for label, c, lo, hi in zip(labels, cum, lows, highs, strict=True)
            ],
        )
    )  # fmt: skip
    fig.update_yaxes(title_text=f"CO2e ({unit})", rangemode="tozero")
    return fig


def per_run_figure(summaries: Sequence[RunSummary], title: str = "CO2e per run") -> Any:
    """A bar per run (the latest :data:`PER_RUN_LIMIT`, oldest left), labelled by name and
    date, a colour per experiment, error bars the estimate range."""
    go = _go()
    runs = sorted(summaries, key=lambda s: (s.started_unix_s, s.run_id))[-PER_RUN_LIMIT:]
    labels = [printable(label) for label in run_labels(runs)]
    size, unit = fmt.mass_unit(s.co2e_high_g for s in runs)
    shown = f" (the latest {len(runs)} of {len(summaries)})" if len(runs) < len(summaries) else ""
    fig = go.Figure(layout={**_LAYOUT, "title": title + shown + " · error bars: estimate range"})
    experiments = list(dict.fromkeys(s.experiment for s in runs))
    for experiment in experiments:
        mine = [
            (label, s) for label, s in zip(labels, runs, strict=True) if s.experiment == experiment
        ]
        fig.add_trace(
            go.Bar(
                x=[label for label, _ in mine], y=[s.co2e_g / size for _, s in mine],
                name=printable(experiment), hoverinfo="text",
                hovertext=[
                    f"{label} ({s.run_id[:8]}, {s.status})<br>"
                    f"CO2e {fmt.with_range(s.co2e_g, s.co2e_low_g, s.co2e_high_g, fmt.mass)}<br>"
                    f"energy {fmt.energy(s.energy_j)}, {fmt.percent(s.measured_share)} measured"
                    for label, s in mine
                ],
                error_y={"type": "data",
                         "array": [(s.co2e_high_g - s.co2e_g) / size for _, s in mine],
                         "arrayminus": [(s.co2e_g - s.co2e_low_g) / size for _, s in mine]},
            )
        )  # fmt: skip
    fig.update_xaxes(categoryorder="array", categoryarray=labels, automargin=True)
    fig.update_yaxes(title_text=f"CO2e ({unit})", rangemode="tozero")
    # one bar per label: overlaid traces keep each bar centred on its label
    fig.update_layout(showlegend=len(experiments) > 1, barmode="overlay", bargap=0.15)
    return fig


def monthly_figure(months: Sequence[MonthTotals], title: str, by: str = "project") -> Any:
    """CO2e per UTC month, a bar stacked by ``by`` (project or experiment); hover: the part's
    CO2e with its range."""
    go = _go()
    size, unit = fmt.mass_unit(m.totals.co2e_high_g for m in months)
    names = sorted({k for m in months for k in m.parts})
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    for name in names:
        parts = [m.parts.get(name, Totals()) for m in months]
        fig.add_trace(
            go.Bar(
                x=[m.month for m in months], y=[p.co2e_g / size for p in parts],
                name=printable(name), hoverinfo="text",
                hovertext=[
                    f"{m.month} · {printable(name)}: {_range_text(p)} ({fmt.count(p.runs)} runs)"
                    for m, p in zip(months, parts, strict=True)
                ],
            )
        )  # fmt: skip
    fig.update_xaxes(type="category", title_text=f"month (UTC), by {by}")
    fig.update_yaxes(title_text=f"CO2e ({unit})", rangemode="tozero")
    fig.update_layout(barmode="stack", showlegend=len(names) > 1)
    return fig


def projects_figure(projects: Sequence[tuple[str, Totals]]) -> Any:
    """CO2e per project (largest first), error bars the range."""
    go = _go()
    ordered = sorted(projects, key=lambda p: -p[1].co2e_g)
    size, unit = fmt.mass_unit(t.co2e_high_g for _, t in ordered)
    fig = go.Figure(layout={**_LAYOUT, "title": "CO2e per project · error bars: estimate range"})
    fig.add_trace(
        go.Bar(
            x=[printable(name) for name, _ in ordered], y=[t.co2e_g / size for _, t in ordered],
            hoverinfo="text", name="CO2e",
            hovertext=[f"{printable(name)}: {_range_text(t)} ({fmt.count(t.runs)} runs)"
                       for name, t in ordered],
            error_y={"type": "data", "array": [(t.co2e_high_g - t.co2e_g) / size for _, t in ordered],
                     "arrayminus": [(t.co2e_g - t.co2e_low_g) / size for _, t in ordered]},
        )
    )  # fmt: skip
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(title_text=f"CO2e ({unit})", rangemode="tozero")
    return fig
