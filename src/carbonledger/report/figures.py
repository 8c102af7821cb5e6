"""The report's charts as Plotly figures (needs the ``report`` extra: ``pip install
carbonledger[report]``). Imported only by the HTML report and the dashboard.

Axes are in the unit the tables use for the chart's largest value, and hover labels are the
tables' own text (:mod:`carbonledger.report.format`), so a chart and its table agree. A run
with more than :data:`WINDOW_CHART_LIMIT` windows gets, instead of a bar per window, the
energy per window of its most frequent name pattern over the run (means of at most
:data:`WINDOW_BINS` consecutive groups)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from carbonledger.accounting import co2e_g
from carbonledger.errors import InputError
from carbonledger.models import RunSummary
from carbonledger.report import format as fmt
from carbonledger.report.data import RunReport, cumulative_energy
from carbonledger.report.samples import power_series

__all__ = ["WINDOW_BINS", "WINDOW_CHART_LIMIT", "project_figures", "require_plotly", "run_figures"]

#: most windows drawn one bar each on the run's timeline
WINDOW_CHART_LIMIT = 200
#: most points of the energy-per-window chart of a run with more windows
WINDOW_BINS = 200

_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 360,
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
}


def require_plotly() -> Any:
    """``plotly.graph_objects``, or an InputError saying how to install it."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise InputError(
            "reports with charts need plotly: pip install 'carbonledger[report]'"
        ) from None
    return go


