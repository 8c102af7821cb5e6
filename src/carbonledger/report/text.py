"""Plain-text footprint summaries for terminals and logs."""

from __future__ import annotations

from carbonledger.models import ComponentEnergy, RunSummary

__all__ = ["format_energy_j", "format_summary", "printable"]

#: characters that reorder text on a terminal (bidirectional overrides and isolates)
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


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
    """Human-readable energy: J below 10 kJ, Wh below 10 kWh, else kWh/MWh."""
    if energy_j < 1e4:
        return f"{energy_j:.3g} J"
    wh = energy_j / 3600.0
    if wh < 1e4:
        return f"{wh:.4g} Wh"
    kwh = wh / 1e3
    return f"{kwh:.4g} kWh" if kwh < 1e4 else f"{kwh / 1e3:.4g} MWh"


def format_mass_g(mass_g: float) -> str:
    """Human-readable CO2e mass from grams."""
    if mass_g < 1e3:
        return f"{mass_g:.3g} g"
    if mass_g < 1e6:
        return f"{mass_g / 1e3:.4g} kg"
    return f"{mass_g / 1e6:.4g} t"


def _component_line(c: ComponentEnergy) -> str:
    how = "measured" if c.measured else "estimated"
    line = (
        f"  {c.component:<4} {printable(c.device):<22} {format_energy_j(c.energy_j):>11}  "
        f"{c.power_w:8.2f} W  {how} ({printable(c.method)})"
    )
    if not c.measured and c.low_j is not None and c.high_j is not None:
        line += f"  range {format_energy_j(c.low_j)} - {format_energy_j(c.high_j)}"
    return line


def format_summary(summary: RunSummary, *, equivalents: bool = True) -> str:
    """A multi-line summary: energy per device and how it was obtained, CO2e and its basis."""
    lines = [
        f"carbonledger run {printable(summary.run_id)} "
        f"({printable(summary.project)}/{printable(summary.experiment)}) "
        f"{summary.status}, {summary.duration_s:.2f} s, scope={summary.scope}",
    ]
    lines.extend(_component_line(c) for c in summary.components)
    share = summary.measured_share * 100
    lines.append(
        f"  total {format_energy_j(summary.energy_j)} ({summary.energy_kwh:.6g} kWh), "
        f"{share:.0f}% measured"
    )
    lines.append(
        f"  CO2e  {format_mass_g(summary.co2e_g)} (range {format_mass_g(summary.co2e_low_g)}"
        f" - {format_mass_g(summary.co2e_high_g)}) at {summary.intensity_g_per_kwh:.4g} g/kWh"
        f" [{printable(summary.location)}, {printable(summary.location_source)};"
        f" {printable(summary.intensity_source)}]"
        f" x PUE {summary.pue:g} [{printable(summary.pue_source)}]"
    )
    if summary.market_co2e_g is not None:
        lines.append(f"  market-based CO2e {format_mass_g(summary.market_co2e_g)}")
    if summary.embodied_co2e_g is not None:
        lines.append(
            f"  embodied (manufacturing share, reported apart) {format_mass_g(summary.embodied_co2e_g)}"
        )
    if equivalents and summary.co2e_g > 0:
        try:
            from carbonledger.carbon import equivalents as eq

            items = eq(summary.co2e_g)
        except Exception:
            items = []
        if items:
            wanted = {
                "car_km_eu",
                "smartphone_charges",
                "household_electricity_days_us",
                "tree_months",
            }
            chosen = [e for e in items if e.name in wanted] or items[:4]
            lines.append(
                "  that is about " + "; ".join(f"{e.value:.3g} {e.description}" for e in chosen)
            )
    for w in summary.windows:
        lines.append(
            f"  window {printable(w.path)}: {format_energy_j(w.energy_j)} in {w.duration_s:.3f} s"
        )
    for err in summary.errors:
        lines.append(f"  ! {printable(err)}")
    return "\n".join(lines)
