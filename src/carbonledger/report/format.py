"""Readable figures: a value scaled to its size, three significant figures.

Energy in joules prints as mJ/J/kJ/MJ (:func:`joules`) or mWh/Wh/kWh/MWh/GWh
(:func:`watt_hours`), mass of CO2e in grams as mg/g/kg/t (:func:`grams`), power in watts
as mW/W/kW/MW (:func:`watts`), time in seconds as s/min/h/d (:func:`duration`). Only
the scaling happens here; conversions between units are in :mod:`carbonledger.units`.
"""

from __future__ import annotations

import math

from carbonledger.units import G_PER_KG, G_PER_T, J_PER_WH

__all__ = ["duration", "grams", "joules", "percent", "sig3", "watt_hours", "watts"]


def sig3(value: float) -> str:
    """``value`` with 3 significant figures, never in exponent form below 1e15
    (``1234`` -> ``"1230"``, ``0.012345`` -> ``"0.0123"``)."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    digits = 2 - math.floor(math.log10(abs(value)))
    rounded = round(value, digits)
    if abs(rounded) >= 1e15:
        return f"{rounded:.3g}"
    # rounding may carry into a new digit (999.6 -> 1000): recount
    if rounded != 0 and math.floor(math.log10(abs(rounded))) != math.floor(math.log10(abs(value))):
        digits -= 1
        rounded = round(value, digits)
    return f"{rounded:.{max(digits, 0)}f}"


def _scaled(value: float, steps: tuple[tuple[float, str], ...]) -> str:
    """``value`` divided by the largest step factor not above it (the first when smaller)."""
    if not math.isfinite(value):
        return f"{value} {steps[1][1]}"
    chosen = steps[1] if value == 0 else steps[0]
    for factor, unit in steps:
        if abs(value) >= factor * 0.9995:
            chosen = (factor, unit)
    return f"{sig3(value / chosen[0])} {chosen[1]}"


def joules(energy_j: float) -> str:
    """Energy in joules as mJ, J, kJ, MJ or GJ (3 significant figures)."""
    return _scaled(energy_j, ((1e-3, "mJ"), (1.0, "J"), (1e3, "kJ"), (1e6, "MJ"), (1e9, "GJ")))


def watt_hours(energy_j: float) -> str:
    """Energy in joules as mWh, Wh, kWh, MWh or GWh (3 significant figures)."""
    wh = energy_j / J_PER_WH
    return _scaled(wh, ((1e-3, "mWh"), (1.0, "Wh"), (1e3, "kWh"), (1e6, "MWh"), (1e9, "GWh")))


def grams(mass_g: float) -> str:
    """CO2e in grams as µg, mg, g, kg or t (3 significant figures)."""
    return _scaled(
        mass_g, ((1e-6, "µg"), (1e-3, "mg"), (1.0, "g"), (G_PER_KG, "kg"), (G_PER_T, "t"))
    )


def watts(power_w: float) -> str:
    """Power in watts as mW, W, kW or MW (3 significant figures)."""
    return _scaled(power_w, ((1e-3, "mW"), (1.0, "W"), (1e3, "kW"), (1e6, "MW")))


def duration(duration_s: float) -> str:
    """Seconds as ``45.2 s``, ``12.5 min``, ``3.40 h`` or ``2.10 d``."""
    if not math.isfinite(duration_s):
        return f"{duration_s} s"
    if abs(duration_s) < 60:
        return f"{sig3(duration_s)} s"
    if abs(duration_s) < 3600:
        return f"{sig3(duration_s / 60)} min"
    if abs(duration_s) < 86400:
        return f"{sig3(duration_s / 3600)} h"
    return f"{sig3(duration_s / 86400)} d"


def percent(share: float) -> str:
    """A share 0..1 as a percentage with at most 3 significant figures (``0.1234`` -> ``12.3%``)."""
    return f"{sig3(share * 100)}%"
