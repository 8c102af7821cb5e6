"""Exports of runs: CodeCarbon-compatible CSV, and JSON Lines.

The CSV starts with CodeCarbon's 38 columns, in CodeCarbon's order and units (energy in
kWh, emissions in kg CO2e, power in W, duration in s, ``timestamp`` the run's end in UTC),
so tools written for CodeCarbon's ``emissions.csv`` read it (``country_iso_code`` in ISO
3166 alpha-3, ``FRA``, as CodeCarbon writes it); carbonledger's own columns
follow (measured share, methods, ranges, sources, status...). Every component is counted:
``energy_consumed`` is the run's whole energy, a system-on-chip's CPU and GPU parts go to
``cpu_energy`` and ``gpu_energy``, and the components CodeCarbon has no column for (a neural
engine, ``npu``; an indivisible SoC rail, ``soc``) to our ``npu_energy_kwh`` and
``soc_energy_kwh``. A value that is not known
is an empty cell, never a guess. Host facts (``os``, ``cpu_model``, ``country_name``...)
come from the run's ``meta``, where the tracker records them.

JSON Lines: one object per run, :meth:`RunSummary.to_dict` plus ISO-8601 times.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from typing import Any, Literal, TextIO

from carbonledger import units
from carbonledger._version import __version__
from carbonledger.models import COMPONENTS, Component, RunSummary
from carbonledger.units import BYTES_PER_GB, bytes_to_gib, j_to_kwh

__all__ = [
    "CODECARBON_COLUMNS",
    "CODECARBON_COMPONENTS",
    "CODECARBON_FORMAT",
    "CSV_COLUMNS",
    "OTHER_COMPONENTS",
    "OWN_COLUMNS",
    "codecarbon_version",
    "csv_row",
    "export_text",
    "iso_utc",
    "json_safe",
    "jsonl_record",
    "write_csv",
    "write_jsonl",
]

#: the CodeCarbon release whose columns and units the CSV follows
CODECARBON_FORMAT = "3.3.2"


def codecarbon_version(carbonledger_version: str | None = None) -> str:
    """What the ``codecarbon_version`` column holds: the CodeCarbon release whose columns
    the row follows, with carbonledger's version as a PEP 440 local label
    (``3.3.2+carbonledger.0.1.0``), so tools comparing versions read 3.3.2."""
    label = "".join(ch if ch.isalnum() else "." for ch in (carbonledger_version or __version__))
    return f"{CODECARBON_FORMAT}+carbonledger.{label}"


#: CodeCarbon's ``emissions.csv`` columns, in its order
CODECARBON_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "water_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "cpu_utilization_percent",
    "gpu_utilization_percent",
    "ram_utilization_percent",
    "ram_used_gb",
    "on_cloud",
    "pue",
    "wue",
)

#: the components CodeCarbon has columns for (``cpu_energy``, ``cpu_power``...)
CODECARBON_COMPONENTS: tuple[Component, ...] = ("cpu", "gpu", "ram")
#: the others, each in a column of ours (``npu_energy_kwh``...)
OTHER_COMPONENTS = tuple(c for c in COMPONENTS if c not in CODECARBON_COMPONENTS)

#: carbonledger's columns, after CodeCarbon's
OWN_COLUMNS: tuple[str, ...] = (
    "status",
    "started_at",
    "measured_share",
    "methods",
    *(f"{c}_energy_kwh" for c in OTHER_COMPONENTS),
    "energy_low_kwh",
    "energy_high_kwh",
    "co2e_low_kg",
    "co2e_high_kg",
    "market_co2e_kg",
    "embodied_co2e_kg",
    "water_source",
    "electricity_cost",
    "currency",
    "price_per_kwh",
    "cost_source",
    "intensity_g_per_kwh",
    "intensity_source",
    "location",
    "location_source",
    "pue_source",
    "hosts",
    "windows",
    "errors",
    "tags",
    "carbonledger_version",
)

CSV_COLUMNS = CODECARBON_COLUMNS + OWN_COLUMNS

#: CodeCarbon column <- key of RunRecord.meta (copied as is)
_FROM_META = {
    "country_name": "country_name",
    "region": "region",
    "cloud_provider": "cloud_provider",
    "cloud_region": "cloud_region",
    "os": "os",
    "python_version": "python_version",
    "cpu_count": "cpu_count",
    "cpu_model": "cpu_model",
    "gpu_count": "gpu_count",
    "gpu_model": "gpu_model",
    "longitude": "longitude",
    "latitude": "latitude",
    "ram_total_size": "ram_total_gb",
    "cpu_utilization_percent": "cpu_utilization_percent",
    "gpu_utilization_percent": "gpu_utilization_percent",
    "ram_utilization_percent": "ram_utilization_percent",
    "ram_used_gb": "ram_used_gb",
}


def iso_utc(t: float | None) -> str:
    """ISO-8601 in UTC with an explicit offset, or '' for None."""
    return "" if t is None else units.iso_utc(t, suffix="+00:00")


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN: a figure nobody computed, an infinity)
    as None, so that it is written as valid JSON (``null``), never as ``NaN``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(json_safe(value), sort_keys=True, default=str, allow_nan=False)
    return str(value)


def _alpha3(code: object, location: str) -> str | None:
    """CodeCarbon's ``country_iso_code`` (ISO 3166 alpha-3: ``FRA``) of a run: from its
    recorded alpha-2 code, else from its location (a cloud region's country); None when no
    country is known (the world average)."""
    from carbonledger.carbon import intensity
    from carbonledger.errors import CarbonLedgerError

    for candidate in (code, location):
        text = str(candidate or "").strip()
        if not text or text.upper() in ("WORLD", "UNKNOWN"):
            continue
        if len(text) == 3 and text.isalpha() and text.isupper():
            return text
        try:
            zone = intensity(text)
            country = zone if zone.kind == "country" else intensity(zone.country)
        except (CarbonLedgerError, ValueError):
            continue
        if country.kind == "country" and country.alpha3:
            return str(country.alpha3)
    return None


def _end_unix_s(s: RunSummary) -> float:
    finished = s.extra.get("finished_unix_s")
    if isinstance(finished, (int, float)):
        return float(finished)
    return s.started_unix_s + s.duration_s


def csv_row(s: RunSummary) -> dict[str, str]:
    """One run as a row of :data:`CSV_COLUMNS` (strings; '' when unknown)."""
    meta = s.extra.get("meta") or {}
    duration = s.duration_s
    by = {c: s.component_energy_j(c) for c in COMPONENTS}
    has = {c: any(x.component == c for x in s.components) for c in COMPONENTS}
    row: dict[str, Any] = {
        "timestamp": units.iso_utc(_end_unix_s(s), suffix=""),
        "project_name": s.project,
        "run_id": s.run_id,
        "experiment_id": s.experiment,
        "duration": duration,
        "emissions": s.co2e_kg,
        "emissions_rate": s.co2e_kg / duration if duration > 0 else 0.0,
        "energy_consumed": s.energy_kwh,
        "codecarbon_version": None,
        "country_iso_code": _alpha3(meta.get("country_iso_code"), s.location),
        "tracking_mode": s.scope,
        "on_cloud": ("Y" if meta.get("cloud_provider") else "N")
        if "cloud_provider" in meta
        else None,
        "pue": s.pue,
    }
    for c in CODECARBON_COMPONENTS:
        row[f"{c}_energy"] = j_to_kwh(by[c]) if has[c] else None
        row[f"{c}_power"] = (by[c] / duration if duration > 0 else 0.0) if has[c] else None
    for c in OTHER_COMPONENTS:
        row[f"{c}_energy_kwh"] = j_to_kwh(by[c]) if has[c] else None
    for column, key in _FROM_META.items():
        value = meta.get(key)
        row[column] = None if value == "" else value
    ram_gb = meta.get("ram_total_gb")
    if isinstance(ram_gb, int | float) and not isinstance(ram_gb, bool):
        row["ram_total_size"] = bytes_to_gib(ram_gb * BYTES_PER_GB)  # GiB, as CodeCarbon writes
    row.update(
        {
            "status": s.status,
            "started_at": iso_utc(s.started_unix_s),
            "measured_share": s.measured_share,
            "methods": ";".join(sorted({f"{c.component}:{c.method}" for c in s.components})),
            "energy_low_kwh": j_to_kwh(s.energy_low_j),
            "energy_high_kwh": j_to_kwh(s.energy_high_j),
            "co2e_low_kg": s.co2e_low_g / 1e3,
            "co2e_high_kg": s.co2e_high_g / 1e3,
            "market_co2e_kg": None if s.market_co2e_g is None else s.market_co2e_g / 1e3,
            "embodied_co2e_kg": None if s.embodied_co2e_g is None else s.embodied_co2e_g / 1e3,
            # on-site water (L, IT energy x WUE) and the electricity's cost, when known
            "water_consumed": s.water_l,
            "wue": s.wue_l_per_kwh,
            "water_source": s.water_source or None,
            "electricity_cost": s.electricity_cost,
            "currency": s.currency or None,
            "price_per_kwh": s.price_per_kwh,
            "cost_source": s.cost_source or None,
            "intensity_g_per_kwh": s.intensity_g_per_kwh,
            "intensity_source": s.intensity_source,
            "location": s.location,
            "location_source": s.location_source,
            "pue_source": s.pue_source,
            "hosts": ";".join(s.hosts),
            "windows": s.extra.get("window_count", len(s.windows)),
            "errors": " | ".join(s.errors),
            "tags": s.extra.get("tags") or None,
            "carbonledger_version": meta.get("carbonledger_version") or __version__,
        }
    )
    return {column: _cell(row.get(column)) for column in CSV_COLUMNS}


def write_csv(summaries: Iterable[RunSummary], out: TextIO) -> int:
    """Write the header and one row per run; returns the number of runs."""
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    n = 0
    for s in summaries:
        writer.writerow(csv_row(s))
        n += 1
    return n


def jsonl_record(s: RunSummary) -> dict[str, Any]:
    """One run as a JSON object: ``to_dict()`` with ISO-8601 start and end."""
    d = s.to_dict()
    d["started_at"] = iso_utc(s.started_unix_s)
    finished = s.extra.get("finished_unix_s")
    d["finished_at"] = iso_utc(float(finished)) if isinstance(finished, (int, float)) else ""
    return d


def write_jsonl(summaries: Iterable[RunSummary], out: TextIO) -> int:
    """One JSON object per line and per run; returns the number of runs."""
    n = 0
    for s in summaries:
        record = json_safe(jsonl_record(s))
        out.write(json.dumps(record, sort_keys=False, default=str, allow_nan=False) + "\n")
        n += 1
    return n


def export_text(summaries: Iterable[RunSummary], fmt: Literal["csv", "jsonl"]) -> tuple[str, int]:
    """The whole export in memory (so an encrypted export never touches disk in clear)."""
    buf = io.StringIO()
    n = write_csv(summaries, buf) if fmt == "csv" else write_jsonl(summaries, buf)
    return buf.getvalue(), n
