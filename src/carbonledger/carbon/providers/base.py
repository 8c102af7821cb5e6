"""What every hourly intensity provider shares: the :class:`IntensityProvider` protocol, the
answers (:class:`IntensityForecast`) and errors (:class:`ProviderError`) they give, the
time helpers that parse and bucket their data into UTC hours, and :class:`OnlineProvider`,
the base of the HTTP providers (memory and file cache, one whole-call deadline per request).

Units: times in unix seconds (UTC), intensities in gCO2e/kWh. Nothing here calls the
network; :class:`OnlineProvider` does, through :func:`carbonledger._http.fetch`,
only when a subclass's ``hourly`` or ``forecast`` is asked for hours it lacks.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from carbonledger import units
from carbonledger._files import read_json_cache, write_json_cache
from carbonledger.errors import CarbonLedgerError, InputError

__all__ = [
    "HOUR_S",
    "IntensityForecast",
    "IntensityProvider",
    "OnlineProvider",
    "ProviderError",
    "hour_ranges",
    "hour_start",
    "hourly_means",
    "hourly_points",
    "hours_between",
    "iso_utc",
    "parse_time",
]

#: seconds in an hour
HOUR_S = 3600


class ProviderError(CarbonLedgerError):
    """An intensity provider could not answer (network, HTTP status, unexpected data).
    :func:`carbonledger.carbon.hourly_co2e` turns it into a recorded fallback to the yearly
    figure."""


@runtime_checkable
class IntensityProvider(Protocol):
    """A source of hourly grid intensity."""

    def hourly(self, zone_code: str, start_unix_s: float, end_unix_s: float) -> dict[int, float]:
        """``{hour_start_unix_s: g_per_kwh}`` for the hours starting in
        ``[start_unix_s, end_unix_s)``; hours it has no figure for are left out."""
        ...


def hour_start(unix_s: float) -> int:
    """The start of the UTC hour holding ``unix_s`` (unix seconds)."""
    return math.floor(unix_s / HOUR_S) * HOUR_S


def parse_time(value: Any) -> float:
    """Unix seconds from a number, a numeric string or an ISO-8601 string (``Z`` or an
    offset; a naive time is taken as UTC), from 1970 to the end of year 9999.
    :class:`ValueError` for anything else."""
    from carbonledger._inputs import MAX_UNIX_S

    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        try:
            result = float(value)
        except OverflowError:
            raise ValueError(f"not a time: {value!r:.60}") from None
    else:
        text = str(value).strip()
        if len(text) > 64:
            raise ValueError(f"not a time: {text[:60]!r}...")
        try:
            result = float(text)
        except ValueError:
            iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
            try:
                moment = datetime.fromisoformat(iso)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=timezone.utc)
                result = moment.timestamp()
            except (OverflowError, OSError):
                raise ValueError(f"not a time: {value!r}") from None
    if not (math.isfinite(result) and 0.0 <= result <= MAX_UNIX_S):
        raise ValueError(f"not a time from 1970 to 9999: {value!r:.60}")
    return result


def iso_utc(unix_s: float) -> str:
    """``unix_s`` as ``2024-05-01T13:00:00Z`` (:func:`carbonledger.units.iso_utc`)."""
    return units.iso_utc(unix_s)


def hourly_means(points: Iterable[tuple[float, float]]) -> dict[int, float]:
    """``{hour_start_unix_s: mean}`` of the ``(unix_s, g_per_kwh)`` points falling in each
    hour (half-hourly data -> hourly)."""
    sums: dict[int, list[float]] = {}
    for t, v in points:
        sums.setdefault(hour_start(t), []).append(v)
    return {h: sum(vs) / len(vs) for h, vs in sums.items()}


def hours_between(start_unix_s: float, end_unix_s: float) -> list[int]:
    """The starts of the UTC hours overlapping ``[start_unix_s, end_unix_s)``, in order;
    :class:`InputError` for non-finite times or an end before the start."""
    if not (math.isfinite(start_unix_s) and math.isfinite(end_unix_s)):
        raise InputError("start and end must be finite unix times in seconds")
    if end_unix_s < start_unix_s:
        raise InputError(f"end ({end_unix_s}) is before start ({start_unix_s})")
    first = hour_start(start_unix_s)
    return list(range(first, math.ceil(end_unix_s / HOUR_S) * HOUR_S, HOUR_S))


def hour_ranges(hours: list[int], max_hours: int) -> list[tuple[int, int]]:
    """Sorted hour starts -> ``[start, end)`` ranges of consecutive hours, none longer
    than ``max_hours``: one API call each."""
    ranges: list[tuple[int, int]] = []
    for h in hours:
        if ranges and ranges[-1][1] == h and h - ranges[-1][0] < max_hours * HOUR_S:
            ranges[-1] = (ranges[-1][0], h + HOUR_S)
        else:
            ranges.append((h, h + HOUR_S))
    return ranges


def hourly_points(
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
            t = parse_time(item[time_key])
            v = float(value_of(item))
        except (KeyError, TypeError, ValueError):
            continue
        if start_h <= t < end_h and math.isfinite(v) and v >= 0:
            points.append((t, v))
    return hourly_means(points)


@dataclass(frozen=True)
class IntensityForecast:
    """Grid intensity for the hours ahead, from one provider.

    ``hours`` holds ``(hour_start_unix_s, g_per_kwh)`` in time order. ``issued_unix_s`` is
    when the provider made the forecast (its own stamp where it gives one, else when it was
    fetched); ``fetched_unix_s`` when carbonledger fetched it; ``from_cache`` whether this
    answer came from the cache rather than the network.
    """

    zone: str
    source: str
    hours: tuple[tuple[int, float], ...]
    issued_unix_s: float
    fetched_unix_s: float
    from_cache: bool = False

    def age_s(self, now_unix_s: float) -> float:
        """Seconds since the forecast was issued (>= 0)."""
        return max(0.0, now_unix_s - self.issued_unix_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "source": self.source,
            "issued": iso_utc(self.issued_unix_s),
            "fetched": iso_utc(self.fetched_unix_s),
            "from_cache": self.from_cache,
            "hours": len(self.hours),
        }


class OnlineProvider:
    """The base of the HTTP providers: memory + optional file cache, time-bounded calls.

    A subclass sets :attr:`name` and the cache file prefix, and implements
    :meth:`fetch_range` (past hours) and :meth:`fetch_forecast` (hours ahead); it may
    override :meth:`check_zone` to refuse or rename zones."""

    name = "online"
    cache_prefix = "online"
    #: the most hours asked for in one call
    max_hours_per_call = 24 * 10
    #: a forecast younger than this (seconds) is answered from the cache
    forecast_ttl_s = 1800.0

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

    # what a subclass provides -------------------------------------------------
    def fetch_range(self, zone: str, start_h: int, end_h: int) -> dict[int, float]:
        """``{hour_start_unix_s: g_per_kwh}`` for the hours in ``[start_h, end_h)``
        (one call)."""
        raise NotImplementedError

    def fetch_forecast(self, zone: str, now_unix_s: float) -> tuple[dict[int, float], float]:
        """``({hour_start_unix_s: g_per_kwh}, issued_unix_s)`` for the hours ahead."""
        raise NotImplementedError

    def check_zone(self, zone_code: str) -> str:
        """The zone code to ask for (:class:`ProviderError` when not covered)."""
        return zone_code.strip()

    # cache -------------------------------------------------------------------
    def _cache_file(self, zone: str) -> Path | None:
        if self.cache_dir is None:
            return None
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", zone)
        return self.cache_dir / f"{self.cache_prefix}-{safe}.json"

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
        self._write_cache(path, payload)

    @staticmethod
    def _write_cache(path: Path, payload: dict[str, Any]) -> None:
        write_json_cache(path, payload)  # a failure is ignored: the memory cache still holds

    # past hours ----------------------------------------------------------------
    def hourly(self, zone_code: str, start_unix_s: float, end_unix_s: float) -> dict[int, float]:
        """``{hour_start_unix_s: g_per_kwh}`` for the hours starting in
        ``[start_unix_s, end_unix_s)``, from the cache, else fetched (future hours and hours
        already asked for in vain are not fetched again)."""
        zone = self.check_zone(zone_code)
        wanted = hours_between(start_unix_s, end_unix_s)
        cache = self._cached(zone)
        tried = self._tried.setdefault(zone, set())
        now_h = hour_start(time.time())
        missing = [h for h in wanted if h not in cache and h not in tried and h <= now_h]
        if missing:
            fresh: dict[int, float] = {}
            for start, end in hour_ranges(missing, self.max_hours_per_call):
                fresh.update(self.fetch_range(zone, start, end))
            tried.update(missing)
            self._store(zone, fresh)
        return {h: cache[h] for h in wanted if h in cache}

    # forecast ----------------------------------------------------------------
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
        zone = self.check_zone(zone_code)
        now = time.time() if now_unix_s is None else now_unix_s
        wanted = set(hours_between(start_unix_s, end_unix_s))
        cached = self._cached_forecast(zone)
        if cached is not None and 0 <= now - cached[2] < self.forecast_ttl_s:
            hours, issued, fetched = cached
            from_cache = True
        else:
            hours, issued = self.fetch_forecast(zone, now)
            fetched, from_cache = now, False
            self._store_forecast(zone, hours, issued, fetched)
        picked = tuple(sorted((h, v) for h, v in hours.items() if h in wanted))
        if not picked:
            raise ProviderError(
                f"{self.name} forecast for {zone} has no hours between "
                f"{iso_utc(start_unix_s)} and {iso_utc(end_unix_s)}"
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
        self._write_cache(path, payload)

    # HTTP --------------------------------------------------------------------
    def get_json(self, url: str, headers: Mapping[str, str]) -> Any:
        """The JSON ``url`` answers, within :attr:`timeout_s` for the whole call;
        :class:`ProviderError` for no answer, a status other than 200 or a body not JSON."""
        from carbonledger._http import fetch

        try:
            resp = fetch(url, headers=headers, timeout_s=self.timeout_s)
        except OSError as exc:  # the call's own message names the URL: say it once
            detail = str(exc) if str(exc).startswith(url) else f"{url}: {exc}"
            raise ProviderError(f"{self.name} did not answer: {detail}") from None
        if resp.status != 200:
            detail = resp.text.strip().replace("\n", " ")[:200]
            raise ProviderError(f"{self.name}: HTTP {resp.status} from {url}: {detail}")
        try:
            return json.loads(resp.text)
        except ValueError:
            raise ProviderError(f"{self.name}: {url} did not return JSON") from None

    def items(self, data: Any, key: str, url: str) -> list[Any]:
        """The list under ``key`` of the JSON object ``data`` that ``url`` returned."""
        items = data.get(key) if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProviderError(f"{self.name}: unexpected answer from {url} (no {key!r} list)")
        return items
