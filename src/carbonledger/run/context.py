"""A run's carbon context: where its energy is drawn and what turns it into CO2e.

Resolved once at a run's start (location, grid intensity, PUE: :func:`resolve_carbon`), and
completed at its end (hourly intensity, embodied carbon) or after each epoch (forecast). The
figures themselves come from :mod:`carbonledger.carbon` and :mod:`carbonledger.predict`; the
arithmetic that combines them is :func:`carbonledger.accounting.account`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.accounting import CarbonContext, EmbodiedCarbon, HourlyIntensity

if TYPE_CHECKING:
    import logging

    from carbonledger.models import SensorInfo
    from carbonledger.run.settings import LocationSettings

__all__ = ["embodied_carbon", "forecast_after", "hourly_intensity", "resolve_carbon"]


def _log() -> logging.Logger:
    """The "carbonledger" logger (logging is loaded when something is logged)."""
    import logging

    return logging.getLogger("carbonledger")


def resolve_carbon(
    where: LocationSettings, env: Mapping[str, str]
) -> tuple[CarbonContext, tuple[str | None, str | None], str, list[str]]:
    """The run's carbon context, its cloud (provider, region), its country's name, and notes.

    An unknown location is never guessed: the world average is used, the context says
    ``location_source == "default"`` and a note says how to set it.
    """
    from carbonledger.carbon import resolve_location, resolve_price, resolve_pue, resolve_water
    from carbonledger.run.hostinfo import cloud_hint

    probe = where.probe_cloud
    if probe is None:
        probe = env.get("CARBONLEDGER_NO_CLOUD_PROBE") != "1" and cloud_hint()
    loc = resolve_location(
        country=where.country,
        region=where.region,
        env=env,
        config=dict(where.file_settings),
        probe_cloud=bool(probe),
        ip_geolocation=where.ip_geolocation,
    )
    zone = loc.zone
    notes: list[str] = []
    if where.grid_g_per_kwh is not None:
        intensity, source = float(where.grid_g_per_kwh), "argument (grid_g_per_kwh)"
    else:
        intensity = zone.intensity_g_per_kwh
        source = f"{zone.source}, {zone.year} ({zone.code}, {zone.basis})"
        if loc.source == "default":
            msg = (
                "location unknown: the world-average grid intensity is used. Set it with "
                "country=/region=, CARBONLEDGER_COUNTRY or CARBONLEDGER_REGION, or carbonledger.toml"
            )
            notes.append(msg)
            _log().warning("carbonledger: %s", msg)
    pue, pue_source = resolve_pue(where.pue, loc)
    origins = dict(where.origins)
    water = resolve_water(where.wue_l_per_kwh, origins.get("wue_l_per_kwh", ""), loc.cloud_provider)
    price = resolve_price(where.price_per_kwh, where.prices, where.currency, zone.code, origins)
    context = CarbonContext(
        location=zone.code,
        location_source=loc.source,
        intensity_g_per_kwh=intensity,
        intensity_source=source,
        pue=pue,
        pue_source=pue_source,
        market_g_per_kwh=where.market_g_per_kwh,
        water=water,
        price=price,
    )
    return context, (loc.cloud_provider, loc.cloud_region), zone.name, notes


def hourly_intensity(
    hour_energy_j: Mapping[int, float], context: CarbonContext, provider: Any
) -> HourlyIntensity:
    """The energy-weighted intensity of the hours a run used, from an hourly ``provider``;
    a provider failure falls back to the yearly figure, and says so."""
    from carbonledger.carbon import hourly_co2e
    from carbonledger.carbon import intensity as zone_lookup

    try:
        result = hourly_co2e(
            dict(hour_energy_j), zone=zone_lookup(context.location), pue=context.pue,
            provider=provider,
        )  # fmt: skip
    except Exception as exc:
        return HourlyIntensity(
            context.intensity_g_per_kwh,
            context.intensity_source,
            f"hourly intensity unavailable ({exc}); yearly figure used",
        )
    return HourlyIntensity(
        result.effective_intensity_g_per_kwh,
        f"hourly: {result.source}",
        result.fallback_reason if result.fallback_used else None,
        result.intensity_by_hour,
    )


def embodied_carbon(
    infos: Sequence[SensorInfo], scope: str, duration_s: float, notes: list[str]
) -> EmbodiedCarbon | None:
    """The manufacturing share of the GPUs in use (and of the server in machine scope)
    amortised over ``duration_s`` seconds; None when nothing is known to amortise. A
    system-on-chip's GPU is part of its chip, not a card: it is not charged as a GPU."""
    devices = [("gpu", i.model) for i in infos if i.component == "gpu" and not i.soc]
    if scope == "machine":
        devices.append(("server", ""))
    if duration_s <= 0 or not devices:
        return None  # nothing to amortise: the table is not even read
    from carbonledger.carbon import embodied_co2e_g

    try:
        result = embodied_co2e_g(devices, duration_s=duration_s)
    except Exception as exc:
        notes.append(f"embodied carbon not computed: {exc}")
        return None
    return EmbodiedCarbon(float(result.co2e_g))


def forecast_after(
    energies_j: Sequence[float],
    durations_s: Sequence[float],
    expected_epochs: int,
    context: CarbonContext,
) -> dict[str, Any]:
    """The whole run's forecast from its top-level windows so far (their energies in J and
    durations in s; see ``predict.forecast``)."""
    from carbonledger.predict import forecast
    from carbonledger.units import j_to_kwh

    result = forecast(
        list(energies_j),
        list(durations_s),
        max(expected_epochs, len(energies_j)),
        intensity_g_per_kwh=context.intensity_g_per_kwh,
        pue=context.pue,
    )
    _log().info(
        "carbonledger forecast after %d/%d windows: %.4g kWh (%.4g-%.4g), %.4g kgCO2e",
        len(energies_j),
        expected_epochs,
        j_to_kwh(result.energy_j),
        j_to_kwh(result.energy_low_j),
        j_to_kwh(result.energy_high_j),
        result.co2e_g / 1e3,
    )
    return result.to_dict()
