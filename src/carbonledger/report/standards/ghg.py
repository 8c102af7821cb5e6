"""GHG Protocol figures for a project or a period, from the ledger's runs.

* Scope 2 holds the runs on the organisation's own hardware; the electricity of runs on a
  cloud provider's hardware is the provider's Scope 2 and the customer's Scope 3, category 1
  (purchased services), reported there (location-based).
* Scope 2, location-based: each run's CO2e at its grid's intensity (the accounting's figure).
* Scope 2, market-based: each run's energy at its contractual factor (the run's
  ``market_g_per_kwh``), else at the residual mix of its zone when a residual-mix table is
  given (``--residual-mix FILE``), else **not available** for that run. It is never made equal
  to the location-based figure: a total is given only when every run has a market figure.
* Scope 3, embodied hardware, amortised over the runs: Category 1 (purchased goods and
  services) for work on a cloud provider's hardware, Category 2 (capital goods) for the
  organisation's own hardware; a category's total is given only when every run of it has an
  embodied figure (the others' sum is given apart, named as such).
* By month (UTC, of each run's start) and by site (the grid zone the run drew from).
* ESRS E1-5 (energy consumption, MWh: own operations, so own hardware) and E1-6 (gross Scope
  2, location- and market-based, tCO2e) datapoints, named as such: the recorded work's share
  of the undertaking's figures.

Runs still running are left out of the figures and listed. Every output carries the ledger's
head and its verification.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from carbonledger.accounting import co2e_g, facility_energy_kwh
from carbonledger.errors import InputError
from carbonledger.models import RunSummary
from carbonledger.report.data import LedgerStatus
from carbonledger.report.standards._common import meta_of, record_dict
from carbonledger.units import G_PER_T, j_to_kwh

__all__ = [
    "CSV_COLUMNS",
    "GhgReport",
    "ResidualMix",
    "ghg_csv",
    "ghg_report",
    "read_residual_mix",
    "select_runs",
]

METHODS = (
    "Runs on the organisation's own hardware are its Scope 2 and its energy consumption (ESRS "
    "E1-5); runs on a cloud provider's hardware (a cloud region, or a cloud detected on the "
    "host) are a purchased service: their electricity's emissions are reported under Scope 3 "
    "Category 1 (location-based), their energy apart from the undertaking's own. "
    "Scope 2 follows the GHG Protocol Scope 2 Guidance (2015): location-based = each run's "
    "facility energy (IT energy measured or estimated by carbonledger, x the facility's PUE) x "
    "the grid intensity of its zone (hourly where recorded, else the yearly figure of the table "
    "named per run); market-based = the same energy x the run's contractual emission factor "
    "(market_g_per_kwh, from supplier contracts, green tariffs or PPAs), else x the residual "
    "mix of its zone from the table given with --residual-mix, else not available. carbonledger "
    "ships no residual-mix figures (the published ones are not openly licensed). Scope 3 "
    "Category 1 (cloud hardware, a purchased service) and Category 2 (own hardware, capital "
    "goods) hold the hardware's manufacturing emissions amortised linearly over its service "
    "life and charged for each run's duration; note that the GHG Protocol's Category 2 "
    "inventory counts capital goods in full in the year they are acquired, so these figures "
    "allocate embodied emissions to the work, they are not that inventory's figure. A run is "
    "attributed to the month (UTC) it started and to the grid zone it drew from. The figures "
    "cover the runs recorded in the ledger only: they are a contribution to the undertaking's "
    "ESRS E1-5 and E1-6 datapoints, not its totals."
)


@dataclass(frozen=True)
class ResidualMix:
    """A residual-mix emission factor (gCO2e/kWh) of a zone, with its year and source."""

    zone: str
    g_per_kwh: float
    year: str
    source: str


def read_residual_mix(text: str, where: str) -> dict[str, ResidualMix]:
    """A residual-mix table (CSV: ``zone,intensity_g_per_kwh,year,source``) by zone code."""
    reader = csv.DictReader(io.StringIO(text))
    needed = {"zone", "intensity_g_per_kwh", "year", "source"}
    missing = needed - set(reader.fieldnames or ())
    if missing:
        raise InputError(
            f"{where}: a residual-mix table needs the columns zone,intensity_g_per_kwh,year,"
            f"source (missing: {', '.join(sorted(missing))})"
        )
    out: dict[str, ResidualMix] = {}
    for line, row in enumerate(reader, start=2):
        try:
            value = float(row["intensity_g_per_kwh"])
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and 0 <= value <= 2000):
            raise InputError(
                f"{where} line {line}: intensity_g_per_kwh must be 0 to 2000 g/kWh, got "
                f"{row['intensity_g_per_kwh']!r}"
            )
        if not (row["source"] or "").strip():
            raise InputError(f"{where} line {line}: every residual-mix figure needs its source")
        zone = (row["zone"] or "").strip().upper()
        out[zone] = ResidualMix(zone, value, (row["year"] or "").strip(), row["source"].strip())
    return out


@dataclass(frozen=True)
class RunFigures:
    """One run's share of the report."""

    run_id: str
    project: str
    experiment: str
    month: str
    site: str
    cloud: bool
    it_energy_kwh: float
    facility_energy_kwh: float
    location_g: float
    market_g: float | None
    market_basis: str
    embodied_g: float | None
    water_l: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "project": self.project,
            "experiment": self.experiment,
            "month": self.month,
            "site": self.site,
            "hardware": "cloud provider's (Scope 3, category 1)" if self.cloud else "own (Scope 2)",
            "it_energy_kwh": self.it_energy_kwh,
            "facility_energy_mwh": self.facility_energy_kwh / 1e3,
            "location_based_tco2e": self.location_g / G_PER_T,
            "market_based_tco2e": None if self.market_g is None else self.market_g / G_PER_T,
            "market_basis": self.market_basis,
            "scope3_category": None if self.embodied_g is None else (1 if self.cloud else 2),
            "scope3_embodied_tco2e": None if self.embodied_g is None else self.embodied_g / G_PER_T,
            "water_l": self.water_l,
        }


