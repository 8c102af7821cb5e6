"""Plain-text footprint summaries for terminals and logs.

Figures are scaled to their size with 3 significant figures (:mod:`carbonledger.report.format`);
sources are named briefly (:func:`brief_source`) and cited in full with ``citations=True``
and in every ``--json``.
"""

from __future__ import annotations

import re

from carbonledger.models import ComponentEnergy, RunSummary
from carbonledger.report import format as fmt

__all__ = [
    "brief_source",
    "format_energy_j",
    "format_mass_g",
    "format_summary",
    "meaningful_equivalents",
    "printable",
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
    """Energy for people: joules scaled (mJ..GJ) below 3.6 kJ, watt-hours scaled
    (Wh..GWh) above, 3 significant figures."""
    if abs(energy_j) < 3.6e3:
        return fmt.joules(energy_j)
    return fmt.watt_hours(energy_j)


def format_mass_g(mass_g: float) -> str:
    """CO2e mass for people: mg, g, kg or t with 3 significant figures."""
    return fmt.grams(mass_g)


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
        f"  {c.component:<4} {printable(c.device):<22} {format_energy_j(c.energy_j):>10}  "
        f"{fmt.watts(c.power_w):>9}  {how} ({printable(c.method)})"
    )
    if not c.measured and c.low_j is not None and c.high_j is not None and c.high_j > c.low_j:
        line += f"  range {format_energy_j(c.low_j)} – {format_energy_j(c.high_j)}"
    return line


def co2e_line(summary: RunSummary) -> str:
    """The short CO2e line: value, range, intensity with a brief source, PUE."""
    line = f"  CO2e  {format_mass_g(summary.co2e_g)}"
    if summary.co2e_high_g - summary.co2e_low_g > 1e-12 * max(summary.co2e_g, 1.0):
        line += f" ({format_mass_g(summary.co2e_low_g)} – {format_mass_g(summary.co2e_high_g)})"
    return (
        f"{line} at {fmt.sig3(summary.intensity_g_per_kwh)} g/kWh "
        f"{printable(summary.location)} ({brief_source(summary.intensity_source)}), "
        f"PUE {summary.pue:g}"
    )


def citation_lines(summary: RunSummary) -> list[str]:
    """The full sources of the location, intensity and PUE, one line each."""
    return [
        f"  location  {printable(summary.location)} (from {printable(summary.location_source)})",
        f"  intensity {printable(summary.intensity_source)}",
        f"  PUE       {printable(summary.pue_source)}",
    ]


def format_summary(
    summary: RunSummary, *, equivalents: bool = True, citations: bool = False
) -> str:
    """A multi-line summary: energy per device and how it was obtained, CO2e and its basis
    (sources named briefly; in full with ``citations=True``), meaningful equivalents."""
    lines = [
        f"carbonledger run {printable(summary.run_id)} "
        f"({printable(summary.project)}/{printable(summary.experiment)}) "
        f"{summary.status}, {fmt.duration(summary.duration_s)}, scope={summary.scope}",
    ]
    lines.extend(_component_line(c) for c in summary.components)
    lines.append(
        f"  total {format_energy_j(summary.energy_j)}, "
        f"{fmt.percent(summary.measured_share)} measured"
    )
    lines.append(co2e_line(summary))
    if citations:
        lines.extend(citation_lines(summary))
    if summary.market_co2e_g is not None:
        lines.append(f"  market-based CO2e {format_mass_g(summary.market_co2e_g)}")
    if summary.embodied_co2e_g is not None:
        lines.append(
            f"  embodied (manufacturing share, reported apart) {format_mass_g(summary.embodied_co2e_g)}"
        )
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
    for w in summary.windows:
        lines.append(
            f"  window {printable(w.path)}: {format_energy_j(w.energy_j)} "
            f"in {fmt.duration(w.duration_s)}"
        )
    for err in summary.errors:
        lines.append(f"  ! {printable(err)}")
    return "\n".join(lines)


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
