"""The only place that converts units.

Base units everywhere else: joules (J), watts (W), seconds (s), grams of CO2e (g),
grams per kilowatt-hour (g/kWh). Vendor units (µJ, mJ, mW) are converted here by the
adapters and never leave them.
"""

from __future__ import annotations

J_PER_KWH = 3.6e6
"""Joules in one kilowatt-hour."""

J_PER_WH = 3.6e3
J_PER_MWH = 3.6e9
G_PER_KG = 1e3
G_PER_T = 1e6
BYTES_PER_GB = 1e9
BYTES_PER_GIB = float(1 << 30)
NAN = float("nan")
"""Not a number (``math.nan``)."""


def j_to_kwh(energy_j: float) -> float:
    """Joules -> kilowatt-hours."""
    return energy_j / J_PER_KWH


def kwh_to_j(energy_kwh: float) -> float:
    """Kilowatt-hours -> joules."""
    return energy_kwh * J_PER_KWH


def j_to_mwh(energy_j: float) -> float:
    """Joules -> megawatt-hours."""
    return energy_j / J_PER_MWH


def mwh_to_j(energy_mwh: float) -> float:
    """Megawatt-hours -> joules."""
    return energy_mwh * J_PER_MWH


def uj_to_j(energy_uj: float) -> float:
    """Microjoules (RAPL ``energy_uj``) -> joules."""
    return energy_uj * 1e-6


def mj_to_j(energy_mj: float) -> float:
    """Millijoules (NVML total energy) -> joules."""
    return energy_mj * 1e-3


def mw_to_w(power_mw: float) -> float:
    """Milliwatts (NVML power) -> watts."""
    return power_mw * 1e-3


def uw_to_w(power_uw: float) -> float:
    """Microwatts (amdsmi, some hwmon files) -> watts."""
    return power_uw * 1e-6


def g_to_kg(mass_g: float) -> float:
    """Grams -> kilograms."""
    return mass_g / G_PER_KG


def kg_to_g(mass_kg: float) -> float:
    """Kilograms -> grams."""
    return mass_kg * G_PER_KG


def g_to_t(mass_g: float) -> float:
    """Grams -> metric tonnes."""
    return mass_g / G_PER_T


def t_to_g(mass_t: float) -> float:
    """Metric tonnes -> grams."""
    return mass_t * G_PER_T


def lb_per_mwh_to_g_per_kwh(value_lb_per_mwh: float) -> float:
    """Pounds per megawatt-hour (EPA eGRID) -> grams per kilowatt-hour."""
    return value_lb_per_mwh * 0.45359237


def bytes_to_gb(n_bytes: float) -> float:
    """Bytes -> decimal gigabytes (1e9 bytes)."""
    return n_bytes / BYTES_PER_GB


def bytes_to_gib(n_bytes: float) -> float:
    """Bytes -> binary gibibytes (2**30 bytes), what CodeCarbon's ``ram_total_size`` and
    ``ram_used_gb`` columns hold."""
    return n_bytes / BYTES_PER_GIB


def iso_utc(unix_s: float, *, timespec: str = "seconds", suffix: str = "Z") -> str:
    """A unix time in seconds as ISO-8601 UTC text: ``2024-05-01T12:00:00Z``.

    :param timespec: as :meth:`datetime.datetime.isoformat`: ``"minutes"``, ``"seconds"``
        (the default; fractions are cut, not rounded), ``"milliseconds"``, ``"auto"``...
    :param suffix: the zone written after the time: ``"Z"``, ``"+00:00"``, or ``""`` for none
    """
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(unix_s, tz=timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec=timespec) + suffix
