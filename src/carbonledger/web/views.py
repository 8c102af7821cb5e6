"""The dashboard's HTML: one layout, the runs table, the project, experiment, month and
project-list pages, and the pieces the run page adds to the report's body.

Every text from the ledger goes through :func:`e` (control characters and bidirectional
overrides written as ``\\xNN`` escapes, then HTML-escaped), every number through the one
formatter (:mod:`carbonledger.report.format`), and every chart through
:func:`carbonledger.web.charts.figure_block` (no inline script: the page's
Content-Security-Policy allows none).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from urllib.parse import quote, urlencode

from carbonledger.models import RunSummary
from carbonledger.report import format as fmt
from carbonledger.report.aggregate import (
    ExperimentComparison,
    MonthTotals,
    Totals,
    run_label,
    run_tags,
)
from carbonledger.report.compare import Delta
from carbonledger.report.text import printable, status_text
from carbonledger.web.query import SORTS, STATUSES, TableQuery

__all__ = [
    "comparison_table",
    "e",
    "experiment_url",
    "layout",
    "months_table",
    "project_url",
    "run_url",
    "runs_table",
    "table_row",
    "totals_line",
]

#: static files, versioned so a browser keeps them while they do not change
STATIC_VERSION = "1"

_NAV = (("/", "Runs"), ("/projects", "Projects"), ("/months", "Months"), ("/verify", "Verify"))


def e(value: object) -> str:
    """``value`` safe in HTML text and attributes: control characters as escapes, then
    ``& < > " '`` as entities."""
    return html.escape(printable(value), quote=True)


def run_url(run_id: str, suffix: str = "") -> str:
    return f"/runs/{quote(run_id, safe='')}{suffix}"


def project_url(project: str) -> str:
    return "/project?" + urlencode({"name": project})


def experiment_url(project: str, experiment: str) -> str:
    return "/experiment?" + urlencode({"project": project, "name": experiment})


def layout(
    title: str,
    body: str,
    *,
    charts: bool = False,
    current: str = "",
    attrs: dict[str, str] | None = None,
    footer: str = "",
) -> str:
    """A whole page: the navigation, ``body``, the footer; plotly.js only when the page has
    ``charts``; ``attrs`` become ``data-`` attributes of ``<body>`` (for dashboard.js)."""
    scripts = (
        f'<script src="/static/plotly.min.js?v={STATIC_VERSION}" defer></script>' if charts else ""
    ) + f'<script src="/static/dashboard.js?v={STATIC_VERSION}" defer></script>'
    nav = "".join(
        f'<a href="{href}"{" aria-current=page" if href == current else ""}>{name}</a>'
        for href, name in _NAV
    )
    data = "".join(f' data-{k}="{e(v)}"' for k, v in (attrs or {}).items())
    if charts:
        from carbonledger.web.charts import template_block

        body += template_block()
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{e(title)} · carbonledger</title>"
        f'<link rel="stylesheet" href="/static/dashboard.css?v={STATIC_VERSION}">{scripts}'
        f'</head><body{data}><header class="top"><a class="brand" href="/">carbonledger</a>'
        f"<nav>{nav}</nav></header><main>{body}</main>"
        f"<footer><small>{footer or 'Read-only view of the ledger.'}</small></footer>"
        "</body></html>"
    )


def _co2e_cell(value: float, low: float, high: float) -> str:
    text = e(fmt.mass(value))
    rng = fmt.span(low, high, fmt.mass)
    if fmt.RANGE_SEP in rng:
        text += f'<br><small class="range">range {e(rng)}</small>'
    return text


def totals_line(t: Totals, what: str = "runs") -> str:
    """One line: how many runs, their energy and measured share, their CO2e with its range."""
    left_out = (
        f" · {fmt.count(t.damaged)} damaged (their records cannot be read: left out; see Verify)"
        if t.damaged
        else ""
    )
    if t.runs == 0:
        return f'<p class="totals">No {e(what)}{e(left_out)}.</p>'
    return (
        f'<p class="totals"><b>{e(fmt.count(t.runs))}</b> {e(what)} · energy '
        f"<b>{e(fmt.energy(t.energy_j))}</b> ({e(fmt.percent(t.measured_share))} measured by "
        f"hardware counters, the rest estimated) · CO2e <b>"
        f"{e(fmt.with_range(t.co2e_g, t.co2e_low_g, t.co2e_high_g, fmt.mass))}</b>"
        f"{e(left_out)}</p>"
    )


