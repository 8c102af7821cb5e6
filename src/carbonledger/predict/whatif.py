"""What-if: the same run in the lowest-carbon places, or on other accelerators."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from carbonledger.errors import InputError
from carbonledger.predict.estimate import Estimate, training

__all__ = ["MEASURED_FACTS", "RegionRow", "compare_accelerators", "compare_regions"]

#: training() arguments that describe one hardware set-up and do not carry to another
MEASURED_FACTS = ("device_hours", "mfu", "avg_power_w")


@dataclass(frozen=True, slots=True)
class RegionRow:
    """The run's operational CO2e under one zone's grid intensity (PUE unchanged)."""

    code: str
    name: str
    kind: str
    intensity_g_per_kwh: float
    year: int
    source: str
    co2e_t: float
    co2e_t_low: float
    co2e_t_high: float
    total_t: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "year": self.year,
            "source": self.source,
            "operational_tco2e": self.co2e_t,
            "operational_tco2e_low": self.co2e_t_low,
            "operational_tco2e_high": self.co2e_t_high,
            "total_tco2e": self.total_t,
        }


def compare_regions(
    estimate: Estimate, *, top: int = 5, kinds: Iterable[str] = ("country", "cloud")
) -> list[RegionRow]:
    """The ``top`` lowest-carbon zones of each kind (countries, cloud regions; from the
    carbon tables), each with this run's operational CO2e there."""
    from carbonledger.carbon import list_zones
    from carbonledger.carbon.zones import lowest_intensity_first

    if top < 1:
        raise InputError(f"top must be >= 1; got {top}")
    rows: list[RegionRow] = []
    for kind in kinds:
        for z in lowest_intensity_first(list_zones(kind))[:top]:
            e = estimate.with_grid(z.intensity_g_per_kwh, z.code)
            rows.append(
                RegionRow(
                    code=z.code,
                    name=z.name,
                    kind=z.kind,
                    intensity_g_per_kwh=z.intensity_g_per_kwh,
                    year=z.year,
                    source=z.source,
                    co2e_t=e.co2e_t,
                    co2e_t_low=e.co2e_t_low,
                    co2e_t_high=e.co2e_t_high,
                    total_t=e.total_t,
                )
            )
    return rows


def compare_accelerators(names: Sequence[str], **training_kwargs: Any) -> list[Estimate]:
    """The same run (``training_kwargs`` of :func:`training`) on each accelerator of
    ``names``. Measured facts (device-hours, MFU, power) belong to the original hardware:
    they are dropped, and the estimates say so."""
    if not names:
        raise InputError("give at least one accelerator to compare, e.g. A100,H100,TPUv4")
    base = {k: v for k, v in training_kwargs.items() if k not in ("accelerator", *MEASURED_FACTS)}
    dropped = [k for k in MEASURED_FACTS if training_kwargs.get(k) is not None]
    out = []
    for name in names:
        est = training(accelerator=name.strip(), **base)
        if dropped:
            note = f"{', '.join(dropped)} of the original hardware not carried over: priors used"
            est = replace(est, assumptions=(*est.assumptions, note))
        out.append(est)
    return out