def _when(t: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(t, tz=_dt.timezone.utc)


def _power(go: Any, report: RunReport) -> Any:
    fig = go.Figure(
        layout={**_LAYOUT, "title": "Power by device (mean over each sample's interval)"}
    )
    series = power_series(report.samples)
    size, unit = fmt.power_unit(p for s in series for p in s.power_w if p is not None)
    for s in series:
        fig.add_trace(
            go.Scatter(
                x=[_when(t) for t in s.times_unix_s],
                y=[None if p is None else p / size for p in s.power_w],
                hovertext=["no sample" if p is None else fmt.watts(p) for p in s.power_w],
                hoverinfo="x+text+name", mode="lines", name=s.label, connectgaps=False,
            )
        )  # fmt: skip
    fig.update_yaxes(title_text=f"power ({unit})", rangemode="tozero")
    return fig


def _device(c: Any) -> str:
    return c.device if c.device.startswith(c.component) else f"{c.component} {c.device}"


def _energy(go: Any, summary: RunSummary) -> Any:
    fig = go.Figure(layout={**_LAYOUT, "title": "Energy by component (error bars: estimate range)"})
    size, unit = fmt.energy_unit(
        (c.high_j if c.high_j is not None else c.energy_j) for c in summary.components
    )
    for measured in (True, False):
        comps = [c for c in summary.components if c.measured is measured]
        if not comps:
            continue
        plus = [((c.high_j or c.energy_j) - c.energy_j) / size for c in comps]
        minus = [
            (c.energy_j - (c.low_j if c.low_j is not None else c.energy_j)) / size for c in comps
        ]
        fig.add_trace(
            go.Bar(
                x=[_device(c) for c in comps], y=[c.energy_j / size for c in comps],
                hovertext=[fmt.energy(c.energy_j) for c in comps], hoverinfo="x+text+name",
                name="measured" if measured else "estimated",
                error_y={"type": "data", "array": plus, "arrayminus": minus, "visible": not measured},
            )
        )  # fmt: skip
    fig.update_yaxes(title_text=f"energy ({unit})")
    return fig


def _co2e(go: Any, report: RunReport) -> Any:
    s = report.summary
    times, energy = cumulative_energy(report.samples)
    grams = [co2e_g(e, pue=s.pue, intensity_g_per_kwh=s.intensity_g_per_kwh) for e in energy]
    size, unit = fmt.mass_unit([*grams, s.co2e_g])
    fig = go.Figure(layout={**_LAYOUT, "title": "Cumulative CO2e"})
    fig.add_trace(
        go.Scatter(
            x=[_when(t) for t in times], y=[g / size for g in grams], mode="lines", name="CO2e",
            fill="tozeroy", hovertext=[fmt.mass(g) for g in grams], hoverinfo="x+text",
        )
    )  # fmt: skip
    fig.update_yaxes(title_text=f"CO2e ({unit})")
    return fig


def _windows(go: Any, summary: RunSummary) -> Any | None:
    if not summary.windows:
        return None
    if len(summary.windows) > WINDOW_CHART_LIMIT:
        return _window_trend(go, summary)
    fig = go.Figure(layout={**_LAYOUT, "title": "Windows on the run's timeline"})
    fig.add_trace(
        go.Bar(
            y=[w.path for w in summary.windows],
            x=[w.duration_s for w in summary.windows],
            base=[w.started_unix_s - summary.started_unix_s for w in summary.windows],
            orientation="h", name="windows",
            hovertext=[
                f"{fmt.energy(w.energy_j)} in {fmt.duration(w.duration_s)}"
                for w in summary.windows
            ],
        )
    )  # fmt: skip
    fig.update_xaxes(title_text="seconds since the run started")
    return fig


def _window_trend(go: Any, summary: RunSummary) -> Any:
    """Energy per window of the most frequent pattern, in run order: the mean of each of at
    most :data:`WINDOW_BINS` groups of consecutive windows."""
    from carbonledger.report.windows import window_pattern

    by_pattern: dict[str, list[Any]] = {}
    for w in sorted(summary.windows, key=lambda w: w.started_unix_s):
        by_pattern.setdefault(window_pattern(w.path), []).append(w)
    pattern, windows = max(by_pattern.items(), key=lambda item: len(item[1]))
    per_bin = -(-len(windows) // WINDOW_BINS)
    bins = [windows[i : i + per_bin] for i in range(0, len(windows), per_bin)]
    means = [sum(w.energy_j for w in b) / len(b) for b in bins]
    size, unit = fmt.energy_unit(means)
    title = f"Energy per window of {pattern} ({fmt.count(len(windows))} windows"
    title += f", mean of each {per_bin})" if per_bin > 1 else ")"
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    fig.add_trace(
        go.Scatter(
            x=[b[0].started_unix_s - summary.started_unix_s for b in bins],
            y=[m / size for m in means], mode="lines", name=pattern,
            hovertext=[
                f"{b[0].path} … {b[-1].path}: {fmt.energy(m)} per window"
                for b, m in zip(bins, means, strict=True)
            ],
            hoverinfo="text",
        )
    )  # fmt: skip
    fig.update_xaxes(title_text="seconds since the run started")
    fig.update_yaxes(title_text=f"energy per window ({unit})", rangemode="tozero")
    return fig


def _hourly(go: Any, report: RunReport) -> Any | None:
    hours = report.meta.get("hourly", {})
    points = hours.get("hours") if isinstance(hours, dict) else None
    if not isinstance(points, list) or not points:
        return None
    fig = go.Figure(layout={**_LAYOUT, "title": "Hourly grid intensity"})
    fig.add_trace(
        go.Scatter(
            x=[_when(float(p["hour_unix_s"])) for p in points],
            y=[float(p["intensity_g_per_kwh"]) for p in points], mode="lines+markers",
        )
    )  # fmt: skip
    fig.update_yaxes(title_text="gCO2e/kWh")
    return fig


def run_figures(report: RunReport) -> list[tuple[str, Any]]:
    """``(id, figure)`` of every chart of a run report."""
    go = require_plotly()
    out: list[tuple[str, Any]] = [
        ("power", _power(go, report)),
        ("energy", _energy(go, report.summary)),
        ("co2e", _co2e(go, report)),
    ]
    for name, fig in (("windows", _windows(go, report.summary)), ("hourly", _hourly(go, report))):
        if fig is not None:
            out.append((name, fig))
    return out


def project_figures(summaries: Sequence[RunSummary]) -> list[tuple[str, Any]]:
    """Emissions over time (cumulative, run by run) and CO2e per run (a bar per run, named
    by its name and start: :func:`carbonledger.report.aggregate.run_labels`)."""
    from carbonledger.report.aggregate import run_labels

    go = require_plotly()
    runs = sorted(summaries, key=lambda s: s.started_unix_s)
    total, cum = 0.0, []
    for s in runs:
        total += s.co2e_g
        cum.append(total)
    size, unit = fmt.mass_unit(cum)
    over_time = go.Figure(layout={**_LAYOUT, "title": "Emissions over time (cumulative)"})
    over_time.add_trace(
        go.Scatter(x=[_when(s.started_unix_s) for s in runs], y=[c / size for c in cum],
                   mode="lines+markers", line_shape="hv", name="CO2e",
                   hovertext=[fmt.mass(c) for c in cum], hoverinfo="x+text")
    )  # fmt: skip
    over_time.update_yaxes(title_text=f"CO2e ({unit})")
    size, unit = fmt.mass_unit(s.co2e_high_g for s in runs)
    per_run = go.Figure(layout={**_LAYOUT, "title": "CO2e per run (error bars: estimate range)"})
    per_run.add_trace(
        go.Bar(
            x=run_labels(runs), y=[s.co2e_g / size for s in runs],
            hovertext=[f"{s.run_id}: {fmt.with_range(s.co2e_g, s.co2e_low_g, s.co2e_high_g, fmt.mass)}"
                       for s in runs], hoverinfo="x+text",
            error_y={"type": "data", "array": [(s.co2e_high_g - s.co2e_g) / size for s in runs],
                     "arrayminus": [(s.co2e_g - s.co2e_low_g) / size for s in runs]},
        )
    )  # fmt: skip
    per_run.update_yaxes(title_text=f"CO2e ({unit})")
    return [("over_time", over_time), ("per_run", per_run)]