def _tags_cell(s: RunSummary) -> str:
    tags = run_tags(s)
    return " ".join(
        f'<span class="tag">{e(k)}={e(v)}</span>' if v else f'<span class="tag">{e(k)}</span>'
        for k, v in sorted(tags.items())
    )


def _status_cell(s: RunSummary) -> str:
    """The status badge, with the recorded reason (``interrupted (budget)``)."""
    return f'<span class="status {e(s.status)}">{e(status_text(s))}</span>'


def run_rows(runs: Sequence[RunSummary]) -> str:
    """The ``<tr>`` of each run (cells labelled for the stacked phone layout)."""
    out = []
    for s in runs:
        cells = [
            ("run", f'<a class="run" href="{e(run_url(s.run_id))}" title="{e(s.run_id)}">'
                    f"{e(s.run_id[:8])}</a>"),
            ("project", f'<a href="{e(project_url(s.project))}">{e(s.project)}</a>'),
            ("experiment", f'<a href="{e(experiment_url(s.project, s.experiment))}">'
                           f"{e(s.experiment)}</a>"),
            ("tags", _tags_cell(s)),
            ("started (UTC)", e(fmt.moment(s.started_unix_s)[:16])),
            ("duration", e(fmt.duration(s.duration_s))),
            ("energy", e(fmt.energy(s.energy_j))),
            ("CO2e", _co2e_cell(s.co2e_g, s.co2e_low_g, s.co2e_high_g)),
            ("measured", e(fmt.percent(s.measured_share))),
            ("status", _status_cell(s)),
        ]  # fmt: skip
        out.append(table_row(cells))
    return "".join(out)


def table_row(cells: Sequence[tuple[str, str]]) -> str:
    """A ``<tr>`` of ``(label, cell HTML)``: the label names the cell on a phone, where a
    table of class ``stack`` shows each row as a card of labelled lines."""
    return (
        "<tr>"
        + "".join(f'<td data-label="{e(k)}"><span>{v}</span></td>' for k, v in cells)
        + "</tr>"
    )


_HEADINGS = (("run", None), ("project", "project"), ("experiment", "experiment"),
             ("tags", None), ("started (UTC)", "started"), ("duration", "duration"),
             ("energy", "energy"), ("CO2e", "co2e"), ("measured", "measured"),
             ("status", "status"))  # fmt: skip


def _heading(query: TableQuery, label: str, key: str | None) -> str:
    if key is None:
        return f"<th>{e(label)}</th>"
    if query.sort == key:
        arrow = " ▼" if query.descending else " ▲"
        href = query.url(sort=key, descending=not query.descending, page=1)
        aria = ' aria-sort="descending"' if query.descending else ' aria-sort="ascending"'
    else:
        arrow, aria = "", ""
        href = query.url(sort=key, descending=key not in ("project", "experiment", "status"),
                         page=1)  # fmt: skip
    return f'<th{aria}><a href="{e(href)}">{e(label)}{arrow}</a></th>'


def _select(name: str, label: str, options: Sequence[tuple[str, str]], chosen: str | None) -> str:
    opts = "".join(
        f'<option value="{e(v)}"{" selected" if v == (chosen or "") else ""}>{e(t)}</option>'
        for v, t in options
    )
    return f'<label>{e(label)} <select name="{e(name)}">{opts}</select></label>'


def filter_form(query: TableQuery, projects: Sequence[str], experiments: Sequence[str]) -> str:
    """The runs table's filters as a GET form (its submission is the shareable URL)."""
    f = query.filter
    tags = [k if v is None else f"{k}={v}" for k, v in f.tags] or [""]
    tag_inputs = "".join(
        f'<label>Tag <input name="tag" value="{e(t)}" placeholder="key=value" size="12"></label>'
        for t in tags
    )
    sorts = [(k, label) for k, (label, _) in SORTS.items()]
    return (
        '<form class="filters" method="get" action="/">'
        + _select("project", "Project", [("", "all"), *((p, p) for p in projects)], f.project)
        + _select(
            "experiment", "Experiment", [("", "all"), *((x, x) for x in experiments)], f.experiment
        )
        + _select("status", "Status", [("", "any"), *((s, s) for s in STATUSES)], f.status)
        + tag_inputs
        + f'<label>From <input type="date" name="from" value="{e(query.since_day)}"></label>'
        + f'<label>To <input type="date" name="to" value="{e(query.until_day)}"></label>'
        + _select("sort", "Sort by", sorts, query.sort)
        + _select(
            "order",
            "Order",
            [("desc", "descending"), ("asc", "ascending")],
            "desc" if query.descending else "asc",
        )
        + f'<input type="hidden" name="per" value="{query.per}">'
        + '<button type="submit">Apply</button> <a href="/">clear</a></form>'
    )


