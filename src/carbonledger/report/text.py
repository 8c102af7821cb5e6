"""Plain-text footprint summaries for terminals and logs.

Figures are scaled to their size with 3 significant figures by the one formatter
(:mod:`carbonledger.report.format`); sources are named briefly (:func:`brief_source`) and
cited in full with ``citations=True`` and in every ``--json``. A run with many windows (one
per step...) has them summarised by name pattern (:mod:`carbonledger.report.windows`);
``windows="all"`` lists every one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from carbonledger.models import ComponentEnergy, RunSummary, WindowSummary
from carbonledger.report import format as fmt

if TYPE_CHECKING:
    from carbonledger.report.windows import WindowDigest

__all__ = [
    "brief_source",
    "digest_for_text",
    "format_energy_j",
    "format_mass_g",
    "format_summary",
    "format_windows",
    "meaningful_equivalents",
    "printable",
    "status_line",
    "status_text",
    "summary_repr",
    "unique_prefixes",
]

#: characters that reorder text on a terminal (bidirectional overrides and isolates)
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

#: the equivalents worth showing, in order of preference
_EQUIVALENTS = (
    "car_km_eu",
    "smartphone_charges",
    "train_km",
    "household_electricity_days_us",
    "tree_months",
    "flights_paris_london",
)
#: an equivalent is shown only when its value lies in this range (a meaningful size)
_EQUIVALENT_RANGE = (0.1, 1e6)
#: with ``windows="auto"``, a run with at most this many windows has each listed; more are
#: summarised by name pattern
WINDOW_LIST_LIMIT = 20

#: how :func:`format_summary` shows a run's windows: ``auto`` (each of up to
#: :data:`WINDOW_LIST_LIMIT`, else by pattern), ``all`` (each), ``patterns`` (by pattern),
#: ``none``
WindowsMode = Literal["auto", "all", "patterns", "none"]


def printable(text: object) -> str:
    """``text`` safe to print on a terminal: control characters (C0, DEL, C1: escape
    sequences, carriage returns, newlines) and bidirectional overrides are written as
    ``\\xNN`` / ``\\uNNNN`` escapes, so a run name cannot rewrite or hide other output."""
    s = str(text)
    if s.isprintable() and not _BIDI.intersection(s):
        return s
    out = []
    for ch in s:
        code = ord(ch)
        if code < 32 or 127 <= code < 160:
            out.append(f"\\x{code:02x}")
        elif ch in _BIDI or (not ch.isprintable() and ch != " "):
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def format_energy_j(energy_j: float) -> str:
    """Energy for people (:func:`carbonledger.report.format.energy`): joules scaled (nJ..kJ)
    below 3.6 kJ, watt-hours scaled (Wh..GWh) above, 3 significant figures."""
    return fmt.energy(energy_j)


def format_mass_g(mass_g: float) -> str:
    """CO2e mass for people (:func:`carbonledger.report.format.mass`): ng, µg, mg, g, kg or
    t with 3 significant figures."""
    return fmt.mass(mass_g)


_YEAR = re.compile(r"\b(19|20)\d\d\b")


def brief_source(source: str, width: int = 32) -> str:
    """A short name for a citation: its first clause (before a comma, semicolon or
    parenthesis), cut to ``width`` characters, with the year when the citation has one
    (``"Our World in Data, carbon intensity ..., 2023 (FR, lifecycle)"`` ->
    ``"Our World in Data 2023"``)."""
    text = " ".join(str(source).split())
    head = re.split(r"[,;(]", text, maxsplit=1)[0].strip() or text
    if len(head) > width:
        head = head[: width - 1].rstrip() + "…"
    years = [m.group(0) for m in _YEAR.finditer(text)]
    if years and years[-1] not in head:
        head = f"{head} {years[-1]}"
    return printable(head)


def meaningful_equivalents(co2e_g: float, limit: int = 3) -> list[tuple[str, str]]:
    """Up to ``limit`` everyday equivalents of ``co2e_g`` whose value is of a size people
    can picture (0.1 .. 1e6 units), as ``(value text, description)``; [] when none is."""
    if not co2e_g > 0:
        return []
    from carbonledger.carbon import equivalents

    items = {e.name: e for e in equivalents(co2e_g)}
    chosen: list[tuple[str, str]] = []
    for name in _EQUIVALENTS:
        e = items.get(name)
        if e is not None and _EQUIVALENT_RANGE[0] <= e.value <= _EQUIVALENT_RANGE[1]:
            chosen.append((fmt.sig3(e.value), e.description))
        if len(chosen) >= limit:
            break
    return chosen


def _component_line(c: ComponentEnergy) -> str:
    how = "measured" if c.measured else "estimated"
    line = (
        f"  {c.component:<4} {printable(c.device):<22} {fmt.energy(c.energy_j):>10}  "
        f"{fmt.watts(c.power_w):>9}  {how} ({printable(c.method)})"
    )
    if not c.measured and c.low_j is not None and c.high_j is not None:
        rng = fmt.span(c.low_j, c.high_j, fmt.energy)
        if fmt.RANGE_SEP in rng:
            line += f"  range {rng}"
    return line


def co2e_line(summary: RunSummary) -> str:
    """The short CO2e line: value, range, intensity with a brief source, PUE."""
    line = f"  CO2e  {fmt.mass(summary.co2e_g)}"
    rng = fmt.span(summary.co2e_low_g, summary.co2e_high_g, fmt.mass)
    if fmt.RANGE_SEP in rng:
        line += f" ({rng})"
    return (
        f"{line} at {fmt.sig3(summary.intensity_g_per_kwh)} g/kWh "
        f"{printable(summary.location)} ({brief_source(summary.intensity_source)}), "
        f"PUE {fmt.pue(summary.pue)}"
    )


def _cited(source: str, full: bool) -> str:
    """A source in full when asked or short enough, else briefly (:func:`brief_source`)."""
    return printable(source) if full or len(source) <= 64 else brief_source(source, 48)


def resource_lines(summary: RunSummary, *, citations: bool = False) -> list[str]:
    """The water and electricity-cost lines, each with its factor and (briefly, or in full
    with ``citations``) its source; nothing for what is not known."""
    lines = []
    if summary.water_l is not None and summary.wue_l_per_kwh is not None:
        source = _cited(summary.water_source, citations)
        lines.append(
            f"  water {fmt.litres(summary.water_l)} on site (WUE "
            f"{fmt.sig3(summary.wue_l_per_kwh)} L/kWh, {source})"
        )
    if summary.electricity_cost is not None and summary.price_per_kwh is not None:
        source = _cited(summary.cost_source, citations)
        price = fmt.sig3(summary.price_per_kwh)
        per = f"{price} {summary.currency}/kWh" if summary.currency else f"{price} per kWh"
        lines.append(
            f"  electricity cost {fmt.money(summary.electricity_cost, summary.currency)} "
            f"(at {per} of facility energy, {source})"
        )
    return lines


def citation_lines(summary: RunSummary) -> list[str]:
    """The full sources of the location, intensity and PUE, one line each."""
    return [
        f"  location  {printable(summary.location)} (from {printable(summary.location_source)})",
        f"  intensity {printable(summary.intensity_source)}",
        f"  PUE       {printable(summary.pue_source)}",
    ]


def _window_line(path: str, energy_j: float, duration_s: float) -> str:
    return f"  window {printable(path)}: {fmt.energy(energy_j)} in {fmt.duration(duration_s)}"


def digest_for_text(summary: RunSummary, windows: Iterable[WindowSummary]) -> WindowDigest:
    """``windows`` (the run's, oldest first, as :meth:`carbonledger.ledger.Ledger.iter_windows`
    streams them) read once for :func:`format_summary` of ``summary`` read without them:
    the first few kept, the rest only counted and grouped by pattern."""
    from carbonledger.report.windows import digest_windows

    stats = summary.extra.get("window_stats")
    return digest_windows(windows, stats, keep=WINDOW_LIST_LIMIT + 1)


def format_windows(
    summary: RunSummary, windows: WindowsMode = "auto", digest: WindowDigest | None = None
) -> list[str]:
    """The lines :func:`format_summary` gives a run's windows: each window (``all``, or
    ``auto`` with at most :data:`WINDOW_LIST_LIMIT`), or one block per name pattern
    (digits as ``#``): count, total energy and time, energy per window (mean, p50, p90)
    and the largest windows; a pattern with one window is one line. ``digest`` (from
    :func:`~carbonledger.report.windows.digest_windows` with ``keep`` at least
    ``WINDOW_LIST_LIMIT + 1``) stands for the summary's windows when it holds none."""
    from carbonledger.report.windows import group_windows

    if windows == "none":
        return []
    stats = summary.extra.get("window_stats")
    listed = summary.windows if digest is None else digest.first
    count = len(summary.windows) if digest is None else digest.count
    if (windows == "all" and digest is None) or (
        windows == "auto" and count <= WINDOW_LIST_LIMIT and not stats
    ):
        return [_window_line(w.path, w.energy_j, w.duration_s) for w in listed]
    groups = group_windows(summary) if digest is None else list(digest.groups)
    if not groups:
        return []
    total = sum(g.count for g in groups)
    lines = [
        f"  windows: {fmt.count(total)} in {fmt.count(len(groups))} name "
        f"pattern{'' if len(groups) == 1 else 's'} (digits as #)"
    ]
    for g in groups:
        if g.count == 1 and g.largest:
            lines.append(_window_line(g.largest[0][0], g.energy_j, g.duration_s))
            continue
        per = f"mean {fmt.energy(g.mean_energy_j)}"
        if g.p50_energy_j is not None and g.p90_energy_j is not None:
            per += f", p50 {fmt.energy(g.p50_energy_j)}, p90 {fmt.energy(g.p90_energy_j)}"
        per += f", max {fmt.energy(g.max_energy_j)}"
        lines.append(
            f"  windows {printable(g.pattern)}: {fmt.count(g.count)}, "
            f"{fmt.energy(g.energy_j)} in {fmt.duration(g.duration_s)}; per window {per}"
        )
        if g.largest:
            lines.append(
                "    largest: " + ", ".join(f"{printable(p)} {fmt.energy(e)}" for p, e in g.largest)
            )
    return lines


def format_summary(
    summary: RunSummary,
    *,
    equivalents: bool = True,
    citations: bool = False,
    windows: WindowsMode = "auto",
    digest: WindowDigest | None = None,
) -> str:
    """A multi-line summary: energy per device and how it was obtained, CO2e and its basis
    (sources named briefly; in full with ``citations=True``), meaningful equivalents, the
    windows (see :func:`format_windows`: ``windows="all"`` lists every one; ``digest``
    stands for the windows of a summary read without them)."""
    lines = [
        f"carbonledger run {printable(summary.run_id)} "
        f"({printable(summary.project)}/{printable(summary.experiment)}) "
        f"{status_text(summary)}, {fmt.duration(summary.duration_s)}, scope={summary.scope}",
    ]
    lines.extend(_component_line(c) for c in summary.components)
    lines.append(
        f"  total {fmt.energy(summary.energy_j)}, {fmt.percent(summary.measured_share)} measured"
    )
    lines.append(co2e_line(summary))
    if citations:
        lines.extend(citation_lines(summary))
    if summary.market_co2e_g is not None:
        lines.append(f"  market-based CO2e {fmt.mass(summary.market_co2e_g)}")
    if summary.embodied_co2e_g is not None:
        lines.append(
            f"  embodied (manufacturing share, reported apart) {fmt.mass(summary.embodied_co2e_g)}"
        )
    lines.extend(resource_lines(summary, citations=citations))
    if equivalents:
        items = meaningful_equivalents(summary.co2e_g)
        if items:
            lines.append("  about " + "; ".join(f"{v} {d}" for v, d in items))
    metrics = summary.extra.get("metrics")
    if isinstance(metrics, dict) and metrics:
        lines.append(
            "  metrics "
            + ", ".join(f"{printable(k)}={printable(v)}" for k, v in sorted(metrics.items()))
        )
    lines.extend(format_windows(summary, windows, digest))
    for err in summary.errors:
        lines.append(f"  ! {printable(err)}")
    return "\n".join(lines)


def status_text(summary: RunSummary) -> str:
    """The run's status with the reason a run was interrupted when one is recorded
    (``interrupted (budget)``: its carbon budget stopped it)."""
    reason = summary.extra.get("status_reason")
    return f"{summary.status} ({reason})" if reason else summary.status


def status_line(current: RunSummary, previous: RunSummary | None = None) -> str:
    """``elapsed | cpu 12.3 W  gpu 250 W | 1.23 kJ | 0.456 mg CO2e | 80% measured``; the
    power of each component is over the time since ``previous`` (its mean when None). The
    live line on a terminal and the progress lines of a log say the same."""
    dt = current.duration_s - (previous.duration_s if previous is not None else 0.0)
    powers = []
    for comp in sorted({c.component for c in current.components}):
        energy_j = current.component_energy_j(comp)
        if previous is not None and dt > 0:
            power = (energy_j - previous.component_energy_j(comp)) / dt
        else:
            power = energy_j / current.duration_s if current.duration_s > 0 else 0.0
        powers.append(f"{comp} {fmt.watts(max(power, 0.0))}")
    return (
        f"{fmt.duration(current.duration_s)} | {'  '.join(powers) or 'no device'} | "
        f"{fmt.energy(current.energy_j)} | {fmt.mass(current.co2e_g)} CO2e | "
        f"{fmt.percent(current.measured_share)} measured"
    )


def summary_repr(item: RunSummary | WindowSummary) -> str:
    """The ``repr()`` of a run's or a window's summary: one line with what matters
    (``<RunSummary 0123456789ab… vision/base completed: 1.10 kWh (90.9% measured),
    73.9 g CO2e (range 66.0 – 81.8 g), 1.00 h>``); ``to_dict()`` has every field."""
    total_j = sum(c.energy_j for c in item.components)
    measured_j = sum(c.energy_j for c in item.components if c.measured)
    share = fmt.percent(measured_j / total_j if total_j > 0 else 0.0)
    if isinstance(item, RunSummary):
        rid = item.run_id if len(item.run_id) <= 13 else item.run_id[:12] + "…"
        co2e = fmt.with_range(item.co2e_g, item.co2e_low_g, item.co2e_high_g, fmt.mass)
        return (
            f"<RunSummary {printable(rid)} {printable(item.project)}/"
            f"{printable(item.experiment)} {item.status}: {fmt.energy(total_j)} ({share} "
            f"measured), {co2e} CO2e, {fmt.duration(item.duration_s)}>"
        )
    co2e = "" if item.co2e_g is None else f", {fmt.mass(item.co2e_g)} CO2e"
    return (
        f"<WindowSummary {printable(item.path)}: {fmt.energy(total_j)} ({share} measured)"
        f"{co2e}, {fmt.duration(item.duration_s)}>"
    )


def unique_prefixes(run_ids: list[str], min_len: int = 12) -> dict[str, str]:
    """For each id, its shortest prefix of at least ``min_len`` characters that no other id
    of ``run_ids`` starts with (the whole id when needed): what ``runs`` can print without
    cutting what identifies a run (``show`` accepts a unique prefix)."""
    out: dict[str, str] = {}
    for rid in run_ids:
        n = min(min_len, len(rid))
        while n < len(rid) and any(o != rid and o.startswith(rid[:n]) for o in run_ids):
            n += 1
        out[rid] = rid[:n]
    return out
