"""Hourly intensity and forecasts from a file you have: CSV or JSON rows of timestamp and
intensity (gCO2e/kWh), optionally per zone. No network."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from carbonledger._inputs import MAX_INTENSITY_G_PER_KWH
from carbonledger.carbon.providers.base import (
    IntensityForecast,
    ProviderError,
    hourly_means,
    hours_between,
    iso_utc,
    parse_time,
)
from carbonledger.errors import InputError

__all__ = ["FORECAST_MAX_BYTES", "FileIntensityProvider"]

#: the largest intensity file read (bytes): ten years of hourly rows for a hundred zones fit
FORECAST_MAX_BYTES = 64 << 20


class FileIntensityProvider:
    """Hourly intensity from a file: CSV with columns ``timestamp`` (ISO-8601 or unix
    seconds) and ``intensity_g_per_kwh`` (optionally ``zone``), or a JSON list of objects
    with those keys. Several points in one hour are averaged. The file is read once, at
    construction; a bad file raises :class:`InputError` naming the line (or item)."""

    name = "file"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = f"file {self.path}"
        from carbonledger._files import read_input_text

        text = read_input_text(path, "intensity file", max_bytes=FORECAST_MAX_BYTES)
        if self.path.suffix.lower() == ".json" or text.lstrip().startswith("["):
            rows = self._json_rows(text)
        else:
            rows = self._csv_rows(text)
        by_zone: dict[str, list[tuple[float, float]]] = {}
        for where, row in rows:
            zone = str(row.get("zone") or "").strip().upper()[:64]
            try:
                t = parse_time(row.get("timestamp", ""))
            except (ValueError, TypeError):
                raise InputError(
                    f"{self.path}, {where}: timestamp {row.get('timestamp')!r:.60} is neither "
                    "ISO-8601 (2024-05-01T13:00:00Z) nor unix seconds, from 1970 to 9999"
                ) from None
            raw = row.get("intensity_g_per_kwh")
            try:
                value = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                value = math.nan
            if not (math.isfinite(value) and 0 <= value <= MAX_INTENSITY_G_PER_KWH):
                raise InputError(
                    f"{self.path}, {where}: intensity_g_per_kwh {raw!r:.60} is not a number "
                    f"from 0 to {MAX_INTENSITY_G_PER_KWH:g} gCO2e/kWh"
                )
            by_zone.setdefault(zone, []).append((t, value))
        if not by_zone:
            raise InputError(f"{self.path}: no intensity rows")
        self._hours = {z: hourly_means(points) for z, points in by_zone.items()}

    def _csv_rows(self, text: str) -> list[tuple[str, dict[str, Any]]]:
        import csv
        import io

        reader = csv.DictReader(io.StringIO(text))
        try:
            fields = {f.strip() for f in reader.fieldnames or []}
        except csv.Error as exc:
            raise InputError(f"{self.path}, line 1: not a CSV header ({exc})") from None
        missing = {"timestamp", "intensity_g_per_kwh"} - fields
        if missing:
            raise InputError(
                f"{self.path}, line 1: the header needs columns timestamp and "
                f"intensity_g_per_kwh (missing {', '.join(sorted(missing))})"
            )
        rows = []
        try:
            for row in reader:
                clean = {(k or "").strip(): v for k, v in row.items()}
                rows.append((f"line {reader.line_num}", clean))
        except csv.Error as exc:  # a field past csv's limit, a NUL...
            raise InputError(
                f"{self.path}, line {reader.line_num + 1}: not CSV the provider reads ({exc})"
            ) from None
        return rows

    def _json_rows(self, text: str) -> list[tuple[str, dict[str, Any]]]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{self.path}, line {exc.lineno}: not valid JSON ({exc.msg})"
            ) from None
        except RecursionError:
            raise InputError(f"{self.path}: JSON nested too deeply for a list of rows") from None
        if not isinstance(data, list):
            raise InputError(f"{self.path}: expected a JSON list of objects")
        rows = []
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise InputError(f"{self.path}, item {i}: expected an object, got {item!r:.60}")
            rows.append((f"item {i}", item))
        return rows

    def hourly(self, zone_code: str, start_unix_s: float, end_unix_s: float) -> dict[int, float]:
        """The file's ``{hour_start_unix_s: g_per_kwh}`` for ``zone_code`` (or its rows
        without a zone) in ``[start_unix_s, end_unix_s)``."""
        hours = self._hours.get(zone_code.strip().upper()) or self._hours.get("")
        if hours is None:
            zones = ", ".join(sorted(z for z in self._hours if z))
            raise ProviderError(f"{self.path} has no rows for zone {zone_code} (it has {zones})")
        wanted = hours_between(start_unix_s, end_unix_s)
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
                f"{self.path} has no hours between {iso_utc(start_unix_s)} and "
                f"{iso_utc(end_unix_s)}"
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
