"""Hour-by-hour grid intensity: each hour's energy at that hour's intensity.

An :class:`IntensityProvider` answers ``hourly(zone_code, start_unix_s, end_unix_s)`` with
``{hour_start_unix_s: g_per_kwh}``. Three ship here: :class:`FileIntensityProvider`
(a CSV or JSON file you have), :class:`ElectricityMapsProvider` (API token needed) and
:class:`UKCarbonIntensityProvider` (Great Britain, no token). Online providers are
time-bounded, cached in memory and optionally on disk, and only ever called from here:
the rest of the package needs no network.

:func:`hourly_co2e` applies them; hours the provider cannot give (failure, gap, another
zone) use the zone's yearly figure, and the result says so (``fallback_used``,
``fallback_reason``) rather than hiding it.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from carbonledger.carbon._http import fetch
from carbonledger.carbon.pue import validate_pue
from carbonledger.carbon.zones import Zone
from carbonledger.errors import CarbonLedgerError, InputError
from carbonledger.units import j_to_kwh

__all__ = [
    "ElectricityMapsProvider",
    "FileIntensityProvider",
    "HourlyResult",
    "IntensityProvider",
    "ProviderError",
    "UKCarbonIntensityProvider",
    "hour_start",
    "hourly_co2e",
]

HOUR_S = 3600


class ProviderError(CarbonLedgerError):
    """An intensity provider could not answer (network, HTTP status, unexpected data).
    :func:`hourly_co2e` turns it into a recorded fallback to the yearly figure."""


@runtime_checkable
class IntensityProvider(Protocol):
    """A source of hourly grid intensity."""

    def hourly(self, zone_code: str, start_unix_s: float, end_unix_s: float) -> dict[int, float]:
        """``{hour_start_unix_s: g_per_kwh}`` for the hours starting in
        ``[start_unix_s, end_unix_s)``; hours it has no figure for are left out."""
        ...


def hour_start(unix_s: float) -> int:
    """The start of the UTC hour holding ``unix_s``."""
    return math.floor(unix_s / HOUR_S) * HOUR_S


def _parse_time(value: Any) -> float:
    """Unix seconds from a number, a numeric string or an ISO-8601 string (``Z`` or an
    offset; a naive time is taken as UTC)."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        result = float(value)
    else:
        text = str(value).strip()
        try:
            result = float(text)
        except ValueError:
            iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
            moment = datetime.fromisoformat(iso)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            result = moment.timestamp()
    if not math.isfinite(result):
        raise ValueError(f"not a time: {value!r}")
    return result


