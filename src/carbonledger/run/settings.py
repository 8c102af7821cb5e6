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

from carbonledger import _inputs
from carbonledger.errors import InputError
from carbonledger.models import SensorInfo, check_name_length
from carbonledger.run.config import KEYS, load_settings, setting_origin

__all__ = [
    "BUDGET_ACTIONS",
    "MAX_BUDGET_KG",
    "MAX_EPOCHS",
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
    return _inputs.number(
        value, what, low=MIN_INTERVAL_S, high=MAX_INTERVAL_S, unit="s",
        range_text=f"between {MIN_INTERVAL_S:g} s and {MAX_INTERVAL_S:g} s (one day)",
        hint="1 s suits most runs",
    )  # fmt: skip


def check_name(kind: str, value: str) -> str:
    """``value`` when it is a usable name (non-empty, at most :data:`carbonledger.models.MAX_NAME_CHARS`)."""
    if not isinstance(value, str):
        raise InputError(f"{kind} must be a string, got {type(value).__name__}")
    if not value:
        raise InputError(f"{kind} must not be empty")
    check_name_length(value, kind)
    return value


def _intensity(key: str, value: float | None) -> float | None:
    return None if value is None else _inputs.intensity_g_per_kwh(value, key)


#: the most epochs a forecast is made for
MAX_EPOCHS = 10**9
#: the largest carbon budget (kg CO2e): a million tonnes
MAX_BUDGET_KG = 1e9
BUDGET_ACTIONS = ("warn", "stop")


def _flag(arguments: Mapping[str, Any], key: str) -> None:
    value = arguments.get(key)
    if value is not None and not isinstance(value, bool):
        raise InputError(f"{key} must be True or False, got {type(value).__name__} {value!r:.60}")


def _callable(arguments: Mapping[str, Any], key: str) -> None:
    value = arguments.get(key)
    if value is not None and not callable(value):
        raise InputError(f"{key} must be a function, got {type(value).__name__} {value!r:.60}")


def check_arguments(arguments: Mapping[str, Any]) -> None:
    """Check the type and range of each argument a caller gave (``Tracker(...)``'s keyword
    arguments; None is "not given"), before anything is merged or started. Raises
    :class:`InputError` naming the argument, the value and what is allowed."""
    a = arguments
    for key in ("project", "experiment", "run_id"):
        if a.get(key) is not None:
            _inputs.name(a[key], key)
    for key in ("country", "region", "host"):
        if a.get(key) is not None:
            _inputs.text(a[key], key)
    for key in ("grid_g_per_kwh", "market_g_per_kwh"):
        if a.get(key) is not None:
            _inputs.intensity_g_per_kwh(a[key], key)
    if a.get("pue") is not None:
        _inputs.pue(a["pue"], "pue")
    if a.get("interval_s") is not None:
        check_interval_s(a["interval_s"])
    for key in ("cpu_watts", "ram_watts"):
        if a.get(key) is not None:
            _inputs.watts(a[key], key)
    if a.get("scope") is not None and a["scope"] not in SCOPES:
        raise InputError(f"unknown scope {a['scope']!r:.60}: scope must be 'process' or 'machine'")
    if a.get("pid") is not None:
        _inputs.integer(a["pid"], "pid", low=1, high=_inputs.MAX_PID)
    if a.get("expected_epochs") is not None:
        _inputs.integer(a["expected_epochs"], "expected_epochs", low=1, high=MAX_EPOCHS)
    if a.get("budget_kg") is not None:
        _inputs.number(
            a["budget_kg"], "budget_kg", low=0.0, high=MAX_BUDGET_KG, low_open=True,
            unit="kg CO2e",
        )  # fmt: skip
    on_budget = a.get("on_budget", "warn")
    if on_budget not in BUDGET_ACTIONS:
        raise InputError(f"on_budget must be 'warn' or 'stop', got {on_budget!r:.60}")
    if a.get("ledger") is not None:
        from carbonledger.ledger.transports import check_target

        check_target(a["ledger"], "ledger")
    for key in ("gpu", "probe_cloud", "ip_geolocation", "embodied", "handle_signals"):
        _flag(a, key)
    for key in ("on_budget_exceeded", "clock", "wall_clock"):
        _callable(a, key)
    _check_collections(a)


def _check_collections(a: Mapping[str, Any]) -> None:
    """``tags``, ``sensors``, ``command``, ``env`` and ``intensity_provider``: right shapes."""
    tags = a.get("tags")
    if tags is not None:
        if not isinstance(tags, Mapping):
            raise InputError(
                f"tags must be a mapping of names to values (a dict), got "
                f"{type(tags).__name__} {tags!r:.60}"
            )
        for key, value in tags.items():
            _inputs.name(key, "tag name")
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise InputError(
                    f"tag {key!r} must have a text value, got {type(value).__name__} {value!r:.60}"
                )
    sensors = a.get("sensors")
    if sensors is not None:
        if isinstance(sensors, (str, bytes)) or not isinstance(sensors, (list, tuple)):
            raise InputError(
                f"sensors must be a list of sensors, got {type(sensors).__name__} {sensors!r:.60}"
            )
        for i, sensor in enumerate(sensors):
            info = getattr(sensor, "info", None)
            if not (isinstance(info, SensorInfo) and callable(getattr(sensor, "read", None))):
                raise InputError(
                    f"sensors[{i}] must be a sensor (with .info and .read(), see "
                    f"carbonledger.sensors.base.Sensor), got {type(sensor).__name__} "
                    f"{sensor!r:.60}"
                )
    command = a.get("command")
    if command is not None and (
        isinstance(command, (str, bytes))
        or not isinstance(command, (list, tuple))
        or not all(isinstance(part, str) for part in command)
    ):
        raise InputError(
            f"command must be a list of strings (['python', 'train.py']), got "
            f"{type(command).__name__} {command!r:.60}"
        )
    env = a.get("env")
    if env is not None and not (
        isinstance(env, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        raise InputError(
            f"env must be a mapping of strings to strings (like os.environ), got "
            f"{type(env).__name__} {env!r:.60}"
        )
    provider = a.get("intensity_provider")
    if provider is not None and not callable(getattr(provider, "hourly", None)):
        raise InputError(
            f"intensity_provider must have an hourly(zone, start, end) method (see "
            f"carbonledger.carbon.providers), got {type(provider).__name__}"
        )


def check_ledger(target: str) -> str:
    """A ledger path or URL from the settings (``ledger =`` in a config file,
    ``CARBONLEDGER_LEDGER``), checked as where a ledger is opened."""
    from carbonledger.ledger.transports import check_target

    return check_target(target, "ledger")


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
    check_arguments({**arguments, "run_id": run_id, "tags": tags, "pid": pid,
                     "expected_epochs": expected_epochs})  # fmt: skip
    given = {k: v for k, v in arguments.items() if k in KEYS}
    merged = load_settings(given, env=env)
    scope = str(merged.get("scope", "process"))
    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}; use 'process' or 'machine'")
    interval_s = check_interval_s(merged.get("interval_s", DEFAULT_INTERVAL_S))
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
        expected_epochs=None if expected_epochs is None else int(expected_epochs),
        ledger=None if merged.get("ledger") is None else check_ledger(merged["ledger"]),
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
