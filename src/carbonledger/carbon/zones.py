"""Grid carbon intensity of every place: countries, sub-national zones, cloud regions.

A *zone* is a place with one yearly grid intensity in grams CO2e per kWh. Three kinds:

* ``country``: ISO 3166 alpha-2 code (``FR``), alpha-3 (``FRA``) or English name
  (``France``); plus the ``WORLD`` average, the default when the location is unknown.
* ``subregion``: a state, province or grid zone (``US-CA``, ``CN-BJ``, ``SE-SE3``,
  ``US-CAL-CISO``); its country is the part before the first ``-``.
* ``cloud``: ``provider:region`` (``aws:eu-west-3``, ``gcp:europe-west1``,
  ``azure:westeurope``). A cloud zone uses the figure of the grid zone it sits in
  (``grid_zone``); Google's own regional figure and carbon-free-energy share are kept
  beside it (``provider_intensity_g_per_kwh``, ``cfe_share``).

Lookups are case- and accent-insensitive. Unknown names raise
:class:`~carbonledger.errors.UnknownNameError` with close matches.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from carbonledger.carbon._tables import read_table
from carbonledger.errors import InputError, UnknownNameError

ZoneKind = Literal["country", "subregion", "cloud"]


__all__ = ["ZONE_KINDS", "Zone", "intensity", "list_zones", "world_average"]

ZONE_KINDS: tuple[ZoneKind, ...] = ("country", "subregion", "cloud")

WORLD_CODE = "WORLD"
_LIST_HINT = "run `carbonledger intensity --list` to see every zone"

#: common names that are not the table's English name or an ISO code
_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "united states of america": "US",
    "global": WORLD_CODE,
}


_PROVIDER_LABELS = {
    "aws": "AWS",
    "gcp": "Google Cloud",
    "azure": "Azure",
    "ovh": "OVHcloud",
    "scaleway": "Scaleway",
    "coreweave": "CoreWeave",
    "seeweb": "Seeweb",
}


@dataclass(frozen=True)
class Zone:
    """One place and its yearly grid carbon intensity.

    ``basis`` is ``lifecycle`` (construction, fuel supply and combustion) or ``direct``
    (combustion only). ``year`` is the year the figure describes, ``source`` and
    ``licence`` where it comes from. Cloud zones carry ``provider`` and ``grid_zone``
    (the zone whose figure they use); ``cfe_share`` is the provider's published
    carbon-free-energy share (0..1) where there is one. ``country`` is the ISO alpha-2
    code of the country the zone lies in ("" for ``WORLD``).
    """

    code: str
    name: str
    kind: ZoneKind
    intensity_g_per_kwh: float
    year: int
    source: str
    licence: str
    basis: str
    provider: str = ""
    grid_zone: str = ""
    cfe_share: float | None = None
    alpha3: str = ""
    country: str = ""
    #: cloud only: the provider's own grid figure for the region (Google), else None
    provider_intensity_g_per_kwh: float | None = None
    #: cloud only: where the region is (city, state or country)
    location: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The fields the command line prints with ``--json``."""
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "year": self.year,
            "source": self.source,
            "licence": self.licence,
            "basis": self.basis,
            "provider": self.provider,
            "grid_zone": self.grid_zone,
            "cfe_share": self.cfe_share,
        }


