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
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from carbonledger.carbon.pue import validate_pue
from carbonledger.carbon.zones import Zone
from carbonledger.errors import CarbonLedgerError, InputError
from carbonledger.units import iso_utc, j_to_kwh

__all__ = [
    "ElectricityMapsProvider",
    "FileIntensityProvider",
    "HourlyResult",
    "IntensityForecast",
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

    def forecast(
        self,
        zone_code: str,
        start_unix_s: float,
        end_unix_s: float,
        *,
        now_unix_s: float | None = None,
    ) -> IntensityForecast:
        """The file's hours in ``[start_unix_s, end_unix_s)`` as a forecast (the file is
        taken as what the user expects; issued when the file was last modified, fetched
        at ``now_unix_s``)."""
        hours = self.hourly(zone_code, start_unix_s, end_unix_s)
        if not hours:
            raise ProviderError(
                f"{self.path} has no hours between {iso_utc(start_unix_s)} and {iso_utc(end_unix_s)}"
            )
        try:
            issued = self.path.stat().st_mtime
        except OSError:
            issued = time.time()
        return IntensityForecast(
            zone=zone_code.strip().upper(),
            source=self.name,
            hours=tuple(sorted(hours.items())),
            issued_unix_s=issued,
            fetched_unix_s=time.time() if now_unix_s is None else now_unix_s,
        )


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


from carbonledger.carbon.online import (  # noqa: E402  (re-exported: they live there)
    ElectricityMapsProvider,
    UKCarbonIntensityProvider,
)