def _iso(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_hours(points: Iterable[tuple[float, float]]) -> dict[int, float]:
    """Average the points falling in each hour (half-hourly data -> hourly)."""
    sums: dict[int, list[float]] = {}
    for t, v in points:
        sums.setdefault(hour_start(t), []).append(v)
    return {h: sum(vs) / len(vs) for h, vs in sums.items()}


def _hours_between(start_unix_s: float, end_unix_s: float) -> list[int]:
    if not (math.isfinite(start_unix_s) and math.isfinite(end_unix_s)):
        raise InputError("start and end must be finite unix times in seconds")
    if end_unix_s < start_unix_s:
        raise InputError(f"end ({end_unix_s}) is before start ({start_unix_s})")
    first = hour_start(start_unix_s)
    return list(range(first, math.ceil(end_unix_s / HOUR_S) * HOUR_S, HOUR_S))


def _ranges(hours: list[int], max_hours: int) -> list[tuple[int, int]]:
    """Sorted hour starts -> ``[start, end)`` ranges of consecutive hours, none longer
    than ``max_hours``: one API call each."""
    ranges: list[tuple[int, int]] = []
    for h in hours:
        if ranges and ranges[-1][1] == h and h - ranges[-1][0] < max_hours * HOUR_S:
            ranges[-1] = (ranges[-1][0], h + HOUR_S)
        else:
            ranges.append((h, h + HOUR_S))
    return ranges


# ----------------------------------------------------------------------------- file


class FileIntensityProvider:
    """Hourly intensity from a file: CSV with columns ``timestamp`` (ISO-8601 or unix
    seconds) and ``intensity_g_per_kwh`` (optionally ``zone``), or a JSON list of objects
    with those keys. Several points in one hour are averaged. The file is read once, at
    construction; a bad file raises :class:`InputError` naming the line (or item)."""

    name = "file"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = f"file {self.path}"
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read intensity file {self.path}: {exc.strerror}") from None
        if self.path.suffix.lower() == ".json" or text.lstrip().startswith("["):
            rows = self._json_rows(text)
        else:
            rows = self._csv_rows(text)
        self._by_zone: dict[str, list[tuple[float, float]]] = {}
        for where, row in rows:
            zone = str(row.get("zone") or "").strip().upper()
            try:
                t = _parse_time(row.get("timestamp", ""))
            except (ValueError, TypeError):
                raise InputError(
                    f"{self.path}, {where}: timestamp {row.get('timestamp')!r} is neither "
                    "ISO-8601 (2024-05-01T13:00:00Z) nor unix seconds"
                ) from None
            raw = row.get("intensity_g_per_kwh")
            try:
                value = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value) or value < 0:
                raise InputError(
                    f"{self.path}, {where}: intensity_g_per_kwh {raw!r} is not a number >= 0"
                )
            self._by_zone.setdefault(zone, []).append((t, value))
        if not self._by_zone:
            raise InputError(f"{self.path}: no intensity rows")
        self._hours = {z: _to_hours(points) for z, points in self._by_zone.items()}

    def _csv_rows(self, text: str) -> list[tuple[str, dict[str, Any]]]:
        import csv
        import io

        reader = csv.DictReader(io.StringIO(text))
        fields = {f.strip() for f in reader.fieldnames or []}
        missing = {"timestamp", "intensity_g_per_kwh"} - fields
        if missing:
            raise InputError(
                f"{self.path}, line 1: the header needs columns timestamp and "
                f"intensity_g_per_kwh (missing {', '.join(sorted(missing))})"
            )
        rows = []
        for row in reader:
            clean = {(k or "").strip(): v for k, v in row.items()}
            rows.append((f"line {reader.line_num}", clean))
        return rows

    def _json_rows(self, text: str) -> list[tuple[str, dict[str, Any]]]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{self.path}, line {exc.lineno}: not valid JSON ({exc.msg})"
            ) from None
        if not isinstance(data, list):
            raise InputError(f"{self.path}: expected a JSON list of objects")
        rows = []
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise InputError(f"{self.path}, item {i}: expected an object, got {item!r}")
            rows.append((f"item {i}", item))
        return rows

    def hourly(self, zone_code: str, start_unix_s: float, end_unix_s: float) -> dict[int, float]:
        hours = self._hours.get(zone_code.strip().upper()) or self._hours.get("")
        if hours is None:
            zones = ", ".join(sorted(z for z in self._hours if z))
            raise ProviderError(f"{self.path} has no rows for zone {zone_code} (it has {zones})")
        wanted = _hours_between(start_unix_s, end_unix_s)
        return {h: hours[h] for h in wanted if h in hours}


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
            if path is not None and path.is_file():
                try:
                    raw = json.loads(path.read_text(encoding="utf-8"))
                    hours = {int(k): float(v) for k, v in raw.get("hours", {}).items()}
                except (OSError, ValueError, AttributeError, TypeError):
                    hours = {}  # a damaged cache is ignored and rewritten
            self._memory[zone] = hours
        return self._memory[zone]

    def _store(self, zone: str, fresh: Mapping[int, float]) -> None:
        cache = self._cached(zone)
        cache.update(fresh)
        path = self._cache_file(zone)
        if path is None or not fresh:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            payload = {"zone": zone, "hours": {str(h): v for h, v in sorted(cache.items())}}
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # the file cache is an optimisation; the memory cache still holds

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
                "start": _iso(start_h),
                "end": _iso(end_h),
                "temporalGranularity": "hourly",
            }
        )
        url = f"{self.base_url}/v3/carbon-intensity/past-range?{query}"
        data = self._get_json(url, {"auth-token": self._token})
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProviderError(f"{self.name}: unexpected answer from {url} (no 'data' list)")
        points = []
        for item in items:
            if not isinstance(item, dict) or item.get("carbonIntensity") is None:
                continue
            try:
                t = _parse_time(item["datetime"])
                v = float(item["carbonIntensity"])
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
        def stamp(t: float) -> str:
            return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%MZ")

        url = f"{self.base_url}/intensity/{stamp(start_h)}/{stamp(end_h)}"
        data = self._get_json(url, {"Accept": "application/json"})
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProviderError(f"{self.name}: unexpected answer from {url} (no 'data' list)")
        points = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("intensity"), dict):
                continue
            reading = item["intensity"]
            value = reading.get("actual")
            if value is None:
                value = reading.get("forecast")
            try:
                t = _parse_time(item["from"])
                v = float(value)
            except (KeyError, TypeError, ValueError):
                continue
            if start_h <= t < end_h and math.isfinite(v) and v >= 0:
                points.append((t, v))
        return _to_hours(points)


