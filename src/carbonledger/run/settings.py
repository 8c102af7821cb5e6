"""A tracker's settings, resolved once and grouped by concern.

``Tracker(...)`` takes flat keyword arguments (the public API); :func:`resolve` merges them with
the environment and the config files (see :mod:`carbonledger.run.config`), checks them, and returns
three small records: what the run is (:class:`RunSettings`), where its energy turns into CO2e
(:class:`LocationSettings`) and how it is measured (:class:`SamplingSettings`).

Units: seconds, gCO2e/kWh, watts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carbonledger.errors import InputError
from carbonledger.models import check_name_length
from carbonledger.run.config import KEYS, load_settings, setting_origin

__all__ = [
    "MAX_INTERVAL_S",
    "MIN_INTERVAL_S",
    "LocationSettings",
    "RunSettings",
    "SamplingSettings",
    "TrackerSettings",
    "check_interval_s",
    "check_name",
    "resolve",
]

#: the sampler's interval bounds: faster floods the ledger, slower than a day never samples
MIN_INTERVAL_S = 0.01
MAX_INTERVAL_S = 86_400.0
DEFAULT_INTERVAL_S = 1.0
SCOPES = ("process", "machine")


def check_interval_s(value: object, what: str = "interval_s") -> float:
    """``value`` as a sampling interval in seconds, or InputError saying the allowed range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{what} must be a number of seconds, got {value!r}")
    interval_s = float(value)
    if not (math.isfinite(interval_s) and MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S):
        raise InputError(
            f"{what} must be between {MIN_INTERVAL_S:g} s and {MAX_INTERVAL_S:g} s (one day), "
            f"got {value!r}; 1 s suits most runs"
        )
    return interval_s


def check_name(kind: str, value: str) -> str:
    """``value`` when it is a usable name (non-empty, at most :data:`carbonledger.models.MAX_NAME_CHARS`)."""
    if not isinstance(value, str):
        raise InputError(f"{kind} must be a string, got {type(value).__name__}")
    if not value:
        raise InputError(f"{kind} must not be empty")
    check_name_length(value, kind)
    return value


def _intensity(key: str, value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 <= value <= 2000):
        raise InputError(f"{key} must be between 0 and 2000 g/kWh, got {value!r}")
    return value


#: seconds between progress lines by default (a training job's log, a CI log)
DEFAULT_PROGRESS_S = 60.0


def check_progress_s(value: Any) -> float:
    """Seconds between progress lines: 0 (none) or 1 to 86,400."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"progress_s must be a number of seconds, got {value!r}")
    if not (value == 0 or (math.isfinite(value) and 1 <= value <= 86400)):
        raise InputError(
            f"progress_s must be 0 (no progress lines) or 1 to 86400 seconds, got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class RunSettings:
    """What the run is: names, tags, and the run id to join when one was given."""

    project: str = "default"
    experiment: str = "default"
    run_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    expected_epochs: int | None = None
    #: a ledger path or URL from the settings, or None for the default ledger
    ledger: str | None = None


@dataclass(frozen=True)
class LocationSettings:
    """Where the energy is drawn, and the figures that turn it into CO2e."""

    country: str | None = None
    region: str | None = None
    grid_g_per_kwh: float | None = None
    pue: float | None = None
    market_g_per_kwh: float | None = None
    #: None: probe the cloud metadata service when the machine looks like a cloud VM
    probe_cloud: bool | None = None
    ip_geolocation: bool = False
    #: settings from the config files alone (the location resolver weighs them itself)
    file_settings: Mapping[str, Any] = field(default_factory=dict)
    #: the data centre's water usage effectiveness (L per kWh of IT energy) when given
    wue_l_per_kwh: float | None = None
    #: the electricity's price per kWh, and a price per zone (zone code -> price)
    price_per_kwh: float | None = None
    prices: Mapping[str, float] = field(default_factory=dict)
    #: the prices' ISO 4217 currency ("" when not given)
    currency: str = ""
    #: where each of the settings above was given (``"environment CARBONLEDGER_..."``...)
    origins: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SamplingSettings:
    """How the energy is measured."""

    scope: str = "process"
    interval_s: float = DEFAULT_INTERVAL_S
    pid: int = 0
    gpu: bool = True
    #: the CPU's and the RAM's power set by the user (W), instead of a model
    cpu_watts: float | None = None
    ram_watts: float | None = None
    #: a progress line through the "carbonledger" logger every so many seconds (0: none)
    progress_s: float = DEFAULT_PROGRESS_S


@dataclass(frozen=True)
class TrackerSettings:
    run: RunSettings
    location: LocationSettings
    sampling: SamplingSettings


def resolve(
    arguments: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    expected_epochs: int | None = None,
    pid: int | None = None,
) -> TrackerSettings:
    """Merge ``arguments`` (None = not given) with the environment and config files, check
    every value, and group them. Raises InputError naming the bad setting and its fix."""
    given = {k: v for k, v in arguments.items() if k in KEYS}
    merged = load_settings(given, env=env)
    scope = str(merged.get("scope", "process"))
    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}; use 'process' or 'machine'")
    interval_s = check_interval_s(merged.get("interval_s", DEFAULT_INTERVAL_S))
    if expected_epochs is not None and expected_epochs < 1:
        raise InputError(f"expected_epochs must be >= 1, got {expected_epochs!r}")
    clean_tags: dict[str, str] = {}
    for key, value in (tags or {}).items():
        clean_tags[check_name("tag name", str(key))] = check_name(f"tag {key!r}", str(value))
    pue = merged.get("pue")
    if pue is not None:
        from carbonledger.carbon import validate_pue

        pue = validate_pue(pue)
    run = RunSettings(
        project=check_name("project", str(merged.get("project", "default"))),
        experiment=check_name("experiment", str(merged.get("experiment", "default"))),
        run_id=None if run_id is None else check_name("run id", run_id),
        tags=clean_tags,
        expected_epochs=expected_epochs,
        ledger=merged.get("ledger"),
    )
    location = LocationSettings(
        country=arguments.get("country"),
        region=arguments.get("region"),
        grid_g_per_kwh=_intensity("grid_g_per_kwh", merged.get("grid_g_per_kwh")),
        pue=pue,
        market_g_per_kwh=_intensity("market_g_per_kwh", merged.get("market_g_per_kwh")),
        probe_cloud=merged.get("probe_cloud"),
        ip_geolocation=bool(merged.get("ip_geolocation", False)),
        file_settings=load_settings(None, env=env, include_env=False),
        wue_l_per_kwh=merged.get("wue_l_per_kwh"),
        price_per_kwh=merged.get("price_per_kwh"),
        prices=dict(merged.get("prices") or {}),
        currency=str(merged.get("currency") or ""),
        origins={
            key: setting_origin(key, given, env=env)
            for key in ("wue_l_per_kwh", "price_per_kwh", "prices")
            if merged.get(key) is not None
        },
    )
    sampling = SamplingSettings(
        scope=scope,
        interval_s=interval_s,
        pid=os.getpid() if pid is None else pid,
        gpu=bool(merged.get("gpu", True)),
        cpu_watts=merged.get("cpu_watts"),  # checked by load_settings: finite and > 0
        ram_watts=merged.get("ram_watts"),
        progress_s=check_progress_s(merged.get("progress_s", DEFAULT_PROGRESS_S)),
    )
    return TrackerSettings(run, location, sampling)
