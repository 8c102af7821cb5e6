"""The one formatter for numbers people read: text, HTML tables, chart axes and hover labels,
the notebook magics, the framework callbacks' printed lines, ``where`` and ``regions``.

Every figure is scaled to its size and written with 3 significant figures, never in
exponent form:

* energy in joules (:func:`energy`): nJ, µJ, mJ, J, kJ below 3.6 kJ, then Wh, kWh, MWh, GWh
  (:func:`joules` and :func:`watt_hours` keep one family);
* mass of CO2e in grams (:func:`mass`, alias :func:`grams`): ng, µg, mg, g, kg, t;
* power in watts (:func:`watts`): µW, mW, W, kW, MW;
* time in seconds (:func:`duration`): µs, ms, s, min, h, d; a moment (:func:`moment`) in
  whole UTC seconds, never microseconds;
* shares (:func:`percent`), grid intensity (:func:`intensity`), PUE (:func:`pue`) and counts
  (:func:`count`);
* water in litres (:func:`litres`): µL, mL, L, m³; money (:func:`money`): 3 significant
  figures and the currency code.

A range is written one way (:func:`span`): ``low – high`` with one separator
(:data:`RANGE_SEP`), the unit once when both ends share it, and collapsed to one figure when
both ends print the same. Charts take their axis unit from :func:`energy_unit`,
:func:`mass_unit` and :func:`power_unit`, the same scale the tables use, so a chart and its
table agree. Only the scaling happens here; conversions between units are in
:mod:`carbonledger.units`. JSON outputs stay numeric (units in the field names) and never
pass through this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from carbonledger.units import G_PER_KG, G_PER_T, J_PER_WH

__all__ = [
    "RANGE_SEP",
    "count",
    "duration",
    "energy",
    "energy_unit",
    "grams",
    "intensity",
    "joules",
    "litres",
    "mass",
    "mass_unit",
    "moment",
    "money",
    "percent",
    "power_unit",
    "pue",
    "sig3",
    "span",
    "watt_hours",
    "watts",
    "with_range",
]

#: the one separator of a range's two ends (an en dash with spaces: a minus sign never
#: reads as a range)
RANGE_SEP = " – "

#: (size of one unit in the base unit, unit), smallest first
_Steps = tuple[tuple[float, str], ...]

_JOULES: _Steps = ((1e-9, "nJ"), (1e-6, "µJ"), (1e-3, "mJ"), (1.0, "J"), (1e3, "kJ"))
_WATT_HOURS: _Steps = (
    (J_PER_WH * 1e-3, "mWh"),
    (J_PER_WH, "Wh"),
    (J_PER_WH * 1e3, "kWh"),
    (J_PER_WH * 1e6, "MWh"),
    (J_PER_WH * 1e9, "GWh"),
)
_MASS: _Steps = (
    (1e-9, "ng"),
    (1e-6, "µg"),
    (1e-3, "mg"),
    (1.0, "g"),
    (G_PER_KG, "kg"),
    (G_PER_T, "t"),
)
_LITRES: _Steps = ((1e-6, "µL"), (1e-3, "mL"), (1.0, "L"), (1e3, "m³"))
_POWER: _Steps = ((1e-6, "µW"), (1e-3, "mW"), (1.0, "W"), (1e3, "kW"), (1e6, "MW"))
_SHORT_TIME: _Steps = ((1e-6, "µs"), (1e-3, "ms"), (1.0, "s"))
#: energy below this many joules is written in joules, at or above it in watt-hours
_WH_FROM_J = J_PER_WH


#: what a value no one knows (NaN: a damaged record) reads as
UNKNOWN = "-"


def sig3(value: float) -> str:
    """``value`` with 3 significant figures, never in exponent form below 1e15
    (``1234`` -> ``"1230"``, ``0.012345`` -> ``"0.0123"``)."""
    if math.isnan(value):
        return UNKNOWN
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


def _step(value: float, steps: _Steps, zero: int) -> tuple[float, str]:
    """The step for ``value``: the largest whose size is not above it (once rounded to 3
    significant figures), the smallest below every step, ``steps[zero]`` for 0 and NaN."""
    if not math.isfinite(value) or value == 0:
        return steps[zero]
    chosen = steps[0]
    for size, unit in steps:
        if abs(value) >= size * 0.9995:
            chosen = (size, unit)
    return chosen


def _scaled(value: float, steps: _Steps, zero: int) -> str:
    size, unit = _step(value, steps, zero)
    if math.isnan(value):
        return UNKNOWN
    if not math.isfinite(value):
        return f"{value} {unit}"
    return f"{sig3(value / size)} {unit}"


def _energy_steps(energy_j: float) -> _Steps:
    return _WATT_HOURS if abs(energy_j) >= _WH_FROM_J * 0.9995 else _JOULES


def energy(energy_j: float) -> str:
    """Energy in joules for people: nJ, µJ, mJ, J or kJ below 3.6 kJ, then Wh, kWh, MWh or
    GWh (3 significant figures): ``0.0000257`` -> ``"25.7 µJ"``, ``4.5e7`` -> ``"12.5 kWh"``."""
    return _scaled(energy_j, _energy_steps(energy_j), 3)


def energy_unit(energy_j: Iterable[float]) -> tuple[float, str]:
    """(joules per unit, unit) to plot the energies ``energy_j`` in one unit: the unit
    :func:`energy` gives the largest of them (``(3600.0, "Wh")``...)."""
    top = max((abs(v) for v in energy_j if math.isfinite(v)), default=0.0)
    return _step(top, _energy_steps(top), 3)


def joules(energy_j: float) -> str:
    """Energy in joules as nJ, µJ, mJ, J, kJ (up to GJ) (3 significant figures)."""
    return _scaled(energy_j, (*_JOULES, (1e6, "MJ"), (1e9, "GJ")), 3)


def watt_hours(energy_j: float) -> str:
    """Energy in joules as mWh, Wh, kWh, MWh or GWh (3 significant figures)."""
    return _scaled(energy_j, _WATT_HOURS, 1)


def mass(mass_g: float) -> str:
    """CO2e in grams as ng, µg, mg, g, kg or t (3 significant figures):
    ``0.00000124`` -> ``"1.24 ng"``, ``2.5e6`` -> ``"2.50 t"``."""
    return _scaled(mass_g, _MASS, 3)


#: the same as :func:`mass` (CO2e is a mass of grams)
grams = mass


def mass_unit(mass_g: Iterable[float]) -> tuple[float, str]:
    """(grams per unit, unit) to plot the masses ``mass_g`` in one unit: the unit
    :func:`mass` gives the largest of them."""
    top = max((abs(v) for v in mass_g if math.isfinite(v)), default=0.0)
    return _step(top, _MASS, 3)


def litres(volume_l: float) -> str:
    """Water in litres as µL, mL, L or m³ (3 significant figures)."""
    return _scaled(volume_l, _LITRES, 2)


def money(amount: float, currency: str = "") -> str:
    """An amount with 3 significant figures and its ISO 4217 code (``"0.0123 EUR"``); the
    word "(currency not given)" when the code is unknown."""
    return f"{sig3(amount)} {currency or '(currency not given)'}"


def watts(power_w: float) -> str:
    """Power in watts as µW, mW, W, kW or MW (3 significant figures)."""
    return _scaled(power_w, _POWER, 2)


def power_unit(power_w: Iterable[float]) -> tuple[float, str]:
    """(watts per unit, unit) to plot the powers ``power_w`` in one unit: the unit
    :func:`watts` gives the largest of them."""
    top = max((abs(v) for v in power_w if math.isfinite(v)), default=0.0)
    return _step(top, _POWER, 2)


def duration(duration_s: float) -> str:
    """Seconds as ``292 µs``, ``12.0 ms``, ``45.2 s``, ``12.5 min``, ``3.40 h`` or ``2.10 d``."""
    if math.isnan(duration_s):
        return UNKNOWN
    if not math.isfinite(duration_s):
        return f"{duration_s} s"
    size = abs(duration_s)
    if size < 60:
        return _scaled(duration_s, _SHORT_TIME, 2)
    if size < 3600:
        return f"{sig3(duration_s / 60)} min"
    if size < 86400:
        return f"{sig3(duration_s / 3600)} h"
    return f"{sig3(duration_s / 86400)} d"


def moment(unix_s: float) -> str:
    """A moment in whole seconds of UTC: ``2024-05-01 12:00:00 UTC`` (never microseconds)."""
    from datetime import datetime, timezone

    at = datetime.fromtimestamp(math.floor(unix_s), tz=timezone.utc)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def percent(share: float) -> str:
    """A share 0..1 as a percentage with at most 3 significant figures (``0.1234`` -> ``12.3%``)."""
    return UNKNOWN if math.isnan(share) else f"{sig3(share * 100)}%"


def intensity(g_per_kwh: float) -> str:
    """Grid intensity: ``56.0 gCO2e/kWh`` (3 significant figures)."""
    return UNKNOWN if math.isnan(g_per_kwh) else f"{sig3(g_per_kwh)} gCO2e/kWh"


def pue(value: float) -> str:
    """A PUE as published, at most 3 decimals and no trailing zeros (``1.135``, ``1.2``)."""
    return UNKNOWN if math.isnan(value) else f"{round(value, 3):g}"


def count(n: int) -> str:
    """A whole number with thousands separators (``20010`` -> ``"20,010"``)."""
    return f"{n:,}"


def span(low: float, high: float, unit: Callable[[float], str]) -> str:
    """A range ``low – high`` written by ``unit`` (:func:`energy`, :func:`mass`...): the
    unit once when both ends share it (``"1.20 – 3.40 kg"``), both when they differ
    (``"980 g – 1.20 kg"``), and one figure when both ends print the same (``"27.0 kg"``)."""
    lo, hi = unit(low), unit(high)
    if lo == hi:
        return lo
    lo_num, _, lo_unit = lo.partition(" ")
    hi_num, _, hi_unit = hi.partition(" ")
    if lo_unit and lo_unit == hi_unit:
        return f"{lo_num}{RANGE_SEP}{hi_num} {hi_unit}"
    return f"{lo}{RANGE_SEP}{hi}"


def with_range(
    value: float, low: float | None, high: float | None, unit: Callable[[float], str]
) -> str:
    """``value`` and its range in brackets (``"12.3 kg (range 11.0 – 14.0 kg)"``), or the
    value alone when there is no range or its ends print the same."""
    text = unit(value)
    if low is None or high is None:
        return text
    rng = span(low, high, unit)
    if RANGE_SEP not in rng:
        return text
    return f"{text} (range {rng})"