# ----------------------------------------------------------------------------- hourly_co2e


@dataclass(frozen=True)
class HourlyResult:
    """Operational CO2e computed hour by hour.

    ``effective_intensity_g_per_kwh`` is the energy-weighted mean intensity applied
    (CO2e over PUE-scaled energy). ``fallback_used`` is true when some or all hours used
    the zone's yearly figure, and ``fallback_reason`` says why.
    """

    co2e_g: float
    effective_intensity_g_per_kwh: float
    source: str
    fallback_used: bool
    fallback_reason: str
    hours: int = 0
    hours_from_provider: int = 0
    #: (hour_start_unix_s, g_per_kwh applied) for every hour, in time order
    intensity_by_hour: tuple[tuple[int, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "co2e_g": self.co2e_g,
            "effective_intensity_g_per_kwh": self.effective_intensity_g_per_kwh,
            "source": self.source,
            "fallback_used": self.fallback_used,
            "fallback_reason": self.fallback_reason,
            "hours": self.hours,
            "hours_from_provider": self.hours_from_provider,
        }


def hourly_co2e(
    energy_j_by_hour: Mapping[int, float],
    *,
    zone: Zone,
    pue: float,
    provider: IntensityProvider | None,
) -> HourlyResult:
    """CO2e in grams: each hour's energy (joules, keyed by the hour's start in unix
    seconds) x ``pue`` x that hour's intensity from ``provider``; hours the provider
    cannot give use ``zone``'s yearly figure, recorded in the result. Cloud zones are
    asked for by their grid zone."""
    pue = validate_pue(pue)
    hours: dict[int, float] = {}
    for key, energy_j in energy_j_by_hour.items():
        try:
            value = float(energy_j)
            hour = hour_start(float(key))
        except (TypeError, ValueError):
            raise InputError(f"energy_j_by_hour: bad entry {key!r}: {energy_j!r}") from None
        if not math.isfinite(value) or value < 0:
            raise InputError(
                f"energy_j_by_hour[{key}] must be a finite number >= 0, got {energy_j!r}"
            )
        hours[hour] = hours.get(hour, 0.0) + value
    yearly = zone.intensity_g_per_kwh
    yearly_label = f"{zone.code} yearly {yearly:g} g/kWh ({zone.year})"
    code = zone.grid_zone or zone.code
    got: dict[int, float] = {}
    reason = ""
    if provider is not None and hours:
        name = str(getattr(provider, "name", type(provider).__name__))
        try:
            answer = provider.hourly(code, min(hours), max(hours) + HOUR_S)
            got = {int(h): float(v) for h, v in answer.items() if math.isfinite(float(v))}
        except (CarbonLedgerError, OSError, ValueError, TypeError) as exc:
            reason = f"{name} failed ({exc}); the yearly figure was used for every hour"
        else:
            missing = [h for h in hours if h not in got]
            if missing:
                reason = (
                    f"{name} had no figure for {len(missing)} of {len(hours)} hours; the "
                    "yearly figure was used for them"
                )
        source = f"{name} hourly ({code}); fallback {yearly_label}"
    else:
        source = yearly_label if provider is None else f"{yearly_label} (no energy)"
    co2e = 0.0
    kwh_total = 0.0
    applied: list[tuple[int, float]] = []
    for hour in sorted(hours):
        g_per_kwh = got.get(hour, yearly)
        kwh = j_to_kwh(hours[hour]) * pue
        co2e += kwh * g_per_kwh
        kwh_total += kwh
        applied.append((hour, g_per_kwh))
    from_provider = sum(1 for h in hours if h in got)
    return HourlyResult(
        co2e_g=co2e,
        effective_intensity_g_per_kwh=co2e / kwh_total if kwh_total > 0 else yearly,
        source=source,
        fallback_used=bool(reason),
        fallback_reason=reason,
        hours=len(hours),
        hours_from_provider=from_provider,
        intensity_by_hour=tuple(applied),
    )