def _pager(query: TableQuery, total: int) -> str:
    pages = max(1, -(-total // query.per))
    first = (query.page - 1) * query.per + 1 if total else 0
    last = min(total, query.page * query.per)
    parts = [f"runs {e(fmt.count(first))}–{e(fmt.count(last))} of {e(fmt.count(total))}"]
    if query.page > 1:
        parts.append(f'<a rel="prev" href="{e(query.url(page=query.page - 1))}">‹ previous</a>')
    parts.append(f"page {e(fmt.count(query.page))} of {e(fmt.count(pages))}")
    if query.page < pages:
        parts.append(f'<a rel="next" href="{e(query.url(page=query.page + 1))}">next ›</a>')
    return '<nav class="pager">' + " · ".join(parts) + "</nav>"


def runs_table(query: TableQuery, runs: Sequence[RunSummary], total: int) -> str:
    """The table of one page of runs, its headings sorting, its pager."""
    heads = "".join(_heading(query, label, key) for label, key in _HEADINGS)
    return (
        f'<div class="table-wrap"><table class="runs stack" id="runs"><thead><tr>{heads}</tr></thead>'
        f"<tbody>{run_rows(runs)}</tbody></table></div>" + _pager(query, total)
    )


def totals_row(first: tuple[str, str], t: Totals, *extra: tuple[str, str]) -> str:
    """A row of totals: ``first`` (label, cell), runs, energy, measured share, CO2e with
    its range, then ``extra`` cells."""
    return table_row(
        [
            first,
            ("runs", e(fmt.count(t.runs))),
            ("energy", e(fmt.energy(t.energy_j))),
            ("measured", e(fmt.percent(t.measured_share))),
            ("CO2e", _co2e_cell(t.co2e_g, t.co2e_low_g, t.co2e_high_g)),
            *extra,
        ]
    )


def months_table(months: Sequence[MonthTotals], part: str) -> str:
    """A row per month (newest first): runs, energy, measured share, CO2e with its range,
    and the largest parts (projects or experiments)."""
    rows = []
    for m in reversed(months):
        biggest = sorted(m.parts.items(), key=lambda kv: -kv[1].co2e_g)[:3]
        parts = ", ".join(f"{e(k)} ({e(fmt.mass(t.co2e_g))})" for k, t in biggest)
        if len(m.parts) > 3:
            parts += f", +{len(m.parts) - 3}"
        rows.append(totals_row(("month (UTC)", e(m.month)), m.totals, (f"largest {part}s", parts)))
    return (
        '<div class="table-wrap"><table class="months stack"><thead><tr><th>month (UTC)</th>'
        f"<th>runs</th><th>energy</th><th>measured</th><th>CO2e</th><th>largest {e(part)}s</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _signed(value: float, unit: str) -> str:
    if unit == "J":
        text = fmt.energy(abs(value))
    elif unit == "g":
        text = fmt.mass(abs(value))
    elif unit == "s":
        text = fmt.duration(abs(value))
    else:
        text = fmt.sig3(abs(value))
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


def _value(value: float, unit: str) -> str:
    if unit == "J":
        return fmt.energy(value)
    if unit == "g":
        return fmt.mass(value)
    if unit == "s":
        return fmt.duration(value)
    return fmt.sig3(value)


def _delta_cell(d: Delta) -> str:
    text = _signed(d.delta, d.unit)
    if d.delta_pct is not None:
        text += f" ({'+' if d.delta_pct > 0 else ''}{fmt.sig3(d.delta_pct)}%)"
    verdicts = []
    if d.exceeds_uncertainty is not None:
        verdicts.append("beyond the estimate ranges" if d.exceeds_uncertainty
                        else "within the estimate ranges")  # fmt: skip
    if d.exceeds_spread is None:
        verdicts.append("spread: needs 2 runs a side")
    else:
        verdicts.append("beyond the run-to-run spread" if d.exceeds_spread
                        else "within the run-to-run spread")  # fmt: skip
    cls = "stands-out" if d.exceeds_spread or d.exceeds_uncertainty else "within"
    return f'<span class="{cls}">{e(text)}</span><br><small>{e("; ".join(verdicts))}</small>'


def _share(share: float) -> str:
    """A share of a difference, to a tenth of a percent (a factor that does not change
    explains ``0%``, not ``-0.0000000000000139%``)."""
    return fmt.percent(round(share, 3) + 0.0)


def _means(runs: Sequence[RunSummary]) -> dict[str, float]:
    n = len(runs)
    return {
        "energy_j": sum(s.energy_j for s in runs) / n,
        "co2e_g": sum(s.co2e_g for s in runs) / n,
        "duration_s": sum(s.duration_s for s in runs) / n,
    }


def comparison_table(
    baseline: str,
    entries: Sequence[ExperimentComparison],
    completed: dict[str, list[RunSummary]],
    project: str,
) -> str:
    """Experiments against the baseline: per-run means of each side's completed runs, the
    difference with ``compare``'s verdicts, and what else differs."""
    quantities = (("energy_j", "J", "energy per run"), ("co2e_g", "g", "CO2e per run"),
                  ("duration_s", "s", "duration per run"))  # fmt: skip
    head = "".join(f"<th>{e(label)}</th>" for _, _, label in quantities)
    rows = []
    for entry in entries:
        runs = completed.get(entry.experiment, [])
        name = f'<a href="{e(experiment_url(project, entry.experiment))}">{e(entry.experiment)}</a>'
        if entry.experiment == baseline:
            name += " <small>(baseline)</small>"
        cells = [
            ("experiment", name),
            ("completed runs", f"{e(fmt.count(len(runs)))} of {e(fmt.count(entry.totals.runs))}"),
        ]
        means = _means(runs) if runs else None
        deltas = {} if entry.comparison is None else {d.name: d for d in entry.comparison.deltas}
        for key, unit, label in quantities:
            if means is None:
                cells.append((label, "—"))
                continue
            text = e(_value(means[key], unit))
            if key in deltas:
                text += "<br>" + _delta_cell(deltas[key])
            cells.append((label, text))
        notes = []
        if entry.comparison is not None:
            shares = entry.comparison.co2e_shares
            if shares:
                parts = ", ".join(
                    f"{label} {_share(shares[k])}"
                    for k, label in (("energy", "energy"), ("pue", "PUE"), ("intensity", "grid"))
                )
                notes.append(f"CO2e difference from: {parts}")
            for m in entry.comparison.mismatches:
                share = "" if m.co2e_share is None else f", {_share(m.co2e_share)} of it"
                notes.append(f"also differs in {m.kind}: {m.a} vs {m.b}{share}")
        elif entry.experiment != baseline:
            notes.append("not compared: no completed run on one side")
        cells.append(("notes", e("; ".join(notes))))
        rows.append(table_row(cells))
    return (
        '<div class="table-wrap"><table class="compare stack"><thead><tr><th>experiment</th>'
        f"<th>completed runs</th>{head}<th>notes</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></div>"
    )


def crumbs(*links: tuple[str, str | None]) -> str:
    parts = [f'<a href="{e(href)}">{e(text)}</a>' if href else e(text) for text, href in links]
    return '<p class="crumbs">' + " › ".join(parts) + "</p>"


def run_heading(s: RunSummary) -> str:
    """Where a run belongs and its name, above the report's body."""
    return crumbs(
        ("Projects", "/projects"),
        (s.project, project_url(s.project)),
        (s.experiment, experiment_url(s.project, s.experiment)),
        (run_label(s), None),
    )


def run_totals(s: RunSummary) -> str:
    """A run's energy (with its measured share), CO2e (with its range) and status, one line."""
    co2e = fmt.with_range(s.co2e_g, s.co2e_low_g, s.co2e_high_g, fmt.mass)
    return (
        f"{fmt.energy(s.energy_j)} ({fmt.percent(s.measured_share)} measured), "
        f"{co2e} CO2e ({s.status})"
    )
