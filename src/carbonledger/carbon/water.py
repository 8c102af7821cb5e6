"""Water and money: the data centre's water usage effectiveness and the electricity's price.

WUE (The Green Grid): litres of water the site consumes per kWh of IT equipment energy. A
value the user gives wins; otherwise a cloud provider's published fleet-wide figure from
``wue.csv`` (each row sourced and dated); otherwise nothing, and the run's water is unknown
(never zero). The price of electricity is always the user's: per kWh, with its currency, for
every zone or per zone (``prices``); there is no default price.

The litres and the cost themselves are computed in :mod:`carbonledger.accounting`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from carbonledger.accounting import ElectricityPrice, WaterFactor
from carbonledger.carbon._tables import read_table

__all__ = ["provider_wue", "resolve_price", "resolve_water"]


@functools.cache
def _wue_rows() -> dict[str, dict[str, str]]:
    return {row["provider"]: row for row in read_table("wue.csv")}


def provider_wue(provider: str) -> tuple[float, str] | None:
    """A cloud provider's published fleet-wide WUE (L/kWh of IT energy) and its citation, or
    None when carbonledger's table has none for it."""
    row = _wue_rows().get(provider.strip().lower())
    if row is None:
        return None
    return float(row["wue_l_per_kwh"]), f"{row['source']}, {row['year']}"


def resolve_water(
    wue_l_per_kwh: float | None, origin: str, cloud_provider: str | None
) -> WaterFactor | None:
    """The WUE a run uses: the one given (``origin`` says where: ``"environment
    CARBONLEDGER_WUE_L_PER_KWH"``...), else the cloud provider's published figure, else None."""
    if wue_l_per_kwh is not None:
        return WaterFactor(float(wue_l_per_kwh), f"given ({origin or 'setting wue_l_per_kwh'})")
    if cloud_provider:
        known = provider_wue(cloud_provider)
        if known is not None:
            value, citation = known
            return WaterFactor(value, f"{cloud_provider} fleet-average WUE ({citation})")
    return None


def resolve_price(
    price_per_kwh: float | None,
    prices: Mapping[str, float],
    currency: str,
    zone: str,
    origins: Mapping[str, str],
) -> ElectricityPrice | None:
    """The electricity price a run uses: ``price_per_kwh`` when given, else the price
    ``prices`` gives the run's ``zone`` (``US-CA``; else its country, ``US``), else None."""
    if price_per_kwh is not None:
        where = origins.get("price_per_kwh") or "setting price_per_kwh"
        return ElectricityPrice(float(price_per_kwh), currency, f"given ({where})")
    code = zone.upper()
    for key in (code, code.split("-")[0]):
        if key in prices:
            where = origins.get("prices") or "setting prices"
            return ElectricityPrice(float(prices[key]), currency, f"given for {key} ({where})")
    return None