@dataclass
class Totals:
    """The figures of a group of runs (the whole selection, a month, a site)."""

    runs: int = 0
    it_energy_kwh: float = 0.0
    #: the organisation's own hardware (Scope 2) and a cloud provider's (Scope 3, category 1)
    own_runs: int = 0
    facility_energy_kwh: float = 0.0
    location_g: float = 0.0
    market_g: float = 0.0
    market_missing: list[str] = field(default_factory=list)
    market_missing_kwh: float = 0.0
    cloud_runs: int = 0
    cloud_energy_kwh: float = 0.0
    cloud_location_g: float = 0.0
    cat1_g: float = 0.0
    cat2_g: float = 0.0
    embodied_missing: list[str] = field(default_factory=list)
    cat1_missing: list[str] = field(default_factory=list)
    cat2_missing: list[str] = field(default_factory=list)
    water_l: float = 0.0
    water_missing: int = 0

    def add(self, r: RunFigures) -> None:
        self.runs += 1
        self.it_energy_kwh += r.it_energy_kwh
        if r.cloud:  # the provider's electricity: the customer's Scope 3, category 1
            self.cloud_runs += 1
            self.cloud_energy_kwh += r.facility_energy_kwh
            self.cloud_location_g += r.location_g
        else:
            self.own_runs += 1
            self.facility_energy_kwh += r.facility_energy_kwh
            self.location_g += r.location_g
            if r.market_g is None:
                self.market_missing.append(r.run_id)
                self.market_missing_kwh += r.facility_energy_kwh
            else:
                self.market_g += r.market_g
        if r.embodied_g is None:
            self.embodied_missing.append(r.run_id)
            (self.cat1_missing if r.cloud else self.cat2_missing).append(r.run_id)
        elif r.cloud:
            self.cat1_g += r.embodied_g
        else:
            self.cat2_g += r.embodied_g
        if r.water_l is None:
            self.water_missing += 1
        else:
            self.water_l += r.water_l

    def to_dict(self) -> dict[str, Any]:
        market = None if self.market_missing else self.market_g / G_PER_T
        return {
            "runs": self.runs,
            "it_energy_kwh": self.it_energy_kwh,
            "own_hardware_runs": self.own_runs,
            "energy_consumption_mwh": self.facility_energy_kwh / 1e3,
            "scope2_location_tco2e": self.location_g / G_PER_T,
            "scope2_market_tco2e": market,
            "scope2_market_not_available": {
                "runs": len(self.market_missing),
                "energy_consumption_mwh": self.market_missing_kwh / 1e3,
                "run_ids": list(self.market_missing),
                **(
                    {"market_tco2e_of_the_other_runs": self.market_g / G_PER_T}
                    if self.market_missing and self.own_runs > len(self.market_missing)
                    else {}
                ),
            },
            "cloud_runs": self.cloud_runs,
            "cloud_energy_mwh": self.cloud_energy_kwh / 1e3,
            "scope3_category1_cloud_electricity_tco2e": self.cloud_location_g / G_PER_T,
            # a category's total only when every run of it has an embodied figure
            "scope3_category1_embodied_tco2e": None if self.cat1_missing else self.cat1_g / G_PER_T,
            "scope3_category2_embodied_tco2e": None if self.cat2_missing else self.cat2_g / G_PER_T,
            "scope3_embodied_not_available_runs": len(self.embodied_missing),
            **(
                {"scope3_embodied_tco2e_of_the_other_runs": (self.cat1_g + self.cat2_g) / G_PER_T}
                if self.embodied_missing and self.runs > len(self.embodied_missing)
                else {}
            ),
            "water_l": None if self.water_missing else self.water_l,
            "water_not_available_runs": self.water_missing,
            **(
                {"water_l_of_the_other_runs": self.water_l}
                if self.water_missing and self.runs > self.water_missing
                else {}
            ),
        }


