"""Advice: the two or three changes that would cut a run's CO2e most, from its own numbers.

Each :class:`Advice` is an estimate with a range, computed from the run's measured energy:

* **region**: the same IT energy (range from the run's energy range) x the other cloud
  region's provider PUE x its yearly grid intensity, from the one region ranking
  (:func:`~carbonledger.report.regions.rank_regions_for_run`, as ``where`` and the
  dashboard give it), preferring a region in the same geography when the run ran in a
  cloud region.
* **start hour**: the run's energy at the lowest time-weighted mean intensity over its
  duration among starts within 12 h either side of its real start, from an hourly series
  (``hourly_g_per_kwh``, or ``provider.hourly`` for the run's zone); the range is from
  the run's energy range.
* **accelerator**: the GPUs' energy rescaled to a catalogue accelerator with more peak
  FLOP per TDP watt (:mod:`carbonledger.predict.hardware`) and at least as much memory,
  assuming the same utilisation and share of TDP; CPU and memory energy scale with the
  shorter wall time (same FLOP at a higher peak). Range: +-30 % on the new GPU energy,
  for achieved utilisation differing between generations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from carbonledger.accounting import co2e_g

if TYPE_CHECKING:
    from carbonledger.models import RunSummary
    from carbonledger.predict import Accelerator

__all__ = ["Advice", "advise", "format_advice"]

AdviceKind = Literal["region", "start_hour", "accelerator"]
#: relative half-width assumed on an accelerator swap's GPU energy
ACCELERATOR_SPREAD = 0.3
SHIFT_WINDOW_S = 12 * 3600


@dataclass(frozen=True)
class Advice:
    """One change and its expected effect on the run's operational CO2e (grams; an
    estimate with an 80 %-style range, low..high, of the CO2e *after* the change)."""

    kind: AdviceKind
    change: str
    co2e_now_g: float
    co2e_after_g: float
    co2e_after_low_g: float
    co2e_after_high_g: float
    method: str

    @property
    def saving_g(self) -> float:
        return self.co2e_now_g - self.co2e_after_g

    @property
    def saving_fraction(self) -> float:
        return self.saving_g / self.co2e_now_g if self.co2e_now_g > 0 else 0.0

    def describe(self) -> str:
        """``"run in gcp:europe-north1: ~410 g CO2e instead of 2.30 kg (-82%; estimate
        330 – 490 g)"`` (masses scaled to their size, 3 significant figures; the range
        collapses to one figure when its ends print the same)."""
        from carbonledger.report import format as fmt

        rng = fmt.span(self.co2e_after_low_g, self.co2e_after_high_g, fmt.mass)
        return (
            f"{self.change}: ~{fmt.mass(self.co2e_after_g)} CO2e instead of "
            f"{fmt.mass(self.co2e_now_g)} (-{self.saving_fraction:.0%}"
            + (f"; estimate {rng})" if fmt.RANGE_SEP in rng else ")")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "change": self.change,
            "co2e_now_g": self.co2e_now_g,
            "co2e_after_g": self.co2e_after_g,
            "co2e_after_low_g": self.co2e_after_low_g,
            "co2e_after_high_g": self.co2e_after_high_g,
            "saving_g": self.saving_g,
            "saving_fraction": self.saving_fraction,
            "method": self.method,
            "estimated": True,
        }


def advise(
    summary: RunSummary,
    *,
    hourly_g_per_kwh: Mapping[int, float] | None = None,
    provider: Any | None = None,
    clouds: tuple[str, ...] | None = None,
    limit: int = 3,
) -> list[Advice]:
    """Up to ``limit`` changes that would cut ``summary``'s operational CO2e most, largest
    saving first; only changes expected to save something. ``hourly_g_per_kwh``
    (``{hour_start_unix_s: g_per_kwh}`` around the run) or ``provider`` (an hourly
    intensity provider) enables the start-hour advice; without them it is left out."""
    now_g = summary.co2e_g
    if not (summary.energy_j > 0 and now_g > 0):
        return []
    found = [
        _region(summary, clouds),
        _start_hour(summary, hourly_g_per_kwh, provider),
        _accelerator(summary),
    ]
    useful = [a for a in found if a is not None and a.saving_g > 0]
    useful.sort(key=lambda a: -a.saving_g)
    return useful[: max(0, limit)]


def _region(summary: RunSummary, clouds: tuple[str, ...] | None) -> Advice | None:
    from carbonledger.errors import CarbonLedgerError
    from carbonledger.report import format as fmt
    from carbonledger.report.regions import CLOUDS, rank_regions_for_run

    near = summary.location if ":" in summary.location else None
    chosen = clouds or CLOUDS
    try:
        options = rank_regions_for_run(summary, clouds=chosen, countries=False, near=near)
    except CarbonLedgerError:
        options = []
    if not options and near:
        options = rank_regions_for_run(summary, clouds=chosen, countries=False)
    options = [o for o in options if o.code != summary.location]
    if not options:
        return None
    best = options[0]
    where = " (same geography)" if near else ""
    cfe = f", {best.cfe_share:.0%} carbon-free energy" if best.cfe_share is not None else ""
    return Advice(
        kind="region",
        change=f"run in {best.code}{where}",
        co2e_now_g=summary.co2e_g,
        co2e_after_g=best.co2e_g,
        co2e_after_low_g=best.co2e_low_g,
        co2e_after_high_g=best.co2e_high_g,
        method=(
            f"this run's {fmt.energy(summary.energy_j)} x PUE {fmt.pue(best.pue)} x "
            f"{fmt.intensity(best.intensity_g_per_kwh)} ({best.intensity_year} yearly grid "
            f"figure{cfe})"
        ),
    )


def _start_hour(
    summary: RunSummary, hourly: Mapping[int, float] | None, provider: Any | None
) -> Advice | None:
    from carbonledger.errors import CarbonLedgerError
    from carbonledger.reduce.scheduling import HOUR_S, mean_intensity

    start, duration_s = summary.started_unix_s, summary.duration_s
    if duration_s <= 0:
        return None
    if hourly is None and provider is not None:
        try:
            hourly = provider.hourly(
                _grid_zone(summary.location),
                start - SHIFT_WINDOW_S,
                start + duration_s + SHIFT_WINDOW_S,
            )
        except (CarbonLedgerError, OSError, ValueError):  # advice is optional: left out
            return None
    if not hourly:
        return None
    actual = mean_intensity(hourly, start, duration_s)
    if actual is None or actual <= 0:
        return None
    best: tuple[float, float] | None = None
    first = math.floor((start - SHIFT_WINDOW_S) / HOUR_S) * HOUR_S
    for candidate in range(first, int(start + SHIFT_WINDOW_S) + 1, HOUR_S):
        value = mean_intensity(hourly, float(candidate), duration_s)
        if value is not None and (best is None or value < best[1]):
            best = (float(candidate), value)
    if best is None or best[1] >= actual:
        return None
    # the run's own CO2e scaled by the intensity ratio (keeps its PUE and energy range)
    ratio = best[1] / actual
    from datetime import datetime, timezone

    hour = datetime.fromtimestamp(best[0], tz=timezone.utc).strftime("%H:00 UTC")
    return Advice(
        kind="start_hour",
        change=f"start at {hour}",
        co2e_now_g=summary.co2e_g,
        co2e_after_g=summary.co2e_g * ratio,
        co2e_after_low_g=summary.co2e_low_g * ratio,
        co2e_after_high_g=summary.co2e_high_g * ratio,
        method=(
            f"mean hourly intensity over the run's {duration_s / 3600:.2g} h: {best[1]:.0f} "
            f"gCO2e/kWh from {hour} vs {actual:.0f} when it ran (same day's hourly figures)"
        ),
    )


def _accelerator(summary: RunSummary) -> Advice | None:
    from carbonledger.errors import CarbonLedgerError
    from carbonledger.predict import accelerator, list_accelerators

    gpus = [c for c in summary.components if c.component == "gpu" and c.energy_j > 0]
    if not gpus:
        return None
    name = gpus[0].model or gpus[0].device
    try:
        current = accelerator(name)
    except CarbonLedgerError:
        return None
    better = [
        a
        for a in list_accelerators()
        if a.kind == current.kind
        and a.memory_gb >= current.memory_gb
        and _efficiency(a) > _efficiency(current)
    ]
    if not better:
        return None
    best = max(better, key=_efficiency)
    gpu_j = sum(c.energy_j for c in gpus)
    other_j = summary.energy_j - gpu_j
    energy_ratio = _efficiency(current) / _efficiency(best)
    time_ratio = current.peak_flops / best.peak_flops

    def co2e(spread: float) -> float:
        energy_j = gpu_j * energy_ratio * (1 + spread) + other_j * time_ratio
        return co2e_g(energy_j, pue=summary.pue, intensity_g_per_kwh=summary.intensity_g_per_kwh)

    return Advice(
        kind="accelerator",
        change=f"use {best.name} instead of {current.name}",
        co2e_now_g=summary.co2e_g,
        co2e_after_g=co2e(0.0),
        co2e_after_low_g=co2e(-ACCELERATOR_SPREAD),
        co2e_after_high_g=co2e(ACCELERATOR_SPREAD),
        method=(
            f"GPU energy x {energy_ratio:.2f} (peak FLOP per TDP watt: "
            f"{_efficiency(best):.3g} vs {_efficiency(current):.3g} TFLOP/s per kW), CPU and "
            f"memory energy x {time_ratio:.2f} (shorter run); same utilisation assumed, "
            f"+-{ACCELERATOR_SPREAD:.0%} on GPU energy"
        ),
    )


def _efficiency(a: Accelerator) -> float:
    """Dense peak TFLOP/s per kW of TDP."""
    return a.peak_tflops / a.tdp_w * 1e3


def _grid_zone(location: str) -> str:
    """The grid zone of a run's location (a cloud region's grid, else the location)."""
    from carbonledger.carbon import intensity
    from carbonledger.errors import CarbonLedgerError

    try:
        zone = intensity(location)
    except CarbonLedgerError:
        return location
    return zone.grid_zone or zone.code


def format_advice(advice: list[Advice]) -> list[str]:
    """Text lines for ``show`` and reports: a heading and one line per change, or none."""
    if not advice:
        return []
    lines = ["To cut this run's CO2e (estimates, from its own numbers):"]
    lines += [f"  - {a.describe()}" for a in advice]
    return lines
