"""The one region ranking: the same work's operational CO2e in other countries and cloud
regions, lowest first.

Used by ``carbonledger regions``, ``carbonledger where``, the advice ``show`` prints
(:mod:`carbonledger.reduce.advice`), the dashboard and ``carbonledger estimate
--compare-regions``, so that one job in one place gets one figure everywhere.

Each place's CO2e is :func:`carbonledger.accounting.co2e_range_g` of the job's IT energy
(with its range) at the place's yearly grid intensity and one PUE rule:

* **a cloud region**: its provider's published PUE (``carbon/data/pue.csv``: AWS 1.135,
  GCP 1.1, Azure 1.185, OVHcloud 1.09), since the job would run in that provider's
  buildings; a provider with no published figure gets the job's own PUE;
* **a country**: the job's own PUE (the run's, or the one given; 1 when none is known),
  so that the saving against the job's own place isolates the grid.

The saving of each place is against the job's own energy x its own PUE x
``reference_g_per_kwh`` (the run's intensity; the world average when none is given).

What a run is offered as a place to move to (:func:`rank_regions_for_run`: the dashboard's
run page, the advice ``show`` prints) is cloud regions only, places a team can rent and run
in; countries come in only when asked (``countries=True``, ``carbonledger regions``): a
country's yearly grid figure says nothing of whether a data centre there can be used.

Places where nobody can run a job are not suggested unless ``include_all=True``; the
rule (:data:`NOT_SUGGESTED`) is a fixed list, built from two sources:

* dependent territories with no cloud region in our table: ISO 3166-1 entries that are not
  UN member or observer states (United Nations, "Member States", un.org, 2024);
* UN member states with fewer than 100,000 inhabitants (United Nations, World Population
  Prospects 2022): Antigua and Barbuda, Dominica, Saint Kitts and Nevis, Nauru, Palau.

Territories that host a cloud region (Hong Kong, Macao, Taiwan, Puerto Rico) stay in.

"Near" a place means in the same geography, one of the UN M49 macro-regions split as
cloud providers group their regions: North America, Latin America, Europe, Middle East,
Africa, Asia, Oceania. Yearly figures: the hour and the season move a region's intensity
too (see :mod:`carbonledger.reduce.scheduling`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbonledger.accounting import co2e_g, co2e_range_g
from carbonledger.errors import InputError

if TYPE_CHECKING:
    from carbonledger.models import RunSummary

__all__ = [
    "CLOUDS",
    "GEOGRAPHIES",
    "NOT_SUGGESTED",
    "RegionOption",
    "geography_of",
    "rank_regions",
    "rank_regions_for_run",
]

#: the cloud providers ranked when a caller asks for "the clouds" without naming them
CLOUDS = ("aws", "gcp", "azure")

#: geography -> ISO 3166 alpha-2 codes of the countries holding cloud regions (UN M49)
GEOGRAPHIES: dict[str, tuple[str, ...]] = {
    "North America": ("US", "CA"),
    "Latin America": ("BR", "CL", "MX", "AR", "CO"),
    "Europe": (
        "AT", "BE", "CH", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IT", "NL", "NO", "PL",
        "PT", "SE",
    ),
    "Middle East": ("AE", "BH", "IL", "QA", "SA"),
    "Africa": ("ZA",),
    "Asia": ("CN", "HK", "ID", "IN", "JP", "KR", "MY", "SG", "TH", "TW"),
    "Oceania": ("AU", "NZ"),
}  # fmt: skip
_GEOGRAPHY_OF = {c: g for g, codes in GEOGRAPHIES.items() for c in codes}

#: ISO alpha-2 codes never suggested by default (see the module docstring for the rule)
NOT_SUGGESTED = frozenset(
    {
        # dependent territories (not UN member or observer states), no cloud region
        "AS", "AW", "AX", "BM", "CK", "CW", "EH", "FK", "FO", "GF", "GI", "GL", "GP", "GS",
        "GU", "KY", "MQ", "MS", "NC", "PF", "PM", "RE", "SH", "TC", "VG", "VI", "YT",
        # UN member states below 100,000 inhabitants (UN WPP 2022)
        "AG", "DM", "KN", "NR", "PW",
    }
)  # fmt: skip


def geography_of(country: str) -> str:
    """The geography of an ISO alpha-2 country code, or "" when the table lacks it."""
    return _GEOGRAPHY_OF.get(country.upper(), "")


@dataclass(frozen=True)
class RegionOption:
    """One place (a country or a cloud region) and the job's expected operational CO2e
    there: grams, an estimate from a yearly grid figure, its range from the energy's range;
    the saving (grams, positive: less than the job's own place) against the reference."""

    code: str
    name: str
    #: ``country`` or ``cloud``
    kind: str
    #: the cloud provider ("" for a country)
    provider: str
    geography: str
    intensity_g_per_kwh: float
    intensity_year: int
    intensity_source: str
    licence: str
    #: the provider's published carbon-free-energy share (0..1), where there is one
    cfe_share: float | None
    pue: float
    pue_source: str
    #: true when ``pue`` is the provider's published figure, false when the job's own
    provider_pue: bool
    co2e_g: float
    co2e_low_g: float
    co2e_high_g: float
    saving_g: float
    saving_pct: float | None

    @property
    def method(self) -> str:
        pue = "provider PUE" if self.provider_pue else "the job's PUE"
        return f"estimated: IT energy x {pue} x yearly grid intensity"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
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
            "saving_g": self.saving_g,
            "saving_pct": self.saving_pct,
            # the intensity's source and year in one, as `regions --json` has given them
            "source": f"{self.intensity_source}, {self.intensity_year}",
            "year": self.intensity_year,
            "method": self.method,
        }


