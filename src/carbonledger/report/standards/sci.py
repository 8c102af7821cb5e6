"""The Software Carbon Intensity of a run (Green Software Foundation; ISO/IEC 21031:2024):

    SCI = (E x I + M) per R

E: the energy the run drew from the grid, kWh (its IT energy x the facility's PUE);
I: the location-based grid intensity, gCO2e/kWh (the hours' when recorded, else the run's);
M: the embodied carbon of the hardware, amortised over the run, gCO2e;
R: the functional unit (``--functional-unit "1000 requests"``: per 1,000 requests), counted
from the run's metric of that name (``carbonledger metric RUN requests N``, or its windows'
metrics), or given.

Each term is reported with its value and where it comes from. When the run has no embodied
figure, M is marked unknown and the SCI is not given: only its operational part
``E x I / R``, a lower bound, is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from carbonledger.accounting import facility_energy_kwh
from carbonledger.errors import InputError
from carbonledger.models import RunSummary
from carbonledger.report.data import LedgerStatus
from carbonledger.report.standards._common import finite, record_dict, record_sentence

__all__ = ["FunctionalUnit", "SciResult", "parse_functional_unit", "sci", "sci_text"]

#: the kinds of functional unit people use (any other name works when the run has its metric)
USUAL_UNITS = ("requests", "tokens", "images", "samples", "epochs", "users", "inferences")
_UNIT = re.compile(r"\s*(?:(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s+)?([A-Za-z_][\w./-]*)\s*")


@dataclass(frozen=True)
class FunctionalUnit:
    """``per`` units named ``name``: "1000 requests" is (1000, "requests")."""

    per: float
    name: str

    @property
    def text(self) -> str:
        return f"{self.per:g} {self.name}"


def parse_functional_unit(text: str) -> FunctionalUnit:
    """``"1000 requests"`` or ``"token"`` (one of it) as a :class:`FunctionalUnit`."""
    match = _UNIT.fullmatch(text or "")
    if match is None:
        raise InputError(
            f"--functional-unit must be a count and a name, e.g. '1000 requests' or 'token', "
            f"got {text!r}"
        )
    per = float(match.group(1)) if match.group(1) else 1.0
    if per <= 0:
        raise InputError(f"--functional-unit must count more than 0 units, got {text!r}")
    return FunctionalUnit(per, match.group(2))


@dataclass(frozen=True)
class Term:
    """One term of the SCI: its value (None when not known), unit and source."""

    value: float | None
    unit: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "source": self.source}


@dataclass(frozen=True)
class SciResult:
    """The SCI of a run and its terms."""

    run_id: str
    functional_unit: FunctionalUnit
    e: Term
    i: Term
    m: Term
    r: Term
    #: (E x I + M) / R in gCO2e per functional unit; None when M is not known
    sci_g: float | None
    #: E x I / R: the operational part alone (a lower bound of the SCI when M is unknown)
    operational_g: float
    record: LedgerStatus | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "formula": "SCI = (E x I + M) per R",
            "functional_unit": self.functional_unit.text,
            "sci_g_per_unit": self.sci_g,
            "operational_g_per_unit": self.operational_g,
            "terms": {"E": self.e.to_dict(), "I": self.i.to_dict(), "M": self.m.to_dict(),
                      "R": self.r.to_dict()},
            "record": record_dict(self.record),
        }  # fmt: skip


def _count(summary: RunSummary, name: str) -> tuple[float, str] | None:
    """How many units named ``name`` the run served: its metric, else the sum of its windows'
    metrics of that name."""
    metrics = summary.extra.get("metrics")
    if isinstance(metrics, dict) and name in metrics:
        value = finite(metrics[name])
        if value is not None:
            return value, f"the run's metric {name!r}"
    values = [w.metrics[name] for w in summary.windows if name in w.metrics]
    if values:
        return float(sum(values)), f"the sum of {len(values)} window(s)' metric {name!r}"
    return None


def sci(
    summary: RunSummary,
    unit: FunctionalUnit,
    status: LedgerStatus | None,
    *,
    count: float | None = None,
) -> SciResult:
    """The SCI of run ``summary`` per ``unit``. ``count`` is how many units (``unit.name``)
    the run served, when not recorded as its metric."""
    if count is not None:
        if not (finite(count) is not None and count > 0):
            raise InputError(f"--count must be a number of {unit.name} above 0, got {count!r}")
        served, served_source = float(count), "given (--count)"
    else:
        found = _count(summary, unit.name)
        if found is None:
            raise InputError(
                f"run {summary.run_id} has no metric {unit.name!r}: record it with "
                f"'carbonledger metric {summary.run_id[:12]} {unit.name} N', or give --count N"
            )
        served, served_source = found
    if served <= 0:
        raise InputError(f"the run served {served:g} {unit.name}: the SCI needs more than 0")
    energy_kwh = facility_energy_kwh(summary.energy_j, summary.pue)
    how = f"{summary.measured_share:.0%} measured" if summary.energy_j > 0 else "no energy"
    e = Term(
        energy_kwh,
        "kWh",
        f"IT energy {summary.energy_kwh:.6g} kWh ({how}; "
        f"{'; '.join(sorted({f'{c.component}: {c.method}' for c in summary.components}))}) "
        f"x PUE {summary.pue:g} ({summary.pue_source})",
    )
    i = Term(
        summary.intensity_g_per_kwh, "gCO2e/kWh", f"location-based: {summary.intensity_source}"
    )
    embodied = summary.embodied_co2e_g
    m = Term(
        embodied,
        "gCO2e",
        "embodied carbon of the hardware, amortised over the run's duration"
        if embodied is not None
        else "not known: no embodied figure was recorded for this run (it is computed for "
        "GPUs with a known model, and for the server in machine scope)",
    )
    r = Term(served / unit.per, unit.text, f"{served:g} {unit.name}: {served_source}")
    operational = summary.co2e_g  # E x I: the accounting's figure for the same E and I
    assert r.value is not None
    sci_g = None if embodied is None else (operational + embodied) / r.value
    return SciResult(summary.run_id, unit, e, i, m, r, sci_g, operational / r.value, status)


def sci_text(result: SciResult) -> str:
    """The SCI and each term with its source, for people."""
    from carbonledger.report import format as fmt

    unit = result.functional_unit.text
    lines = [f"Software Carbon Intensity of run {result.run_id} (SCI = (E x I + M) per R)"]
    if result.sci_g is not None:
        lines.append(f"  SCI  {fmt.mass(result.sci_g)} CO2e per {unit}")
    else:
        lines.append(
            f"  SCI  not available (M unknown); its operational part E x I / R = "
            f"{fmt.mass(result.operational_g)} CO2e per {unit} is a lower bound"
        )
    e, i, m, r = result.e, result.i, result.m, result.r
    assert e.value is not None and i.value is not None and r.value is not None
    lines += [
        f"  E    {fmt.sig3(e.value)} kWh: {e.source}",
        f"  I    {fmt.sig3(i.value)} gCO2e/kWh: {i.source}",
        f"  M    {'unknown' if m.value is None else fmt.mass(m.value)}: {m.source}",
        f"  R    {fmt.sig3(r.value)} x {unit}: {r.source}",
        f"  {record_sentence(result.record)}",
    ]
    return "\n".join(lines) + "\n"
