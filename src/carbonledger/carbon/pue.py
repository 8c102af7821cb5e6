"""Power usage effectiveness: the facility's total energy over the IT equipment's.

Operational emissions scale the measured IT energy by the PUE. The figure comes from,
in order: the caller (validated 1.0..3.0); the cloud provider's published average when
the run is on a known cloud (``pue.csv``: AWS 1.135, GCP 1.1, Azure 1.185 as used by
Cloud Carbon Footprint); otherwise 1.0, stated as *assumed, not measured*. The 2024
industry average of 1.56 (Uptime Institute) is kept as a documented reference, never
applied silently.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from math import sqrt
from typing import TYPE_CHECKING

from carbonledger import _inputs
from carbonledger.carbon._tables import read_table

if TYPE_CHECKING:
    from carbonledger.carbon.location import Location

__all__ = [
    "PUE_MAX",
    "PUE_MIN",
    "PueBand",
    "provider_pue",
    "reference_pue",
    "resolve_pue",
    "unknown_facility_pue",
    "validate_pue",
]

PUE_MIN = _inputs.PUE_MIN
PUE_MAX = _inputs.PUE_MAX


def validate_pue(pue: float | str, what: str = "pue") -> float:
    """``pue`` as a float when it is a finite number in 1.0..3.0 (a number, or the text of
    one), else :class:`InputError` naming ``what``, the value and the range."""
    return _inputs.pue(pue, what, parse_text=True)


@functools.cache
def _pue_rows() -> dict[str, dict[str, str]]:
    return {row["provider"]: row for row in read_table("pue.csv")}


def provider_pue(provider: str) -> tuple[float, str] | None:
    """(PUE, citation) of a cloud provider (``aws``, ``gcp``, ``azure``, ``ovh``), or None
    when carbonledger has no published figure for it."""
    row = _pue_rows().get(provider.strip().lower())
    if row is None or provider.strip().lower() == "unknown":
        return None
    return float(row["pue"]), f"{row['source']}, {row['year']}"


def reference_pue() -> tuple[float, str]:
    """The industry-average PUE (Uptime Institute 2024: 1.56) and its citation: a
    reference for reports, not a default."""
    row = _pue_rows()["unknown"]
    return float(row["pue"]), f"{row['source']}, {row['year']}"


@dataclass(frozen=True)
class PueBand:
    """A PUE assumed for a facility nobody named: a central value and its 80 % interval
    (``low`` .. ``high``), with where the ends come from."""

    median: float
    low: float
    high: float
    source: str


def unknown_facility_pue() -> PueBand:
    """The PUE a *prediction* assumes when none is given (a measured run keeps 1.0, stated
    as assumed, see :func:`resolve_pue`): from the lowest published fleet average in
    ``pue.csv`` (the best a large, modern data centre reaches) to the industry average
    (Uptime Institute 2024: 1.56), taken as an 80 % interval, centred on their geometric
    mean (1.30 with today's table)."""
    import re

    rows = {p: r for p, r in _pue_rows().items() if p != "unknown"}
    best = min(rows, key=lambda p: float(rows[p]["pue"]))
    low, row, ref = float(rows[best]["pue"]), rows[best], _pue_rows()["unknown"]
    high = float(ref["pue"])

    def brief(source: str) -> str:
        return re.split(r",|;| \(", source, maxsplit=1)[0].strip()

    return PueBand(
        median=sqrt(low * high),
        low=low,
        high=high,
        source=(
            f"{low:g}: {best}'s fleet average, the lowest published ({brief(row['source'])}, "
            f"{row['year']}); {high:g}: the industry average ({brief(ref['source'])})"
        ),
    )


def resolve_pue(pue: float | None, location: Location) -> tuple[float, str]:
    """The PUE to apply and where it comes from.

    * ``pue`` given: validated, ``(pue, "argument")``;
    * on a known cloud (``location.cloud_provider``): the provider's published average;
    * otherwise ``(1.0, "assumed 1.0: ...")``, saying how to set the real figure.
    """
    if pue is not None:
        return validate_pue(pue), "argument"
    provider = location.cloud_provider
    if provider:
        known = provider_pue(provider)
        if known is not None:
            value, citation = known
            return value, f"{provider} average PUE {value} ({citation})"
    ref, _ = reference_pue()
    where = (
        f"on {provider}, which has no published PUE in carbonledger's table"
        if provider
        else ("not on a known cloud")
    )
    return 1.0, (
        f"assumed 1.0: not measured ({where}); pass pue= or set CARBONLEDGER_PUE to your "
        f"facility's figure (industry average {ref}, Uptime Institute 2024)"
    )
