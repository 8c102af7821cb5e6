"""The one accounting step: energy plus the carbon context of a run -> its footprint.

This is the only module that turns energy into CO2e. Both the tracker (a process's own
summary) and the ledger (a run's summary, merged over its members) call :func:`account`;
neither decides intensities, market or embodied figures on its own. Everything else that
needs grams of CO2e from joules (windows, hour-by-hour figures, market-based figures, the
region ranking, forecasts and predictions, the drop-ins' rows) calls the small pure
functions here: :func:`co2e_g` (the one multiplication by an intensity), :func:`co2e_range_g`
(a central figure and its range), :func:`hourly_co2e_g` (each hour's energy at that hour's
intensity) and :func:`facility_energy_j` / :func:`facility_energy_kwh` (IT energy scaled by
the PUE). They check nothing: callers validate their inputs where they read them. The records a run keeps beside its energy (hourly intensity, embodied carbon) are typed
here and stored in the ledger as their ``to_dict()``, under these keys of a run's meta:
``hourly`` (:class:`HourlyIntensity`), ``embodied`` (:class:`EmbodiedCarbon`; older ledgers
hold a bare number under ``embodied_co2e_g``), ``market_g_per_kwh``, ``forecast``,
``water`` (:class:`WaterFactor`: the data centre's water usage effectiveness and its source)
and ``electricity_price`` (:class:`ElectricityPrice`: a price per kWh, its currency and its
source). The litres of water and the electricity cost of a run are computed here, from those
records, by :func:`water_l` and :func:`electricity_cost` (and nowhere else).

Units: energy in joules, intensity in gCO2e/kWh, masses in grams, PUE dimensionless, water in
litres, WUE in litres per kWh of IT energy, prices per kWh of facility energy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from carbonledger.models import ComponentEnergy, RunStatus, RunSummary, WindowSummary
from carbonledger.units import j_to_kwh

__all__ = [
    "CarbonContext",
    "Co2eRange",
    "ElectricityPrice",
    "EmbodiedCarbon",
    "HourlyCo2e",
    "HourlyIntensity",
    "RunFacts",
    "WaterFactor",
    "account",
    "co2e_g",
    "co2e_range_g",
    "electricity_cost",
    "facility_energy_j",
    "facility_energy_kwh",
    "hourly_co2e_g",
    "water_l",
    "window_co2e_g",
]


# ----------------------------------------------------------------------------- the arithmetic


def facility_energy_j(energy_j: float, pue: float) -> float:
    """The facility's energy (J) for ``energy_j`` joules drawn by the IT equipment at power
    usage effectiveness ``pue`` (dimensionless, >= 1): what the grid supplies."""
    return energy_j * pue


def facility_energy_kwh(energy_j: float, pue: float) -> float:
    """As :func:`facility_energy_j`, in kilowatt-hours."""
    return j_to_kwh(energy_j) * pue


def co2e_g(energy_j: float, *, pue: float, intensity_g_per_kwh: float) -> float:
    """Operational CO2e in grams of ``energy_j`` joules of IT energy, scaled by the
    facility's ``pue`` (dimensionless) and drawn from a grid at ``intensity_g_per_kwh``
    (gCO2e/kWh): ``kWh x PUE x intensity``. The one multiplication by an intensity."""
    return facility_energy_kwh(energy_j, pue) * intensity_g_per_kwh


def water_l(energy_j: float, wue_l_per_kwh: float) -> float:
    """Litres of water a data centre consumes on site for ``energy_j`` joules of IT energy at
    a water usage effectiveness of ``wue_l_per_kwh`` (The Green Grid's WUE: site water per
    kWh of IT equipment energy, so the PUE is not applied)."""
    return j_to_kwh(energy_j) * wue_l_per_kwh


def electricity_cost(energy_j: float, *, pue: float, price_per_kwh: float) -> float:
    """The cost of the electricity for ``energy_j`` joules of IT energy: the facility's energy
    (IT energy x ``pue``, what the meter at the grid connection counts) x ``price_per_kwh``,
    in the price's currency."""
    return facility_energy_kwh(energy_j, pue) * price_per_kwh


class Co2eRange(NamedTuple):
    """A central CO2e figure and its range, in grams."""

    co2e_g: float
    low_g: float
    high_g: float


def co2e_range_g(
    energy_j: float,
    energy_low_j: float,
    energy_high_j: float,
    *,
    pue: float,
    intensity_g_per_kwh: float,
) -> Co2eRange:
    """:func:`co2e_g` of an energy (J) and of the two ends of its range (J), at one PUE and
    intensity (gCO2e/kWh): ordered ``low_g <= co2e_g <= high_g`` when the energies are."""
    return Co2eRange(
        co2e_g(energy_j, pue=pue, intensity_g_per_kwh=intensity_g_per_kwh),
        co2e_g(energy_low_j, pue=pue, intensity_g_per_kwh=intensity_g_per_kwh),
        co2e_g(energy_high_j, pue=pue, intensity_g_per_kwh=intensity_g_per_kwh),
    )


