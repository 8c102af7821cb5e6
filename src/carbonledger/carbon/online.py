"""The online hourly intensity providers: Electricity Maps (token) and the UK Carbon
Intensity API (Great Britain, no token), for past hours (:meth:`hourly`) and for the
hours ahead (:meth:`forecast`). Every call goes through :func:`carbonledger.carbon._http.fetch`
(a whole-call deadline) and is cached in memory and optionally on disk.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from carbonledger._files import read_json_cache, write_json_cache
from carbonledger.carbon._http import fetch
from carbonledger.carbon.hourly import (
    IntensityForecast,
    ProviderError,
    _hours_between,
    _parse_time,
    _ranges,
    _to_hours,
    hour_start,
)
from carbonledger.errors import InputError
from carbonledger.units import iso_utc

__all__ = ["ElectricityMapsProvider", "UKCarbonIntensityProvider"]


# ----------------------------------------------------------------------------- online base


class _OnlineProvider:
    """Shared by the HTTP providers: memory + optional file cache, time-bounded calls."""

    name = "online"
    _cache_prefix = "online"
    max_hours_per_call = 24 * 10

    def __init__(
        self, *, base_url: str, timeout_s: float, cache_dir: str | os.PathLike[str] | None
    ):
        if not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 300:
            raise InputError(f"timeout_s must be between 0 and 300 seconds, got {timeout_s!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memory: dict[str, dict[int, float]] = {}
        self._tried: dict[str, set[int]] = {}  # hours asked for this process, even if absent
        self._forecasts: dict[str, tuple[dict[int, float], float, float]] = {}

    # cache -------------------------------------------------------------------
    def _cache_file(self, zone: str) -> Path | None:
        if self.cache_dir is None:
            return None
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", zone)
        return self.cache_dir / f"{self._cache_prefix}-{safe}.json"

    def _cached(self, zone: str) -> dict[int, float]:
        if zone not in self._memory:
            hours: dict[int, float] = {}
            path = self._cache_file(zone)
            raw = None if path is None else read_json_cache(path)
            if raw is not None:
                try:
                    hours = {int(k): float(v) for k, v in raw.get("hours", {}).items()}
                except (ValueError, AttributeError, TypeError):
                    hours = {}  # a damaged cache is ignored and rewritten
            self._memory[zone] = hours
        return self._memory[zone]

    def _store(self, zone: str, fresh: Mapping[int, float]) -> None:
        cache = self._cached(zone)
        cache.update(fresh)
        path = self._cache_file(zone)
        if path is None or not fresh:
            return
        payload = {"zone": zone, "hours": {str(h): v for h, v in sorted(cache.items())}}
        write_json_cache(path, payload)  # a failure is ignored: the memory cache still holds

    # fetching ----------------------------------------------------------------
    def _fetch_range(self, zone: str, start_h: int, end_h: int) -> dict[int, float]:
        raise NotImplementedError

    def _check_zone(self, zone_code: str) -> str:
        return zone_code.strip()

    def hourly(self, zone_code: str, start_unix_s: float, end_unix_s: float) -> dict[int, float]:
        zone = self._check_zone(zone_code)
        wanted = _hours_between(start_unix_s, end_unix_s)
        cache = self._cached(zone)
        tried = self._tried.setdefault(zone, set())
        now_h = hour_start(time.time())
        # nothing to fetch for future hours, nor for hours already asked for in vain
        missing = [h for h in wanted if h not in cache and h not in tried and h <= now_h]
        if missing:
            fresh: dict[int, float] = {}
            for start, end in _ranges(missing, self.max_hours_per_call):
                fresh.update(self._fetch_range(zone, start, end))
            tried.update(missing)
            self._store(zone, fresh)
        return {h: cache[h] for h in wanted if h in cache}

    # forecast ----------------------------------------------------------------
    #: a forecast younger than this (seconds) is answered from the cache
    forecast_ttl_s = 1800.0

    def _fetch_forecast(self, zone: str, now_unix_s: float) -> tuple[dict[int, float], float]:
        """``({hour_start_unix_s: g_per_kwh}, issued_unix_s)`` for the hours ahead."""
        raise NotImplementedError

    def forecast(
        self,
        zone_code: str,
        start_unix_s: float,
        end_unix_s: float,
        *,
        now_unix_s: float | None = None,
    ) -> IntensityForecast:
        """The provider's forecast for the hours starting in ``[start_unix_s, end_unix_s)``,
        from the cache when it is younger than :attr:`forecast_ttl_s`, else fetched (one
        time-bounded call). Raises :class:`ProviderError` when there is none."""
        zone = self._check_zone(zone_code)
        now = time.time() if now_unix_s is None else now_unix_s
        wanted = set(_hours_between(start_unix_s, end_unix_s))
        cached = self._cached_forecast(zone)
        if cached is not None and 0 <= now - cached[2] < self.forecast_ttl_s:
            hours, issued, fetched = cached
            from_cache = True
        else:
            hours, issued = self._fetch_forecast(zone, now)
            fetched, from_cache = now, False
            self._store_forecast(zone, hours, issued, fetched)
        picked = tuple(sorted((h, v) for h, v in hours.items() if h in wanted))
        if not picked:
            raise ProviderError(
                f"{self.name} forecast for {zone} has no hours between {iso_utc(start_unix_s)} "
                f"and {iso_utc(end_unix_s)}"
            )
        return IntensityForecast(zone, f"{self.name} forecast", picked, issued, fetched, from_cache)

    def _cached_forecast(self, zone: str) -> tuple[dict[int, float], float, float] | None:
        key = f"forecast:{zone}"
        if key in self._forecasts:
            return self._forecasts[key]
        path = self._cache_file(f"forecast-{zone}")
        raw = None if path is None else read_json_cache(path)
        if raw is None:
            return None
        try:
            hours = {int(k): float(v) for k, v in raw["hours"].items()}
            entry = (hours, float(raw["issued_unix_s"]), float(raw["fetched_unix_s"]))
        except (ValueError, KeyError, AttributeError, TypeError, IndexError):
            return None  # a damaged cache is ignored and rewritten
        self._forecasts[key] = entry
        return entry

    def _store_forecast(
        self, zone: str, hours: dict[int, float], issued: float, fetched: float
    ) -> None:
        self._forecasts[f"forecast:{zone}"] = (hours, issued, fetched)
        path = self._cache_file(f"forecast-{zone}")
        if path is None:
            return
        payload = {
            "zone": zone,
            "issued_unix_s": issued,
            "fetched_unix_s": fetched,
            "hours": {str(h): v for h, v in sorted(hours.items())},
        }
        write_json_cache(path, payload)  # a failure is ignored: the memory cache still holds

    def _get_json(self, url: str, headers: Mapping[str, str]) -> Any:
        try:
            resp = fetch(url, headers=headers, timeout_s=self.timeout_s)
        except OSError as exc:
            raise ProviderError(f"{self.name}: {url} did not answer: {exc}") from None
        if resp.status != 200:
            detail = resp.text.strip().replace("\n", " ")[:200]
            raise ProviderError(f"{self.name}: HTTP {resp.status} from {url}: {detail}")
        try:
            return json.loads(resp.text)
        except ValueError:
            raise ProviderError(f"{self.name}: {url} did not return JSON") from None

    def _items(self, data: Any, key: str, url: str) -> list[Any]:
        """The list under ``key`` of the JSON object ``data`` that ``url`` returned."""
        items = data.get(key) if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProviderError(f"{self.name}: unexpected answer from {url} (no {key!r} list)")
        return items


# ----------------------------------------------------------------------------- Electricity Maps


class ElectricityMapsProvider(_OnlineProvider):
    """Electricity Maps API: ``GET /v3/carbon-intensity/past-range`` (``zone``, ``start``,
    ``end``, ``temporalGranularity=hourly``; header ``auth-token``), at most 10 days a
    call. Zone codes are Electricity Maps' own (``FR``, ``US-CAL-CISO``, ``SE-SE3``...),
    which carbonledger's countries and Electricity Maps subregions share."""

    name = "Electricity Maps"
    _cache_prefix = "electricitymaps"

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

    def _fetch_range(self, zone: str, start_h: int, end_h: int) -> dict[int, float]:
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
        items = self._items(self._get_json(url, {"auth-token": self._token}), "data", url)
        return _points(items, "datetime", _em_value, start_h, end_h)

    def _fetch_forecast(self, zone: str, now_unix_s: float) -> tuple[dict[int, float], float]:
        from urllib.parse import urlencode

        url = f"{self.base_url}/v3/carbon-intensity/forecast?{urlencode({'zone': zone})}"
        data = self._get_json(url, {"auth-token": self._token})
        items = self._items(data, "forecast", url)
        try:
            issued = _parse_time(data.get("updatedAt") or now_unix_s)
        except ValueError:
            issued = now_unix_s
        return _points(items, "datetime", _em_value), issued


