"""Forecast a whole run's energy and CO2e from its first measured windows (epochs, steps).

With ``n`` windows measured out of ``N``::

    used windows    all of them; without the first (warm-up: compilation, cache fills)
                    once there are at least 3
    per window      m = mean energy of the used windows (k of them)
    spread          s^2 = (nu0 (cv0 m)^2 + (k - 1) s_obs^2) / (nu0 + k - 1)
                    a prior of cv0 = 20% between windows, worth nu0 = 1 window, pooled with
                    the observed variance: one window gives a wide but finite interval
    remaining       r = N - n windows, predicted r m
    80% interval    r m +- sqrt( (t s sqrt(r + r^2 / k))^2 + (z drift)^2 )
                    t: Student's t(0.9) on nu0 + k - 1 degrees of freedom; r s^2 is the
                    windows' own variation, r^2 s^2 / k the uncertainty of the mean
    drift           with k >= 3, the least-squares trend b of energy per window; the part of
                    |b| beyond its 80% significance level t(0.9, k - 2) se_b, carried over
                    the remaining windows: excess (r (x_last - x_mean) + r (r + 1) / 2)
    total           measured energy of all n windows + remaining

CO2e = energy x PUE x grid intensity. The interval narrows as windows accrue: k grows, r
shrinks, and t falls towards the normal quantile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.accounting import co2e_range_g
from carbonledger.errors import InputError
from carbonledger.predict._check import positive, positive_int
from carbonledger.predict._stats import Z80, t90
from carbonledger.units import j_to_kwh

__all__ = ["PRIOR_CV", "PRIOR_WEIGHT", "Forecast", "forecast"]

#: prior relative spread of the energy of one window around the run's mean
PRIOR_CV = 0.2
#: how many windows' worth of evidence that prior counts for
PRIOR_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class Forecast:
    """The whole run's predicted energy (IT energy, joules) and CO2e (grams, PUE included),
    with an 80% interval; ``duration_s`` the predicted wall-clock duration."""

    energy_j: float
    energy_low_j: float
    energy_high_j: float
    co2e_g: float
    co2e_low_g: float
    co2e_high_g: float
    duration_s: float
    duration_low_s: float
    duration_high_s: float
    windows_done: int
    windows_total: int
    #: energy measured so far (all done windows)
    energy_done_j: float
    #: mean energy per window used for the prediction
    energy_per_window_j: float
    #: the first window was left out as warm-up
    warmup_excluded: bool
    intensity_g_per_kwh: float
    pue: float

    @property
    def interval_j(self) -> tuple[float, float]:
        return (self.energy_low_j, self.energy_high_j)

    @property
    def fraction_done(self) -> float:
        return self.windows_done / self.windows_total

    def to_dict(self) -> dict[str, Any]:
        return {
            "energy_j": self.energy_j,
            "energy_low_j": self.energy_low_j,
            "energy_high_j": self.energy_high_j,
            "energy_kwh": j_to_kwh(self.energy_j),
            "co2e_g": self.co2e_g,
            "co2e_low_g": self.co2e_low_g,
            "co2e_high_g": self.co2e_high_g,
            "duration_s": self.duration_s,
            "duration_low_s": self.duration_low_s,
            "duration_high_s": self.duration_high_s,
            "windows_done": self.windows_done,
            "windows_total": self.windows_total,
            "energy_done_j": self.energy_done_j,
            "energy_per_window_j": self.energy_per_window_j,
            "warmup_excluded": self.warmup_excluded,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "pue": self.pue,
            "interval_level": 0.8,
        }


def _remaining(values: Sequence[float], r: int, x_last: float) -> tuple[float, float]:
    """Predicted sum of the next ``r`` values and its 80% half-width."""
    k = len(values)
    m = sum(values) / k
    if r == 0:
        return 0.0, 0.0
    ss = sum((v - m) ** 2 for v in values)
    s2 = (PRIOR_WEIGHT * (PRIOR_CV * m) ** 2 + ss) / (PRIOR_WEIGHT + k - 1)
    t = t90(PRIOR_WEIGHT + k - 1)
    noise = t * math.sqrt(s2 * (r + r * r / k))
    drift = 0.0
    if k >= 3:
        xs = list(range(k))
        xm = sum(xs) / k
        sxx = sum((x - xm) ** 2 for x in xs)
        b = sum((x - xm) * (v - m) for x, v in zip(xs, values, strict=True)) / sxx
        resid = sum((v - m - b * (x - xm)) ** 2 for x, v in zip(xs, values, strict=True))
        se_b = math.sqrt(resid / (k - 2) / sxx) if k > 2 else 0.0
        excess = max(0.0, abs(b) - t90(k - 2) * se_b)
        drift = excess * (r * (x_last - xm) + r * (r + 1) / 2)
    return r * m, math.hypot(noise, Z80 * drift)


def forecast(
    window_energies_j: Sequence[float],
    window_durations_s: Sequence[float],
    total_windows: int,
    *,
    intensity_g_per_kwh: float,
    pue: float = 1.0,
    exclude_warmup: bool | None = None,
) -> Forecast:
    """Forecast the whole run from the windows measured so far (see the module doc).

    ``window_energies_j[i]`` and ``window_durations_s[i]`` are the energy and duration of
    the i-th finished window, in order; ``total_windows`` how many the run will have.
    ``exclude_warmup`` leaves the first window out of the per-window mean (default: when
    3 or more windows are done).
    """
    energies = [positive(e, "window energy (J)", inclusive=True) for e in window_energies_j]
    durations = [positive(d, "window duration (s)", inclusive=True) for d in window_durations_s]
    if len(energies) != len(durations):
        raise InputError(
            f"{len(energies)} window energies but {len(durations)} durations: give one of each per window"
        )
    n = len(energies)
    if n == 0:
        raise InputError("no finished window yet: a forecast needs at least one measured window")
    total = positive_int(total_windows, "total_windows")
    if total < n:
        raise InputError(f"total_windows ({total}) is smaller than the windows already done ({n})")
    grid = positive(intensity_g_per_kwh, "intensity_g_per_kwh", inclusive=True)
    pue_v = positive(pue, "pue", minimum=1.0, inclusive=True)

    drop = (n >= 3) if exclude_warmup is None else (bool(exclude_warmup) and n >= 2)
    start = 1 if drop else 0
    used_e, used_d = energies[start:], durations[start:]
    r = total - n
    x_last = float(n - 1 - start)
    rem_e, hw_e = _remaining(used_e, r, x_last)
    rem_d, hw_d = _remaining(used_d, r, x_last)
    done_e, done_d = sum(energies), sum(durations)

    e, e_lo, e_hi = done_e + rem_e, done_e + max(0.0, rem_e - hw_e), done_e + rem_e + hw_e
    d, d_lo, d_hi = done_d + rem_d, done_d + max(0.0, rem_d - hw_d), done_d + rem_d + hw_d
    co2e = co2e_range_g(e, e_lo, e_hi, pue=pue_v, intensity_g_per_kwh=grid)
    return Forecast(
        energy_j=e,
        energy_low_j=e_lo,
        energy_high_j=e_hi,
        co2e_g=co2e.co2e_g,
        co2e_low_g=co2e.low_g,
        co2e_high_g=co2e.high_g,
        duration_s=d,
        duration_low_s=d_lo,
        duration_high_s=d_hi,
        windows_done=n,
        windows_total=total,
        energy_done_j=done_e,
        energy_per_window_j=sum(used_e) / len(used_e),
        warmup_excluded=drop,
        intensity_g_per_kwh=grid,
        pue=pue_v,
    )
