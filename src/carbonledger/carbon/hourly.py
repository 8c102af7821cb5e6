"""Hour-by-hour grid intensity: each hour's energy at that hour's intensity.

:func:`hourly_co2e` asks an hourly provider (see :mod:`carbonledger.carbon.providers`) for
the hours a run used; hours the provider cannot give (failure, gap, another zone) use the
zone's yearly figure, and the result says so (``fallback_used``, ``fallback_reason``)
rather than hiding it. The arithmetic (energy x PUE x each hour's intensity) is
:func:`carbonledger.accounting.hourly_co2e_g`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carbonledger.accounting import hourly_co2e_g
from carbonledger.carbon.providers.base import HOUR_S, IntensityProvider, hour_start
from carbonledger.carbon.pue import validate_pue
from carbonledger.carbon.zones import Zone
from carbonledger.errors import CarbonLedgerError, InputError

__all__ = ["HourlyResult", "hourly_co2e"]


@dataclass(frozen=True)
class HourlyResult:
    """Operational CO2e computed hour by hour.

    ``effective_intensity_g_per_kwh`` is the energy-weighted mean intensity applied
    (CO2e over PUE-scaled energy). ``fallback_used`` is true when some or all hours used
    the zone's yearly figure, and ``fallback_reason`` says why.
    """

    co2e_g: float
    effective_intensity_g_per_kwh: float
    source: str
    fallback_used: bool
    fallback_reason: str
    hours: int = 0
    hours_from_provider: int = 0
    #: (hour_start_unix_s, g_per_kwh applied) for every hour, in time order
    intensity_by_hour: tuple[tuple[int, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "co2e_g": self.co2e_g,
            "effective_intensity_g_per_kwh": self.effective_intensity_g_per_kwh,
            "source": self.source,
            "fallback_used": self.fallback_used,
            "fallback_reason": self.fallback_reason,
            "hours": self.hours,
            "hours_from_provider": self.hours_from_provider,
        }


def hourly_co2e(
    energy_j_by_hour: Mapping[int, float],
    *,
    zone: Zone,
    pue: float,
    provider: IntensityProvider | None,
) -> HourlyResult:
    """CO2e in grams: each hour's energy (joules, keyed by the hour's start in unix
    seconds) x ``pue`` x that hour's intensity from ``provider``; hours the provider
    cannot give use ``zone``'s yearly figure, recorded in the result. Cloud zones are
    asked for by their grid zone."""
    pue = validate_pue(pue)
    hours: dict[int, float] = {}
    for key, energy_j in energy_j_by_hour.items():
        try:
            value = float(energy_j)
            hour = hour_start(float(key))
        except (TypeError, ValueError):
            raise InputError(f"energy_j_by_hour: bad entry {key!r}: {energy_j!r}") from None
        if not math.isfinite(value) or value < 0:
            raise InputError(
                f"energy_j_by_hour[{key}] must be a finite number >= 0, got {energy_j!r}"
            )
        hours[hour] = hours.get(hour, 0.0) + value
    yearly = zone.intensity_g_per_kwh
    yearly_label = f"{zone.code} yearly {yearly:g} g/kWh ({zone.year})"
    code = zone.grid_zone or zone.code
    got: dict[int, float] = {}
    reason = ""
    if provider is not None and hours:
        name = str(getattr(provider, "name", type(provider).__name__))
        try:
            answer = provider.hourly(code, min(hours), max(hours) + HOUR_S)
            got = {int(h): float(v) for h, v in answer.items() if math.isfinite(float(v))}
        except (CarbonLedgerError, OSError, ValueError, TypeError) as exc:
            reason = f"{name} failed ({exc}); the yearly figure was used for every hour"
        else:
            missing = [h for h in hours if h not in got]
            if missing:
                reason = (
                    f"{name} had no figure for {len(missing)} of {len(hours)} hours; the "
                    "yearly figure was used for them"
                )
        source = f"{name} hourly ({code}); fallback {yearly_label}"
    else:
        source = yearly_label if provider is None else f"{yearly_label} (no energy)"
    applied = {hour: got.get(hour, yearly) for hour in sorted(hours)}
    result = hourly_co2e_g(hours, applied, pue=pue)
    return HourlyResult(
        co2e_g=result.co2e_g,
        effective_intensity_g_per_kwh=yearly
        if result.intensity_g_per_kwh is None
        else result.intensity_g_per_kwh,
        source=source,
        fallback_used=bool(reason),
        fallback_reason=reason,
        hours=len(hours),
        hours_from_provider=sum(1 for h in hours if h in got),
        intensity_by_hour=tuple(applied.items()),
    )