def _em_value(item: dict[str, Any]) -> Any:
    """An Electricity Maps item's intensity (gCO2e/kWh), or None."""
    return item.get("carbonIntensity")


def _points(
    items: list[Any],
    time_key: str,
    value_of: Callable[[dict[str, Any]], Any],
    start_h: float = -math.inf,
    end_h: float = math.inf,
) -> dict[int, float]:
    """Hourly means of ``items`` (dicts with a time under ``time_key``, a value in
    gCO2e/kWh given by ``value_of(item)``) timed in ``[start_h, end_h)``; items without a
    usable time or value are skipped."""
    points = []
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            t = _parse_time(item[time_key])
            v = float(value_of(item))
        except (KeyError, TypeError, ValueError):
            continue
        if start_h <= t < end_h and math.isfinite(v) and v >= 0:
            points.append((t, v))
    return _to_hours(points)


# ----------------------------------------------------------------------------- UK


class UKCarbonIntensityProvider(_OnlineProvider):
    """National Grid ESO Carbon Intensity API for Great Britain (no token):
    ``GET /intensity/{from}/{to}``, half-hourly ``{"from", "to", "intensity": {"forecast",
    "actual"}}`` averaged per hour, ``actual`` preferred over ``forecast``; at most 14 days
    a call. Only zone ``GB`` (the API does not cover Northern Ireland)."""

    name = "UK Carbon Intensity API"
    _cache_prefix = "ukcarbonintensity"
    max_hours_per_call = 24 * 14

    def __init__(
        self,
        *,
        base_url: str = "https://api.carbonintensity.org.uk",
        timeout_s: float = 2.0,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(base_url=base_url, timeout_s=timeout_s, cache_dir=cache_dir)

    def _check_zone(self, zone_code: str) -> str:
        zone = zone_code.strip().upper()
        if zone not in ("GB", "UK"):
            raise ProviderError(f"{self.name} covers Great Britain (GB) only, not {zone_code}")
        return "GB"

    def _fetch_range(self, zone: str, start_h: int, end_h: int) -> dict[int, float]:
        start, end = (iso_utc(t, timespec="minutes") for t in (start_h, end_h))
        url = f"{self.base_url}/intensity/{start}/{end}"
        items = self._items(self._get_json(url, {"Accept": "application/json"}), "data", url)

        def value(item: dict[str, Any]) -> Any:
            reading = item.get("intensity")
            if not isinstance(reading, dict):
                return None
            actual = reading.get("actual")
            return reading.get("forecast") if actual is None else actual

        return _points(items, "from", value, start_h, end_h)

    def _fetch_forecast(self, zone: str, now_unix_s: float) -> tuple[dict[int, float], float]:
        stamp = iso_utc(hour_start(now_unix_s), timespec="minutes")
        url = f"{self.base_url}/intensity/{stamp}/fw48h"
        items = self._items(self._get_json(url, {"Accept": "application/json"}), "data", url)

        def value(item: dict[str, Any]) -> Any:
            return (item.get("intensity") or {}).get("forecast")

        return _points(items, "from", value), now_unix_s
