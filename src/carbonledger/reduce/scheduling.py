"""When to start: the start in a window with the lowest expected CO2e for a job's length.

Method: for every candidate start (now, then each hour boundary up to ``now + within``),
the job's expected intensity is the time-weighted mean of the forecast over the hours it
would run, ``sum(overlap_s x g_per_kwh) / duration_s``, with the job's power taken as
constant. The candidate with the lowest mean wins; a candidate whose hours the forecast
does not cover is skipped. With an energy (kWh), CO2e = energy x PUE x mean intensity.

When no forecast can be had (no provider for the zone, the provider failed or timed out,
or the forecast does not cover the job from now), the plan is "start now", with the
reason stated; nothing is guessed.

No terminal I/O: the plan explains itself (:meth:`StartPlan.explain`), and waiting for the
start (:func:`wait_for_start`) asks the caller's ``choose`` what to do on Ctrl-C; the
command line prints and asks. The providers and the one that is chosen for a zone live in
:mod:`carbonledger.carbon.providers`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carbonledger.accounting import co2e_g
from carbonledger.errors import CarbonLedgerError, InputError
from carbonledger.units import iso_utc, kwh_to_j

if TYPE_CHECKING:
    from carbonledger.carbon.providers import IntensityForecast

__all__ = [
    "StartPlan",
    "job_from_estimate",
    "mean_intensity",
    "parse_duration_s",
    "plan_for_place",
    "plan_start",
    "realised_saving",
    "schedule_tags",
    "wait_for_start",
]

HOUR_S = 3600
#: the longest window and job a plan considers (seconds): forecasts reach 2-4 days at most
MAX_SPAN_S = 7 * 24 * HOUR_S


def mean_intensity(
    hours: Mapping[int, float], start_unix_s: float, duration_s: float
) -> float | None:
    """Time-weighted mean intensity (gCO2e/kWh) of ``hours`` (``{hour_start_unix_s:
    g_per_kwh}``) over ``[start_unix_s, start_unix_s + duration_s)``, or None when an
    hour of that span is missing."""
    if duration_s <= 0:
        raise InputError(f"duration must be > 0 seconds, got {duration_s!r}")
    end = start_unix_s + duration_s
    total = 0.0
    hour = math.floor(start_unix_s / HOUR_S) * HOUR_S
    while hour < end:
        value = hours.get(hour)
        if value is None:
            return None
        overlap_s = min(end, hour + HOUR_S) - max(start_unix_s, hour)
        total += overlap_s * value
        hour += HOUR_S
    return total / duration_s


@dataclass(frozen=True)
class StartPlan:
    """The chosen start and what it is expected to save against starting now.

    Intensities are time-weighted means over the job's hours (gCO2e/kWh); CO2e figures
    (grams, energy x PUE x mean intensity) are set only when an energy was given. They are
    estimates from a forecast: the realised figure depends on the grid and the job.
    """

    zone: str
    now_unix_s: float
    start_unix_s: float
    duration_s: float
    within_s: float
    source: str
    intensity_now_g_per_kwh: float | None = None
    intensity_at_start_g_per_kwh: float | None = None
    energy_kwh: float | None = None
    pue: float = 1.0
    forecast_issued_unix_s: float | None = None
    forecast_from_cache: bool = False
    candidates: int = 0
    fallback_reason: str = ""
    #: (start_unix_s, mean g/kWh) of every candidate evaluated, in time order
    profile: tuple[tuple[float, float], ...] = field(default=(), repr=False)

    @property
    def fallback_used(self) -> bool:
        """True when the plan is "start now" for want of a forecast."""
        return bool(self.fallback_reason)

    @property
    def delay_s(self) -> float:
        return max(0.0, self.start_unix_s - self.now_unix_s)

    def _co2e_g(self, g_per_kwh: float | None) -> float | None:
        if g_per_kwh is None or self.energy_kwh is None:
            return None
        return co2e_g(kwh_to_j(self.energy_kwh), pue=self.pue, intensity_g_per_kwh=g_per_kwh)

    @property
    def co2e_now_g(self) -> float | None:
        return self._co2e_g(self.intensity_now_g_per_kwh)

    @property
    def co2e_at_start_g(self) -> float | None:
        return self._co2e_g(self.intensity_at_start_g_per_kwh)

    @property
    def saving_fraction(self) -> float | None:
        """Expected relative cut against starting now (0.25 = 25 % less), or None."""
        now, best = self.intensity_now_g_per_kwh, self.intensity_at_start_g_per_kwh
        if now is None or best is None or now <= 0:
            return None
        return (now - best) / now

    def forecast_age_s(self) -> float | None:
        if self.forecast_issued_unix_s is None:
            return None
        return max(0.0, self.now_unix_s - self.forecast_issued_unix_s)

    def explain(self) -> str:
        """One or two sentences: when the job starts and why."""
        if self.fallback_used:
            return f"starting now: {self.fallback_reason}"
        when = iso_utc(self.start_unix_s)
        now, best = self.intensity_now_g_per_kwh, self.intensity_at_start_g_per_kwh
        saving = self.saving_fraction
        if now is None and best is not None:
            return (
                f"starting at {when} (in {self.delay_s / 3600:.1f} h): expected {best:.0f} "
                f"gCO2e/kWh over the job's {self.duration_s / 3600:g} h, the lowest of the "
                f"starts the forecast covers (it does not cover a start now, so the saving "
                f"against now is unknown; forecast: {self.source})"
            )
        if self.delay_s <= 0:
            return (
                f"starting now: no start in the next {self.within_s / 3600:g} h is expected "
                f"to be cleaner ({best:.0f} gCO2e/kWh over the job, {self.source})"
            )
        assert now is not None and best is not None and saving is not None
        return (
            f"starting at {when} (in {self.delay_s / 3600:.1f} h): expected {best:.0f} "
            f"gCO2e/kWh over the job's {self.duration_s / 3600:g} h vs {now:.0f} if started "
            f"now ({saving:.0%} less; forecast: {self.source})"
        )

    def to_dict(self) -> dict[str, Any]:
        age = self.forecast_age_s()
        return {
            "zone": self.zone,
            "now": iso_utc(self.now_unix_s),
            "start": iso_utc(self.start_unix_s),
            "start_unix_s": self.start_unix_s,
            "delay_s": self.delay_s,
            "duration_s": self.duration_s,
            "within_s": self.within_s,
            "intensity_now_g_per_kwh": self.intensity_now_g_per_kwh,
            "intensity_at_start_g_per_kwh": self.intensity_at_start_g_per_kwh,
            "saving_fraction": self.saving_fraction,
            "energy_kwh": self.energy_kwh,
            "pue": self.pue,
            "co2e_now_g": self.co2e_now_g,
            "co2e_at_start_g": self.co2e_at_start_g,
            "source": self.source,
            "forecast_issued": None
            if self.forecast_issued_unix_s is None
            else iso_utc(self.forecast_issued_unix_s),
            "forecast_age_s": age,
            "forecast_from_cache": self.forecast_from_cache,
            "candidates": self.candidates,
            "fallback_used": self.fallback_used,
            "fallback_reason": self.fallback_reason,
            "method": "expected",
        }


def _check_span(name: str, seconds: float, allow_zero: bool) -> float:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number of seconds, got {seconds!r}") from None
    low_ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and low_ok and value <= MAX_SPAN_S):
        raise InputError(
            f"{name} must be {'>= 0' if allow_zero else '> 0'} and at most 7 days "
            f"({MAX_SPAN_S} s), got {seconds!r}"
        )
    return value


def plan_start(
    zone: str,
    duration_s: float,
    within_s: float,
    provider: Any | None,
    *,
    energy_kwh: float | None = None,
    pue: float = 1.0,
    now_unix_s: float | None = None,
) -> StartPlan:
    """The start in ``[now, now + within_s]`` with the lowest expected intensity for a job
    of ``duration_s`` in grid ``zone`` (a zone code the provider knows: ``GB``, ``FR``...),
    from ``provider.forecast(zone, start, end, now_unix_s=now)`` (any carbonledger
    intensity provider).
    ``energy_kwh`` (IT energy) and ``pue`` turn intensities into grams. Never raises for
    a provider failure: the plan is then "start now" with the reason."""
    duration_s = _check_span("duration", duration_s, allow_zero=False)
    within_s = _check_span("within", within_s, allow_zero=True)
    if energy_kwh is not None and not (math.isfinite(energy_kwh) and energy_kwh >= 0):
        raise InputError(f"energy must be a number of kWh >= 0, got {energy_kwh!r}")
    now = time.time() if now_unix_s is None else float(now_unix_s)
    base = StartPlan(zone, now, now, duration_s, within_s, "none", energy_kwh=energy_kwh, pue=pue)

    def fallback(reason: str) -> StartPlan:
        return _replace(base, fallback_reason=reason)

    if provider is None or not hasattr(provider, "forecast"):
        return fallback(f"no forecast provider for zone {zone}")
    name = str(getattr(provider, "name", type(provider).__name__))
    try:
        forecast: IntensityForecast = provider.forecast(
            zone, now, now + within_s + duration_s, now_unix_s=now
        )
    except (CarbonLedgerError, OSError, ValueError) as exc:
        detail = str(exc)
        if detail.startswith(name):  # the provider's message starts with its name: once
            detail = detail[len(name) :].lstrip(": ")
        return fallback(f"{name} gave no forecast ({detail})")
    hours = dict(forecast.hours)
    candidates = [now] + [
        float(h)
        for h in range(math.floor(now / HOUR_S) * HOUR_S + HOUR_S, int(now + within_s) + 1, HOUR_S)
    ]
    profile = []
    for start in candidates:
        value = mean_intensity(hours, start, duration_s)
        if value is not None:
            profile.append((start, value))
    base = _replace(
        base,
        source=forecast.source,
        forecast_issued_unix_s=forecast.issued_unix_s,
        forecast_from_cache=forecast.from_cache,
        candidates=len(profile),
        profile=tuple(profile),
    )
    if not profile:
        covered = f"{iso_utc(forecast.hours[0][0])}..{iso_utc(forecast.hours[-1][0] + HOUR_S)}"
        return fallback(
            f"the {forecast.source} ({covered}) does not cover a {duration_s / 3600:g} h job "
            f"from now or from any hour in the next {within_s / 3600:g} h"
        )
    # candidates the forecast does not cover were skipped: now among them, when the
    # forecast starts at the next hour (the expected intensity now is then unknown)
    best_start, best = min(profile, key=lambda p: (p[1], p[0]))
    return _replace(
        base,
        start_unix_s=best_start,
        intensity_now_g_per_kwh=profile[0][1] if profile[0][0] == now else None,
        intensity_at_start_g_per_kwh=best,
    )


def _replace(plan: StartPlan, **changes: Any) -> StartPlan:
    import dataclasses

    return dataclasses.replace(plan, **changes)


def wait_for_start(
    plan: StartPlan,
    *,
    choose: Callable[[], str],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> tuple[float | None, dict[str, Any]]:
    """Wait until ``plan.start_unix_s`` (say why first: :meth:`StartPlan.explain`).

    Ctrl-C while waiting calls ``choose()`` (the command line asks on the terminal), which
    answers ``"now"`` (start at once) or anything else (quit). Returns
    ``(started_unix_s, record)``, with ``started_unix_s`` None when the user quit;
    ``record`` (JSON-able) is the plan plus ``choice`` (``"waited"``, ``"now"``: started
    early by the user, ``"immediate"``: no wait was needed, ``"quit"``) for the run's
    metadata under ``"schedule"``.
    """
    record = plan.to_dict()
    if plan.delay_s <= 0:
        record.update(choice="immediate", started=iso_utc(clock()), started_unix_s=clock())
        return record["started_unix_s"], record
    choice = "waited"
    try:
        while (left := plan.start_unix_s - clock()) > 0:
            sleep(min(left, 60.0))
    except KeyboardInterrupt:
        choice = "now" if choose() == "now" else "quit"
    started = clock()
    record.update(choice=choice)
    if choice == "quit":
        return None, record
    record.update(started=iso_utc(started), started_unix_s=started)
    return started, record


def realised_saving(
    record: Mapping[str, Any],
    provider: Any | None,
    *,
    started_unix_s: float,
    duration_s: float,
    energy_kwh: float,
    pue: float = 1.0,
) -> dict[str, Any]:
    """The saving realised by the chosen start, from the provider's *actual* hourly figures
    (``provider.hourly``) for the hours the job ran and for the same length from the time
    it was planned: ``{"realised_saving_g", "intensity_ran_g_per_kwh",
    "intensity_if_now_g_per_kwh", "method"}``; when the provider cannot give both, the
    saving stays unknown (None) and ``reason`` says why."""
    out: dict[str, Any] = {
        "realised_saving_g": None,
        "expected_saving_g": None,
        "method": "provider hourly actuals",
    }
    if record.get("co2e_now_g") is not None and record.get("co2e_at_start_g") is not None:
        out["expected_saving_g"] = record["co2e_now_g"] - record["co2e_at_start_g"]
    planned_at = float(record.get("start_unix_s", started_unix_s)) - float(
        record.get("delay_s", 0.0)
    )
    if provider is None or duration_s <= 0:
        out["reason"] = "no hourly provider (or no duration) to compare with"
        return out
    try:
        ran = provider.hourly(str(record["zone"]), started_unix_s, started_unix_s + duration_s)
        then = provider.hourly(str(record["zone"]), planned_at, planned_at + duration_s)
    except (CarbonLedgerError, OSError, ValueError, KeyError) as exc:
        out["reason"] = f"the provider gave no actual figures ({exc})"
        return out
    ran_g = mean_intensity(ran, started_unix_s, duration_s)
    then_g = mean_intensity(then, planned_at, duration_s)
    if ran_g is None or then_g is None:
        out["reason"] = "the provider lacks some of the hours compared"
        return out
    energy_j = kwh_to_j(energy_kwh)
    out.update(
        intensity_ran_g_per_kwh=ran_g,
        intensity_if_now_g_per_kwh=then_g,
        realised_saving_g=co2e_g(energy_j, pue=pue, intensity_g_per_kwh=then_g)
        - co2e_g(energy_j, pue=pue, intensity_g_per_kwh=ran_g),
    )
    return out


def parse_duration_s(text: str, what: str = "duration", *, allow_zero: bool = False) -> float:
    """``"6h"``, ``"90m"``, ``"1.5d"``, ``"3600s"`` or ``"3600"`` (seconds) -> seconds
    (:func:`carbonledger._inputs.duration_s`: > 0, or >= 0 with ``allow_zero``, at most ten
    years)."""
    from carbonledger._inputs import duration_s

    return duration_s(text, what, allow_zero=allow_zero)


def plan_for_place(
    place: str | None,
    within_s: float,
    duration_s: float,
    *,
    energy_kwh: float | None = None,
    forecast_file: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 3.0,
    now_unix_s: float | None = None,
) -> StartPlan:
    """:func:`plan_start` for ``place`` (a country, grid zone or cloud region; None: start
    now, said so): the forecast of its grid zone from the provider
    :func:`~carbonledger.carbon.providers.chooser.forecast_provider` picks (``forecast_file``,
    ``env``, ``timeout_s`` seconds for the whole call), and the PUE of its cloud provider
    (a grid zone: 1, no facility assumed). The plan says why it starts now when no
    provider serves the zone."""
    from carbonledger._inputs import timeout_s as check_timeout
    from carbonledger.carbon import intensity, provider_pue
    from carbonledger.carbon.providers import forecast_provider

    check_timeout(timeout_s, "timeout_s")
    if place is None and forecast_file:  # the file's rows without a zone
        provider, _ = forecast_provider("", forecast_file=forecast_file)
        return plan_start(
            "", duration_s, within_s, provider, energy_kwh=energy_kwh, now_unix_s=now_unix_s
        )
    if place is None:
        plan = plan_start("?", duration_s, within_s, None, now_unix_s=now_unix_s)
        return _replace(plan, zone="", fallback_reason="no --country/--region to forecast for")
    zone = intensity(place)
    grid = zone.grid_zone or zone.code
    pue = (provider_pue(zone.provider) or (1.0, ""))[0] if zone.kind == "cloud" else 1.0
    provider, why = forecast_provider(
        grid, forecast_file=forecast_file, env=env, timeout_s=timeout_s
    )
    plan = plan_start(
        grid, duration_s, within_s, provider, energy_kwh=energy_kwh, pue=pue,
        now_unix_s=now_unix_s,
    )  # fmt: skip
    if provider is None:
        plan = _replace(plan, fallback_reason=why)  # the fuller reason
    return plan


def schedule_tags(record: Mapping[str, Any]) -> dict[str, str]:
    """The scheduling record as run tags (``schedule.choice``, ``schedule.start``,
    ``schedule.expected_saving``, ``schedule.source``, ``schedule.reason``)."""
    saving = record.get("saving_fraction")
    tags = {
        "schedule.choice": str(record.get("choice", "")),
        "schedule.start": str(record.get("started") or record.get("start") or ""),
        "schedule.expected_saving": "" if saving is None else f"{saving:.3f}",
        "schedule.source": str(record.get("source", ""))[:200],
        "schedule.reason": str(record.get("fallback_reason", ""))[:200],
    }
    return {k: v for k, v in tags.items() if v}


def job_from_estimate(spec_path: str) -> tuple[float, float]:
    """``(duration_s, it_energy_kwh)`` of the training run a prediction spec describes
    (central values: wall time with every device busy, IT energy = facility / PUE)."""
    from carbonledger.predict import load_spec

    estimate = load_spec(spec_path).training()
    if estimate is None:
        raise InputError(f"{spec_path} describes no training run; give --duration instead")
    return estimate.days * 86400.0, estimate.energy_mwh * 1e3 / estimate.pue