@dataclass(frozen=True)
class GhgReport:
    """The GHG Protocol figures of a selection of runs."""

    selection: dict[str, Any]
    runs: tuple[RunFigures, ...]
    excluded: tuple[str, ...]
    record: LedgerStatus | None

    def _group(self, key: str) -> dict[str, Totals]:
        groups: dict[str, Totals] = {}
        for r in self.runs:
            groups.setdefault(getattr(r, key), Totals()).add(r)
        return dict(sorted(groups.items()))

    def totals(self) -> Totals:
        total = Totals()
        for r in self.runs:
            total.add(r)
        return total

    def to_dict(self) -> dict[str, Any]:
        total = self.totals().to_dict()
        return {
            "standard": "GHG Protocol Corporate Standard with the Scope 2 Guidance; ESRS E1",
            "selection": self.selection,
            "excluded_still_running": list(self.excluded),
            "totals": total,
            "by_month": [{"month": k, **v.to_dict()} for k, v in self._group("month").items()],
            "by_site": [{"site": k, **v.to_dict()} for k, v in self._group("site").items()],
            "esrs": {
                "E1-5": {
                    "datapoint": "Energy consumption (MWh): the facility energy of the recorded "
                    "work on own hardware, a contribution to the undertaking's total energy "
                    "consumption (cloud work is not own operations: see cloud_energy_mwh)",
                    "energy_consumption_mwh": total["energy_consumption_mwh"],
                    "energy_mix": "not available: the ledger does not split the grid's "
                    "electricity into fossil, nuclear and renewable sources",
                },
                "E1-6": {
                    "datapoint": "Gross Scope 2 GHG emissions (tCO2e), location-based and "
                    "market-based: the recorded work's contribution",
                    "gross_scope2_location_based_tco2e": total["scope2_location_tco2e"],
                    "gross_scope2_market_based_tco2e": total["scope2_market_tco2e"],
                    **(
                        {}
                        if total["scope2_market_tco2e"] is not None
                        else {
                            "market_based_note": "not available: some runs have neither a "
                            "contractual factor nor a residual mix (see totals)"
                        }
                    ),
                },
            },
            "methods": METHODS,
            "runs": [r.to_dict() for r in self.runs],
            "record": record_dict(self.record),
        }


def _month(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, tz=timezone.utc).strftime("%Y-%m")