def _energy(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{what} must be a number of joules, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise InputError(f"{what} must be a finite number of joules >= 0, got {value!r}")
    return float(value)


def _clouds(clouds: Iterable[str], known: set[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(c.strip().lower() for c in clouds if c.strip()))
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise InputError(
            f"unknown cloud provider(s) {', '.join(unknown)}; use any of: "
            + ", ".join(sorted(known))
        )
    return chosen


def rank_regions(
    energy_j: float,
    *,
    energy_low_j: float | None = None,
    energy_high_j: float | None = None,
    pue: float = 1.0,
    pue_source: str = "the job's own PUE",
    reference_g_per_kwh: float | None = None,
    clouds: Iterable[str] = (),
    countries: bool = True,
    include_all: bool = False,
    near: str | None = None,
) -> list[RegionOption]:
    """Every country (unless ``countries=False``) and the cloud regions of ``clouds``
    (``aws``, ``gcp``, ``azure``, ``ovh``...), lowest CO2e first (ties: lowest intensity,
    then code), for ``energy_j`` joules of IT energy (before PUE; range ``energy_low_j`` ..
    ``energy_high_j``, widened to hold ``energy_j``).

    PUE rule: a cloud region gets its provider's published PUE; a country, or a region of
    a provider with no published PUE, gets ``pue`` (the job's own, 1.0 to 3.0; described by
    ``pue_source``). The saving is against ``energy_j`` x ``pue`` x
    ``reference_g_per_kwh`` (the job's own intensity; the world average when None). With
    ``near`` (a cloud region such as ``aws:eu-west-2``, or a country), only places in the
    same geography.

    :raises InputError: on a negative or non-finite energy, a PUE outside 1.0..3.0, an
        unknown cloud provider, or a ``near`` place outside every geography.
    """
    from carbonledger.carbon import intensity, list_zones, provider_pue, validate_pue
    from carbonledger.carbon import world_average as world

    energy = _energy(energy_j, "energy")
    assert energy is not None
    low = _energy(energy_low_j, "the energy's low end")
    high = _energy(energy_high_j, "the energy's high end")
    low = energy if low is None else min(low, energy)
    high = energy if high is None else max(high, energy)
    own_pue = validate_pue(pue, "pue")
    reference = world().intensity_g_per_kwh if reference_g_per_kwh is None else reference_g_per_kwh
    cloud_zones = list_zones("cloud")
    chosen = _clouds(clouds, {z.provider for z in cloud_zones})
    zones = [z for z in list_zones("country") if z.code != "WORLD"] if countries else []
    if not include_all:
        zones = [z for z in zones if z.code not in NOT_SUGGESTED]
    zones += [z for z in cloud_zones if z.provider in chosen]
    if near:
        anchor = intensity(near)
        geography = geography_of(anchor.country)
        if not geography:
            raise InputError(
                f"{near} lies in {anchor.country or 'no country'}, which has no geography in "
                f"the table; choose among {', '.join(GEOGRAPHIES)}"
            )
        zones = [z for z in zones if geography_of(z.country) == geography]
    reference_g = co2e_g(energy, pue=own_pue, intensity_g_per_kwh=reference)
    options = []
    for z in zones:
        published = provider_pue(z.provider) if z.kind == "cloud" else None
        row_pue, row_pue_source = published or (own_pue, pue_source)
        g = co2e_range_g(energy, low, high, pue=row_pue, intensity_g_per_kwh=z.intensity_g_per_kwh)
        options.append(
            RegionOption(
                code=z.code,
                name=z.name,
                kind=z.kind,
                provider=z.provider,
                geography=geography_of(z.country),
                intensity_g_per_kwh=z.intensity_g_per_kwh,
                intensity_year=z.year,
                intensity_source=z.source,
                licence=z.licence,
                cfe_share=z.cfe_share,
                pue=row_pue,
                pue_source=row_pue_source,
                provider_pue=published is not None,
                co2e_g=g.co2e_g,
                co2e_low_g=g.low_g,
                co2e_high_g=g.high_g,
                saving_g=reference_g - g.co2e_g,
                saving_pct=None
                if reference_g == 0
                else 100.0 * (reference_g - g.co2e_g) / reference_g,
            )
        )
    options.sort(key=lambda o: (o.co2e_g, o.intensity_g_per_kwh, o.code))
    return options


def rank_regions_for_run(
    summary: RunSummary,
    *,
    clouds: Iterable[str] = CLOUDS,
    countries: bool = False,
    include_all: bool = False,
    near: str | None = None,
    pue: float | None = None,
) -> list[RegionOption]:
    """:func:`rank_regions` for a run: its IT energy and range, its PUE (or ``pue``) for
    countries, and its own intensity as the reference of the saving. Cloud regions of
    ``clouds`` only, places a team can run; countries too with ``countries=True``."""
    if summary.status == "damaged" or not (
        math.isfinite(summary.energy_j) and math.isfinite(summary.pue)
    ):  # a record that cannot be read: nothing to rank
        return []
    own_pue, source = (summary.pue, f"the run's PUE ({summary.pue_source})")
    if pue is not None:
        own_pue, source = pue, "given"
    return rank_regions(
        summary.energy_j,
        energy_low_j=summary.energy_low_j,
        energy_high_j=summary.energy_high_j,
        pue=own_pue,
        pue_source=source,
        reference_g_per_kwh=summary.intensity_g_per_kwh,
        clouds=clouds,
        countries=countries,
        include_all=include_all,
        near=near,
    )
