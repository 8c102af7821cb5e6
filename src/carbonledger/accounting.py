"""The one accounting step: energy plus the carbon context of a run -> its footprint.

Both the tracker (a process's own summary) and the ledger (a run's summary, merged over its
members) call :func:`account`; neither decides intensities, market or embodied figures on its
own. The records a run keeps beside its energy (hourly intensity, embodied carbon) are typed
here and stored in the ledger as their ``to_dict()``, under these keys of a run's meta:
``hourly`` (:class:`HourlyIntensity`), ``embodied`` (:class:`EmbodiedCarbon`; older ledgers
hold a bare number under ``embodied_co2e_g``), ``market_g_per_kwh`` and ``forecast``.

Units: energy in joules, intensity in gCO2e/kWh, masses in grams, PUE dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.models import ComponentEnergy, RunStatus, RunSummary, WindowSummary
from carbonledger.units import co2e_g

__all__ = [
    "CarbonContext",
    "EmbodiedCarbon",
    "HourlyIntensity",
    "RunFacts",
    "account",
    "window_co2e_g",
]


def _finite(value: object) -> float | None:
    """``value`` as a finite float, or None (records read back from storage may be anything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class CarbonContext:
    """Where and how a run's energy becomes CO2e: fixed by the run's start record.

    ``intensity_g_per_kwh`` is the yearly (or argument) grid figure of ``location``;
    ``market_g_per_kwh`` a contractual factor reported beside it, when given.
    """

    location: str
    location_source: str
    intensity_g_per_kwh: float
    intensity_source: str
    pue: float = 1.0
    pue_source: str = ""
    market_g_per_kwh: float | None = None


@dataclass(frozen=True)
class HourlyIntensity:
    """The energy-weighted grid intensity of the hours a run used (gCO2e/kWh).

    ``fallback`` says why (part of) the yearly figure was used instead, when it was.
    """

    intensity_g_per_kwh: float
    source: str
    fallback: str | None = None
    #: (hour_start_unix_s, gCO2e/kWh applied) for every hour the run used, in time order
    hours: tuple[tuple[int, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "source": self.source,
            "fallback": self.fallback,
            "hours": [{"hour_unix_s": h, "intensity_g_per_kwh": g} for h, g in self.hours],
        }

    @classmethod
    def from_dict(cls, data: object) -> HourlyIntensity | None:
        """The record stored by :meth:`to_dict`, or None when ``data`` is not one."""
        if not isinstance(data, Mapping):
            return None
        intensity = _finite(data.get("intensity_g_per_kwh"))
        if intensity is None or intensity < 0:
            return None
        fallback = data.get("fallback")
        hours: list[tuple[int, float]] = []
        for point in data.get("hours") or ():
            if isinstance(point, Mapping):
                hour, g = (
                    _finite(point.get("hour_unix_s")),
                    _finite(point.get("intensity_g_per_kwh")),
                )
                if hour is not None and g is not None:
                    hours.append((int(hour), g))
        return cls(
            intensity_g_per_kwh=intensity,
            source=str(data.get("source") or ""),
            fallback=None if fallback is None else str(fallback),
            hours=tuple(hours),
        )


@dataclass(frozen=True)
class EmbodiedCarbon:
    """The manufacturing share of the hardware a run used, in grams CO2e (reported apart)."""

    co2e_g: float
    method: str = "amortised over service life"

    def to_dict(self) -> dict[str, Any]:
        return {"co2e_g": self.co2e_g, "method": self.method}

    @classmethod
    def from_dict(cls, data: object) -> EmbodiedCarbon | None:
        """The record stored by :meth:`to_dict` (or a bare number, as older ledgers hold)."""
        if isinstance(data, Mapping):
            grams = _finite(data.get("co2e_g"))
            if grams is None or grams < 0:
                return None
            return cls(grams, str(data.get("method") or cls.method))
        grams = _finite(data)
        return None if grams is None or grams < 0 else cls(grams)


@dataclass(frozen=True)
class RunFacts:
    """What identifies a run (or one process's part of it) apart from its energy and carbon."""

    run_id: str
    project: str
    experiment: str
    status: RunStatus
    started_unix_s: float
    duration_s: float
    scope: str = "process"
    hosts: tuple[str, ...] = ()


def window_co2e_g(energy_j: float, context: CarbonContext) -> float:
    """Operational CO2e of a window's energy (grams), at the run's yearly intensity and PUE."""
    return co2e_g(energy_j, context.intensity_g_per_kwh, context.pue)


def account(
    facts: RunFacts,
    components: Sequence[ComponentEnergy],
    context: CarbonContext,
    *,
    hourly: HourlyIntensity | None = None,
    embodied: EmbodiedCarbon | None = None,
    windows: Sequence[WindowSummary] = (),
    errors: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> RunSummary:
    """The footprint of ``components`` (energy per device) in ``context``.

    The intensity is the hourly one when a run has it, else the yearly figure of its
    location; the market-based figure uses the contractual factor with the same energy and
    PUE; embodied carbon is carried apart, never added to operational CO2e.
    """
    out_extra: dict[str, Any] = dict(extra or {})
    intensity = context.intensity_g_per_kwh
    source = context.intensity_source
    if hourly is not None:
        intensity = hourly.intensity_g_per_kwh
        source = hourly.source
        out_extra["hourly_fallback"] = hourly.fallback
    energy_j = sum(c.energy_j for c in components)
    market = context.market_g_per_kwh
    return RunSummary(
        run_id=facts.run_id,
        project=facts.project,
        experiment=facts.experiment,
        status=facts.status,
        started_unix_s=facts.started_unix_s,
        duration_s=facts.duration_s,
        components=tuple(components),
        intensity_g_per_kwh=intensity,
        intensity_source=source,
        location=context.location,
        location_source=context.location_source,
        pue=context.pue,
        pue_source=context.pue_source,
        windows=tuple(windows),
        errors=tuple(errors),
        embodied_co2e_g=None if embodied is None else embodied.co2e_g,
        market_co2e_g=None if market is None else co2e_g(energy_j, market, context.pue),
        scope=facts.scope,
        hosts=facts.hosts,
        extra=out_extra,
    )
