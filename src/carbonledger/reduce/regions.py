"""Where to run: cloud regions ranked by a job's expected operational CO2e.

For each cloud region of the shipped table (``carbon/data/cloud_regions.csv``), the
expected CO2e of a job is ``IT energy (kWh) x provider PUE x the region's yearly grid
intensity (gCO2e/kWh)``, with the energy's range carried through. Each row says where its
intensity comes from and its year, the provider's published carbon-free-energy share where
there is one (Google), and the PUE's source. Yearly figures: the hour and the season move
a region's intensity too (see :mod:`carbonledger.reduce.scheduling`).

"Near" a region means in the same geography, one of the UN M49 macro-regions split as
cloud providers group their regions: North America, Latin America, Europe, Middle East,
Africa, Asia, Oceania.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import InputError

__all__ = ["CLOUDS", "GEOGRAPHIES", "RegionOption", "geography_of", "rank_regions"]

CLOUDS = ("aws", "gcp", "azure")

#: geography -> ISO 3166 alpha-2 codes of the countries holding cloud regions (UN M49)
GEOGRAPHIES: dict[str, tuple[str, ...]] = {
    "North America": ("US", "CA"),
    "Latin America": ("BR", "CL", "MX", "AR", "CO"),
    "Europe": tuple(
        [
            "AT",
            "BE",
            "CH",
            "DE",
            "DK",
            "ES",
            "FI",
            "FR",
            "GB",
            "IE",
            "IT",
            "NL",
            "NO",
            "PL",
            "PT",
            "SE",
        ]
    ),
    "Middle East": ("AE", "BH", "IL", "QA", "SA"),
    "Africa": ("ZA",),
    "Asia": ("CN", "HK", "ID", "IN", "JP", "KR", "MY", "SG", "TH", "TW"),
    "Oceania": ("AU", "NZ"),
}
_GEOGRAPHY_OF = {c: g for g, codes in GEOGRAPHIES.items() for c in codes}


def geography_of(country: str) -> str:
    """The geography of an ISO alpha-2 country code, or "" when the table lacks it."""
    return _GEOGRAPHY_OF.get(country.upper(), "")


@dataclass(frozen=True)
class RegionOption:
    """One cloud region and a job's expected operational CO2e there (grams; an estimate
    from a yearly grid figure, range from the energy's range)."""

    code: str
    name: str
    provider: str
    geography: str
    intensity_g_per_kwh: float
    intensity_year: int
    intensity_source: str
    licence: str
    cfe_share: float | None
    pue: float
    pue_source: str
    co2e_g: float
    co2e_low_g: float
    co2e_high_g: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "provider": self.provider,
            "geography": self.geography,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "intensity_year": self.intensity_year,
            "intensity_source": self.intensity_source,
            "licence": self.licence,
            "cfe_share": self.cfe_share,
            "pue": self.pue,
            "pue_source": self.pue_source,
            "co2e_g": self.co2e_g,
            "co2e_low_g": self.co2e_low_g,
            "co2e_high_g": self.co2e_high_g,
            "method": "estimated: IT energy x provider PUE x yearly grid intensity",
        }


def _clouds(clouds: Iterable[str] | None) -> tuple[str, ...]:
    chosen = tuple(c.strip().lower() for c in (clouds or CLOUDS) if c.strip())
    unknown = [c for c in chosen if c not in CLOUDS]
    if unknown or not chosen:
        raise InputError(
            f"unknown cloud {', '.join(unknown) or '(none)'}: choose among {', '.join(CLOUDS)}"
        )
    return chosen


def rank_regions(
    energy_kwh: float,
    *,
    energy_low_kwh: float | None = None,
    energy_high_kwh: float | None = None,
    clouds: Iterable[str] | None = None,
    near: str | None = None,
) -> list[RegionOption]:
    """Cloud regions of ``clouds`` (default aws, gcp, azure), lowest expected CO2e first,
    for a job of ``energy_kwh`` IT energy (before PUE; range ``energy_low_kwh`` ..
    ``energy_high_kwh``); with ``near`` (a cloud region code such as ``aws:eu-west-2``, or
    a country code), only regions in the same geography."""
    from carbonledger.carbon import intensity, list_zones, provider_pue, reference_pue

    for name, value in (("energy", energy_kwh), ("low", energy_low_kwh), ("high", energy_high_kwh)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise InputError(f"{name} must be a number of kWh >= 0, got {value!r}")
    low = energy_kwh if energy_low_kwh is None else min(energy_low_kwh, energy_kwh)
    high = energy_kwh if energy_high_kwh is None else max(energy_high_kwh, energy_kwh)
    chosen = _clouds(clouds)
    geography = ""
    if near:
        anchor = intensity(near)
        geography = geography_of(anchor.country)
        if not geography:
            raise InputError(
                f"{near} lies in {anchor.country or 'no country'}, which has no geography in "
                f"the table; choose among {', '.join(GEOGRAPHIES)}"
            )
    options = []
    for zone in list_zones("cloud"):
        if zone.provider not in chosen:
            continue
        where = geography_of(zone.country)
        if geography and where != geography:
            continue
        pue, pue_source = provider_pue(zone.provider) or reference_pue()
        factor = pue * zone.intensity_g_per_kwh
        options.append(
            RegionOption(
                code=zone.code,
                name=zone.name,
                provider=zone.provider,
                geography=where,
                intensity_g_per_kwh=zone.intensity_g_per_kwh,
                intensity_year=zone.year,
                intensity_source=zone.source,
                licence=zone.licence,
                cfe_share=zone.cfe_share,
                pue=pue,
                pue_source=pue_source,
                co2e_g=energy_kwh * factor,
                co2e_low_g=low * factor,
                co2e_high_g=high * factor,
            )
        )
    options.sort(key=lambda o: (o.co2e_g, o.code))
    return options
