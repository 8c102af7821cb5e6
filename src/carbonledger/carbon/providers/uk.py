"""The UK Carbon Intensity API (National Grid ESO; Great Britain only, no token): past hours
and the 48 hours ahead."""

from __future__ import annotations

import os
from typing import Any

from carbonledger.carbon.providers.base import (
    OnlineProvider,
    ProviderError,
    hour_start,
    hourly_points,
)
from carbonledger.units import iso_utc

__all__ = ["UKCarbonIntensityProvider"]


def _stamp(unix_s: float) -> str:
    """The API's time format: ``2024-05-01T13:00Z``."""
    return iso_utc(unix_s, timespec="minutes")


class UKCarbonIntensityProvider(OnlineProvider):
    """National Grid ESO Carbon Intensity API for Great Britain (no token):
    ``GET /intensity/{from}/{to}``, half-hourly ``{"from", "to", "intensity": {"forecast",
    "actual"}}`` averaged per hour, ``actual`` preferred over ``forecast``; at most 14 days
    a call; ``GET /intensity/{now}/fw48h`` for the hours ahead. Only zone ``GB`` (the API
    does not cover Northern Ireland)."""

    name = "UK Carbon Intensity API"
    cache_prefix = "ukcarbonintensity"
    max_hours_per_call = 24 * 14

    def __init__(
        self,
        *,
        base_url: str = "https://api.carbonintensity.org.uk",
        timeout_s: float = 2.0,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(base_url=base_url, timeout_s=timeout_s, cache_dir=cache_dir)

    def check_zone(self, zone_code: str) -> str:
        zone = zone_code.strip().upper()
        if zone not in ("GB", "UK"):
            raise ProviderError(f"{self.name} covers Great Britain (GB) only, not {zone_code}")
        return "GB"

    def fetch_range(self, zone: str, start_h: int, end_h: int) -> dict[int, float]:
        url = f"{self.base_url}/intensity/{_stamp(start_h)}/{_stamp(end_h)}"
        items = self.items(self.get_json(url, {"Accept": "application/json"}), "data", url)

        def value(item: dict[str, Any]) -> Any:
            reading = item.get("intensity")
            if not isinstance(reading, dict):
                return None
            actual = reading.get("actual")
            return reading.get("forecast") if actual is None else actual

        return hourly_points(items, "from", value, start_h, end_h)

    def fetch_forecast(self, zone: str, now_unix_s: float) -> tuple[dict[int, float], float]:
        url = f"{self.base_url}/intensity/{_stamp(hour_start(now_unix_s))}/fw48h"
        items = self.items(self.get_json(url, {"Accept": "application/json"}), "data", url)

        def value(item: dict[str, Any]) -> Any:
            return (item.get("intensity") or {}).get("forecast")

        return hourly_points(items, "from", value), now_unix_s
