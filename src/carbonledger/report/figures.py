"""The report's charts as Plotly figures (needs the ``report`` extra: ``pip install
carbonledger[report]``). Imported only by the HTML report and the dashboard."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from carbonledger.accounting import co2e_g
from carbonledger.errors import InputError
from carbonledger.models import RunSummary
from carbonledger.report.data import RunReport, cumulative_energy
from carbonledger.report.samples import power_series

__all__ = ["project_figures", "require_plotly", "run_figures"]

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
    fig = go.Figure(layout={**_LAYOUT, "title": "Power by component and device"})
    for s in power_series(report.samples):
        fig.add_trace(
            go.Scatter(
                x=[_when(t) for t in s.times_unix_s], y=list(s.power_w), mode="lines",
                name=s.label,
            )
        )  # fmt: skip
    fig.update_yaxes(title_text="power (W)")
    return fig


def _energy(go: Any, summary: RunSummary) -> Any:
    fig = go.Figure(layout={**_LAYOUT, "title": "Energy by component (error bars: estimate range)"})
    for measured in (True, False):
        comps = [c for c in summary.components if c.measured is measured]
        if not comps:
            continue
        wh = [c.energy_j / 3600 for c in comps]
        plus = [((c.high_j or c.energy_j) - c.energy_j) / 3600 for c in comps]
        minus = [
            (c.energy_j - (c.low_j if c.low_j is not None else c.energy_j)) / 3600 for c in comps
        ]
        fig.add_trace(
            go.Bar(
                x=[f"{c.component} {c.device}" for c in comps], y=wh,
                name="measured" if measured else "estimated",
                error_y={"type": "data", "array": plus, "arrayminus": minus, "visible": not measured},
            )
        )  # fmt: skip
    fig.update_yaxes(title_text="energy (Wh)")
    return fig


def _co2e(go: Any, report: RunReport) -> Any:
    s = report.summary
    times, energy = cumulative_energy(report.samples)
    grams = [co2e_g(e, pue=s.pue, intensity_g_per_kwh=s.intensity_g_per_kwh) for e in energy]
    fig = go.Figure(layout={**_LAYOUT, "title": "Cumulative CO2e"})
    fig.add_trace(
        go.Scatter(x=[_when(t) for t in times], y=grams, mode="lines", name="CO2e", fill="tozeroy")
    )
    fig.update_yaxes(title_text="CO2e (g)")
    return fig


def _windows(go: Any, summary: RunSummary) -> Any | None:
    if not summary.windows:
        return None
    fig = go.Figure(layout={**_LAYOUT, "title": "Windows on the run's timeline"})
    fig.add_trace(
        go.Bar(
            y=[w.path for w in summary.windows],
            x=[w.duration_s for w in summary.windows],
            base=[w.started_unix_s - summary.started_unix_s for w in summary.windows],
            orientation="h", name="windows",
            hovertext=[f"{w.energy_j:.3g} J" for w in summary.windows],
        )
    )  # fmt: skip
    fig.update_xaxes(title_text="seconds since the run started")
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
    """Emissions over time (cumulative, run by run) and CO2e per run."""
    go = require_plotly()
    runs = sorted(summaries, key=lambda s: s.started_unix_s)
    total, cum = 0.0, []
    for s in runs:
        total += s.co2e_g
        cum.append(total)
    over_time = go.Figure(layout={**_LAYOUT, "title": "Emissions over time (cumulative)"})
    over_time.add_trace(
        go.Scatter(x=[_when(s.started_unix_s) for s in runs], y=cum, mode="lines+markers",
                   line_shape="hv", name="CO2e")
    )  # fmt: skip
    over_time.update_yaxes(title_text="CO2e (g)")
    per_run = go.Figure(layout={**_LAYOUT, "title": "CO2e per run (error bars: estimate range)"})
    per_run.add_trace(
        go.Bar(
            x=[s.run_id for s in runs], y=[s.co2e_g for s in runs],
            error_y={"type": "data", "array": [s.co2e_high_g - s.co2e_g for s in runs],
                     "arrayminus": [s.co2e_g - s.co2e_low_g for s in runs]},
        )
    )  # fmt: skip
    per_run.update_yaxes(title_text="CO2e (g)")
    return [("over_time", over_time), ("per_run", per_run)]
