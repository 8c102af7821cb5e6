"""Electricity Maps (API token needed): past hours and the hours ahead, for any of its zones."""

from __future__ import annotations

import os
from typing import Any

from carbonledger.carbon.providers.base import OnlineProvider, hourly_points, iso_utc, parse_time
from carbonledger.errors import InputError

__all__ = ["ElectricityMapsProvider"]


class ElectricityMapsProvider(OnlineProvider):
    """Electricity Maps API: ``GET /v3/carbon-intensity/past-range`` (``zone``, ``start``,
    ``end``, ``temporalGranularity=hourly``; header ``auth-token``), at most 10 days a
    call, and ``GET /v3/carbon-intensity/forecast?zone=`` for the hours ahead (issue time
    from ``updatedAt``). Zone codes are Electricity Maps' own (``FR``, ``US-CAL-CISO``,
    ``SE-SE3``...), which carbonledger's countries and Electricity Maps subregions share."""

    name = "Electricity Maps"
    cache_prefix = "electricitymaps"

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://api.electricitymap.org",
        timeout_s: float = 2.0,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise InputError(
                "ElectricityMapsProvider needs an API token (https://portal.electricitymaps.com)"
            )
        super().__init__(base_url=base_url, timeout_s=timeout_s, cache_dir=cache_dir)
        self._token = token.strip()

    def __repr__(self) -> str:  # never print the token
        return f"ElectricityMapsProvider(base_url={self.base_url!r}, timeout_s={self.timeout_s})"

    def fetch_range(self, zone: str, start_h: int, end_h: int) -> dict[int, float]:
        from urllib.parse import urlencode

        query = urlencode(
            {
                "zone": zone,
                "start": iso_utc(start_h),
                "end": iso_utc(end_h),
                "temporalGranularity": "hourly",
            }
        )
        url = f"{self.base_url}/v3/carbon-intensity/past-range?{query}"
        items = self.items(self.get_json(url, {"auth-token": self._token}), "data", url)
        return hourly_points(items, "datetime", _intensity, start_h, end_h)

    def fetch_forecast(self, zone: str, now_unix_s: float) -> tuple[dict[int, float], float]:
        from urllib.parse import urlencode

        url = f"{self.base_url}/v3/carbon-intensity/forecast?{urlencode({'zone': zone})}"
        data = self.get_json(url, {"auth-token": self._token})
        items = self.items(data, "forecast", url)
        try:
            issued = parse_time(data.get("updatedAt") or now_unix_s)
        except ValueError:
            issued = now_unix_s
        return hourly_points(items, "datetime", _intensity), issued


def _intensity(item: dict[str, Any]) -> Any:
    """An Electricity Maps item's intensity (gCO2e/kWh), or None."""
    return item.get("carbonIntensity")
