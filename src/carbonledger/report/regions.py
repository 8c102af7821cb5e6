"""The same energy in other places: countries and cloud regions ranked by CO2e.

``co2e_g = energy_kwh x PUE x intensity`` with the run's own PUE (or the one given), so the
saving against the run's own location isolates the grid. Places where nobody can run a
job are not suggested unless ``include_all=True``; the rule (:data:`NOT_SUGGESTED`) is a
fixed list, built from two sources:

* dependent territories with no cloud region in our table: ISO 3166-1 entries that are not
  UN member or observer states (United Nations, "Member States", un.org, 2024);
* UN member states with fewer than 100,000 inhabitants (United Nations, World Population
  Prospects 2022): Antigua and Barbuda, Dominica, Saint Kitts and Nevis, Nauru, Palau.

Territories that host a cloud region (Hong Kong, Macao, Taiwan, Puerto Rico) stay in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import InputError
from carbonledger.units import j_to_kwh

__all__ = ["NOT_SUGGESTED", "RegionOption", "rank_regions"]

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


@dataclass(frozen=True)
class RegionOption:
    """One place: its CO2e for the energy, and the saving against the reference place
    (positive: less CO2e than there)."""

    code: str
    name: str
    kind: str
    intensity_g_per_kwh: float
    co2e_g: float
    saving_g: float
    saving_pct: float | None
    source: str
    year: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "co2e_g": self.co2e_g,
            "saving_g": self.saving_g,
            "saving_pct": self.saving_pct,
            "source": self.source,
            "year": self.year,
        }


def rank_regions(
    energy_j: float,
    *,
    pue: float = 1.0,
    reference_g_per_kwh: float | None = None,
    clouds: Sequence[str] = (),
    countries: bool = True,
    include_all: bool = False,
) -> list[RegionOption]:
    """Every country (unless ``countries=False``) and the cloud regions of ``clouds``
    (``aws``, ``gcp``, ``azure``...), lowest CO2e first, for ``energy_j`` joules of IT
    energy at ``pue``. The saving is against ``reference_g_per_kwh`` (the run's own
    intensity; the world average when None).

    :raises InputError: on a negative or non-finite energy, a PUE below 1, or an unknown
        cloud provider.
    """
    from carbonledger.carbon import list_zones, world_average
    from carbonledger.carbon.zones import lowest_intensity_first

    if not (energy_j >= 0 and energy_j != float("inf")):
        raise InputError(f"energy must be a finite number of joules >= 0, got {energy_j!r}")
    if not pue >= 1.0:
        raise InputError(f"PUE must be >= 1, got {pue!r}")
    reference = world_average().intensity_g_per_kwh
    if reference_g_per_kwh is not None:
        reference = reference_g_per_kwh
    zones = list_zones("country") if countries else []
    zones = [z for z in zones if z.code != "WORLD"]
    if not include_all:
        zones = [z for z in zones if z.code not in NOT_SUGGESTED]
    if clouds:
        known = {z.provider for z in list_zones("cloud")}
        unknown = [c for c in clouds if c not in known]
        if unknown:
            raise InputError(
                f"unknown cloud provider(s) {', '.join(unknown)}; use any of: "
                + ", ".join(sorted(known))
            )
        zones += [z for z in list_zones("cloud") if z.provider in clouds]
    kwh = j_to_kwh(energy_j) * pue
    ref_g = kwh * reference
    out = []
    for z in lowest_intensity_first(zones):
        g = kwh * z.intensity_g_per_kwh
        out.append(
            RegionOption(
                code=z.code,
                name=z.name,
                kind=z.kind,
                intensity_g_per_kwh=z.intensity_g_per_kwh,
                co2e_g=g,
                saving_g=ref_g - g,
                saving_pct=None if ref_g == 0 else 100.0 * (ref_g - g) / ref_g,
                source=f"{z.source}, {z.year}",
                year=z.year,
            )
        )
    return out