class HourlyCo2e(NamedTuple):
    """CO2e (grams) of energy spread over hours, each at its own intensity, and the
    energy-weighted mean intensity that gives the same figure (gCO2e/kWh; None without
    energy)."""

    co2e_g: float
    intensity_g_per_kwh: float | None


def hourly_co2e_g(
    energy_j_by_hour: Mapping[int, float],
    intensity_g_per_kwh_by_hour: Mapping[int, float],
    *,
    pue: float,
) -> HourlyCo2e:
    """Each hour's energy (J, keyed by the hour's start in unix seconds) at that hour's
    intensity (gCO2e/kWh, same keys; every hour of ``energy_j_by_hour`` must have one),
    scaled by ``pue``, summed in time order; with the energy-weighted mean intensity."""
    total_g = 0.0
    facility_kwh = 0.0
    for hour in sorted(energy_j_by_hour):
        energy_j = energy_j_by_hour[hour]
        total_g += co2e_g(energy_j, pue=pue, intensity_g_per_kwh=intensity_g_per_kwh_by_hour[hour])
        facility_kwh += facility_energy_kwh(energy_j, pue)
    return HourlyCo2e(total_g, total_g / facility_kwh if facility_kwh > 0 else None)


def _finite(value: object) -> float | None:
    """``value`` as a finite float, or None (records read back from storage may be anything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class WaterFactor:
    """A data centre's water usage effectiveness (litres per kWh of IT energy) and where it
    comes from: given by the user, or a cloud provider's published fleet figure."""

    wue_l_per_kwh: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"wue_l_per_kwh": self.wue_l_per_kwh, "source": self.source}

    @classmethod
    def from_dict(cls, data: object) -> WaterFactor | None:
        """The record stored by :meth:`to_dict`, or None when ``data`` is not one."""
        if not isinstance(data, Mapping):
            return None
        wue = _finite(data.get("wue_l_per_kwh"))
        if wue is None or wue < 0:
            return None
        return cls(wue, str(data.get("source") or ""))


@dataclass(frozen=True)
class ElectricityPrice:
    """A price per kWh of facility energy, its currency (ISO 4217, "" when not given) and
    where it comes from."""

    per_kwh: float
    currency: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"per_kwh": self.per_kwh, "currency": self.currency, "source": self.source}

    @classmethod
    def from_dict(cls, data: object) -> ElectricityPrice | None:
        """The record stored by :meth:`to_dict`, or None when ``data`` is not one."""
        if not isinstance(data, Mapping):
            return None
        price = _finite(data.get("per_kwh"))
        if price is None or price < 0:
            return None
        return cls(price, str(data.get("currency") or ""), str(data.get("source") or ""))


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
    #: the data centre's WUE and the electricity price, when known (see :func:`account`)
    water: WaterFactor | None = None
    price: ElectricityPrice | None = None


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
    return co2e_g(energy_j, pue=context.pue, intensity_g_per_kwh=context.intensity_g_per_kwh)


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
    location; the operational CO2e and its range (from the estimated components' energy
    ranges) are set on the summary as values; the market-based figure uses the contractual
    factor with the same energy and PUE; embodied carbon is carried apart, never added to
    operational CO2e. Water (litres, :func:`water_l`) and the electricity cost
    (:func:`electricity_cost`) are set when the context, or the run's stored metadata
    (``extra["meta"]``, as the ledger passes it: its ``water`` and ``electricity_price``
    records), gives a WUE or a price; otherwise they stay None (unknown, never zero).
    """
    out_extra: dict[str, Any] = dict(extra or {})
    stored = out_extra.get("meta")
    meta: Mapping[str, Any] = stored if isinstance(stored, Mapping) else {}
    water = context.water or WaterFactor.from_dict(meta.get("water"))
    price = context.price or ElectricityPrice.from_dict(meta.get("electricity_price"))
    intensity = context.intensity_g_per_kwh
    source = context.intensity_source
    if hourly is not None:
        intensity = hourly.intensity_g_per_kwh
        source = hourly.source
        out_extra["hourly_fallback"] = hourly.fallback
    market = context.market_g_per_kwh
    summary = RunSummary(
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
        scope=facts.scope,
        hosts=facts.hosts,
        extra=out_extra,
    )
    pue = context.pue
    central, low, high = co2e_range_g(
        summary.energy_j,
        summary.energy_low_j,
        summary.energy_high_j,
        pue=pue,
        intensity_g_per_kwh=intensity,
    )
    return replace(
        summary,
        co2e_g=central,
        co2e_low_g=low,
        co2e_high_g=high,
        market_co2e_g=None
        if market is None
        else co2e_g(summary.energy_j, pue=pue, intensity_g_per_kwh=market),
        water_l=None if water is None else water_l(summary.energy_j, water.wue_l_per_kwh),
        wue_l_per_kwh=None if water is None else water.wue_l_per_kwh,
        water_source="" if water is None else water.source,
        electricity_cost=None
        if price is None
        else electricity_cost(summary.energy_j, pue=pue, price_per_kwh=price.per_kwh),
        price_per_kwh=None if price is None else price.per_kwh,
        currency="" if price is None else price.currency,
        cost_source="" if price is None else price.source,
    )