def _key(text: str) -> str:
    """Case-, accent- and spacing-insensitive lookup key."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def _optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


@dataclass(frozen=True)
class _Catalogue:
    zones: tuple[Zone, ...]
    by_key: dict[str, Zone]
    ambiguous: dict[str, tuple[Zone, ...]]
    #: display strings (codes and names) for "did you mean"
    labels: tuple[str, ...]


def _grid_zone(row: dict[str, str], kind: ZoneKind, country: str) -> Zone:
    return Zone(
        code=row["code"],
        name=row["name"],
        kind=kind,
        intensity_g_per_kwh=float(row["intensity_g_per_kwh"]),
        year=int(row["year"]),
        source=row["source"],
        licence=row["licence"],
        basis=row["basis"],
        alpha3=row.get("alpha3", ""),
        country=country,
    )


@functools.cache
def _countries() -> dict[str, Zone]:
    """The zones of countries.csv (countries and WORLD) by the lookup keys of their
    alpha-2 and alpha-3 codes: a tracker told its country reads this table only.

    Codes win over names in the full catalogue too, so this index never disagrees with it.
    """
    out: dict[str, Zone] = {}
    for row in read_table("countries.csv"):
        zone = _grid_zone(row, "country", "" if row["code"] == WORLD_CODE else row["code"])
        out[_key(row["code"])] = zone
        if row.get("alpha3"):
            out.setdefault(_key(row["alpha3"]), zone)
    return out


@functools.cache
def _catalogue() -> _Catalogue:
    zones: list[Zone] = []
    zones.extend({id(z): z for z in _countries().values()}.values())  # the index's objects
    for name in ("subregions_electricitymaps.csv", "subregions.csv"):
        zones.extend(_grid_zone(row, "subregion", row["country"]) for row in read_table(name))
    by_code = {z.code: z for z in zones}
    for row in read_table("cloud_regions.csv"):
        grid = by_code[row["grid_zone"]]
        zones.append(
            Zone(
                code=row["code"],
                name=f"{_PROVIDER_LABELS.get(row['provider'], row['provider'])} "
                f"{row['region']} ({row['location']})",
                kind="cloud",
                intensity_g_per_kwh=grid.intensity_g_per_kwh,
                year=grid.year,
                source=f"grid zone {grid.code}: {grid.source}; {row['source']}",
                licence=grid.licence,
                basis=grid.basis,
                provider=row["provider"],
                grid_zone=grid.code,
                cfe_share=_optional_float(row["cfe_share"]),
                country=grid.country,
                provider_intensity_g_per_kwh=_optional_float(row["provider_intensity_g_per_kwh"]),
                location=row["location"],
            )
        )

    by_key: dict[str, Zone] = {}
    for z in zones:  # codes first: they always win over names
        by_key[_key(z.code)] = z
        if z.alpha3:
            by_key.setdefault(_key(z.alpha3), z)
        if z.kind == "cloud":  # "azure:West Europe" -> "azure:westeurope"
            provider, _, region = z.code.partition(":")
            by_key.setdefault(f"{provider}:{_key(region).replace(' ', '')}", z)
    for alias, code in _ALIASES.items():
        by_key.setdefault(alias, by_code[code])
    named: dict[str, list[Zone]] = {}
    for z in zones:
        if z.kind != "cloud":  # cloud display names repeat across providers
            named.setdefault(_key(z.name), []).append(z)
    ambiguous: dict[str, tuple[Zone, ...]] = {}
    for key, group in named.items():
        if key in by_key:
            continue
        countries = [z for z in group if z.kind == "country"]
        best = countries or group  # a country's name wins over a subregion's
        if len(best) == 1:
            by_key[key] = best[0]
        else:
            ambiguous[key] = tuple(best)
    labels = tuple(dict.fromkeys([*(z.code for z in zones), *(z.name for z in zones)]))
    return _Catalogue(tuple(zones), by_key, ambiguous, labels)


def _suggest(query: str, labels: tuple[str, ...]) -> list[str]:
    import difflib  # only on the error path

    lowered: dict[str, str] = {}
    for label in labels:
        lowered.setdefault(_key(label), label)
    close = difflib.get_close_matches(_key(query), list(lowered), n=5, cutoff=0.6)
    return [lowered[c] for c in close]


def intensity(code_or_name: str) -> Zone:
    """The zone for a code or name: ``"FR"``, ``"FRA"``, ``"France"``, ``"US-CA"``,
    ``"aws:eu-west-3"``, ``"gcp:europe-west1"``, ``"azure:westeurope"``.

    Case- and accent-insensitive. Raises :class:`UnknownNameError` (an ``InputError``)
    with close matches when nothing matches, and :class:`InputError` when a name fits
    several zones equally well.
    """
    if not isinstance(code_or_name, str) or not code_or_name.strip():
        raise InputError(f"a zone code or name is required, got {code_or_name!r}; {_LIST_HINT}")
    key = _key(code_or_name)
    country = _countries().get(key)
    if country is not None:  # the common case: a country code, without the whole catalogue
        return country
    cat = _catalogue()
    zone = cat.by_key.get(key)
    if zone is None and ":" in key:
        provider, _, region = key.partition(":")
        zone = cat.by_key.get(f"{provider.strip()}:{region.replace(' ', '')}")
    if zone is not None:
        return zone
    if key in cat.ambiguous:
        options = ", ".join(f"{z.code} ({z.name})" for z in cat.ambiguous[key])
        raise InputError(f"zone name {code_or_name!r} is ambiguous: {options}; use a code")
    raise UnknownNameError(
        "zone",
        code_or_name.strip(),
        suggestions=_suggest(code_or_name, cat.labels),
        hint=_LIST_HINT,
    )


def list_zones(kind: str | None = None) -> list[Zone]:
    """Every zone, or those of one ``kind`` (``country``, ``subregion``, ``cloud``),
    each kind sorted by code."""
    if kind is not None and kind not in ZONE_KINDS:
        raise InputError(f"unknown zone kind {kind!r}; use one of: {', '.join(ZONE_KINDS)}")
    kinds = ZONE_KINDS if kind is None else (kind,)
    zones = _catalogue().zones
    return [z for k in kinds for z in sorted((z for z in zones if z.kind == k), key=_code)]


def _code(zone: Zone) -> str:
    return zone.code


def lowest_intensity_first(zones: Iterable[Zone]) -> list[Zone]:
    """``zones`` ordered by yearly grid intensity (gCO2e/kWh), lowest first, ties by code:
    the order in which the same energy at the same PUE emits the least CO2e."""
    return sorted(zones, key=lambda z: (z.intensity_g_per_kwh, z.code))


def world_average() -> Zone:
    """The world-average zone (code ``WORLD``), used when the location is unknown."""
    return intensity(WORLD_CODE)