def _figures(s: RunSummary, residual: Mapping[str, ResidualMix]) -> RunFigures:
    meta = meta_of(s)
    cloud = bool(meta.get("cloud_provider")) or ":" in s.location
    facility = facility_energy_kwh(s.energy_j, s.pue)
    market: float | None
    if s.market_co2e_g is not None:
        market = s.market_co2e_g
        factor = meta.get("market_g_per_kwh")
        basis = f"contractual emission factor given for the run: {factor} gCO2e/kWh"
    else:
        zone = s.location.upper()
        mix = residual.get(zone) or residual.get(zone.split("-")[0])
        if mix is not None:
            market = co2e_g(s.energy_j, pue=s.pue, intensity_g_per_kwh=mix.g_per_kwh)
            basis = f"residual mix of {mix.zone}: {mix.g_per_kwh:g} gCO2e/kWh ({mix.source}, {mix.year})"
        else:
            market = None
            basis = (
                f"not available: no contractual factor recorded for the run and no residual mix "
                f"for {s.location}"
            )
    return RunFigures(
        run_id=s.run_id,
        project=s.project,
        experiment=s.experiment,
        month=_month(s.started_unix_s),
        site=s.location,
        cloud=cloud,
        it_energy_kwh=j_to_kwh(s.energy_j),
        facility_energy_kwh=facility,
        location_g=s.co2e_g,
        market_g=market,
        market_basis=basis,
        embodied_g=s.embodied_co2e_g,
        water_l=s.water_l,
    )


def ghg_report(
    summaries: Iterable[RunSummary],
    status: LedgerStatus | None,
    *,
    selection: Mapping[str, Any],
    residual_mix: Mapping[str, ResidualMix] | None = None,
) -> GhgReport:
    """The GHG Protocol figures of ``summaries`` (already selected; ``selection`` says how),
    with the ledger's verification ``status``."""
    chosen = sorted(summaries, key=lambda s: (s.started_unix_s, s.run_id))
    running = tuple(s.run_id for s in chosen if s.status == "running")
    figures = tuple(_figures(s, residual_mix or {}) for s in chosen if s.status != "running")
    return GhgReport({**selection, "runs": len(figures)}, figures, running, status)


#: the CSV's columns: one row per breakdown (total, month, site, run)
CSV_COLUMNS = (
    "breakdown",
    "key",
    "runs",
    "it_energy_kwh",
    "energy_consumption_mwh",
    "scope2_location_tco2e",
    "scope2_market_tco2e",
    "scope2_market_not_available_runs",
    "cloud_energy_mwh",
    "scope3_category1_cloud_electricity_tco2e",
    "scope3_category1_embodied_tco2e",
    "scope3_category2_embodied_tco2e",
    "scope3_embodied_not_available_runs",
    "water_l",
    "ledger_head",
    "verified",
    "anchored",
)


def _cell(value: Any) -> str:
    if value is None:
        return "not available"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def ghg_csv(report: GhgReport) -> str:
    """The report as CSV: the totals, each month, each site and each run, one row each; every
    row carries the ledger's head and the verification; unknown figures read ``not available``."""
    record = report.record
    stamp = {
        "ledger_head": record.head if record is not None else None,
        "verified": record.ok if record is not None else None,
        "anchored": record.anchored if record is not None else None,
    }
    rows: list[dict[str, Any]] = []

    def totals_row(breakdown: str, key: str, t: Totals) -> dict[str, Any]:
        d = t.to_dict()
        return {
            "breakdown": breakdown,
            "key": key,
            **{c: d.get(c) for c in CSV_COLUMNS if c in d},
            "scope2_market_not_available_runs": d["scope2_market_not_available"]["runs"],
            "scope3_embodied_not_available_runs": d["scope3_embodied_not_available_runs"],
        }

    rows.append(totals_row("total", "all", report.totals()))
    rows += [totals_row("month", k, t) for k, t in report._group("month").items()]
    rows += [totals_row("site", k, t) for k, t in report._group("site").items()]
    for r in report.runs:  # a run's row: its figures under the scope its hardware puts them
        single = Totals()
        single.add(r)
        rows.append(totals_row("run", r.run_id, single))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell({**row, **stamp}.get(c)) for c in CSV_COLUMNS})
    return buf.getvalue()


def select_runs(
    summaries: Sequence[RunSummary],
    *,
    experiment: str | None,
    since_unix_s: float | None,
    until_unix_s: float | None,
) -> list[RunSummary]:
    """The runs of ``summaries`` of ``experiment`` that started in [since, until)."""
    return [
        s
        for s in summaries
        if (experiment is None or s.experiment == experiment)
        and (since_unix_s is None or s.started_unix_s >= since_unix_s)
        and (until_unix_s is None or s.started_unix_s < until_unix_s)
    ]
