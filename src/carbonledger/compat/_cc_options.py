"""CodeCarbon's constructor arguments, checked and mapped onto carbonledger's Tracker.

Arguments CodeCarbon itself rejects are rejected the same way (``on_csv_write`` other than
``append``/``update``, ``tracking_mode`` other than ``machine``/``process``, an
``output_dir`` that does not exist). Everything else is accepted: arguments for CodeCarbon's
hosted service get one warning saying where the run goes instead, arguments without an
equivalent get one warning naming them and why, unknown ones one warning naming them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from carbonledger.compat._base import LOG, gpu_env, interval_s, warn_unknown
from carbonledger.compat._cc_outputs import BaseOutput, LoggerOutput

__all__ = ["CodeCarbonOptions", "OutputMethod", "parse_options"]


class OutputMethod(str, Enum):
    """Where records go, as CodeCarbon's ``OutputMethod`` (``API``, ``LOGFIRE`` and
    ``BOAMPS`` are accepted and have no effect here)."""

    CSV = "csv"
    API = "api"
    LOGGER = "logger"
    PROMETHEUS = "prometheus"
    LOGFIRE = "logfire"
    BOAMPS = "boamps"


#: every argument of CodeCarbon 3.3.2's trackers and ``track_emissions``
KNOWN: frozenset[str] = frozenset(
    {
        "project_name", "measure_power_secs", "api_call_interval", "api_endpoint", "api_key",
        "output_dir", "output_file", "output_methods", "save_to_file", "save_to_api",
        "save_to_logger", "logging_logger", "save_to_prometheus", "save_to_logfire",
        "prometheus_url", "output_handlers", "gpu_ids", "emissions_endpoint", "experiment_id",
        "experiment_name", "electricitymaps_api_token", "co2_signal_api_token",
        "tracking_mode", "log_level", "on_csv_write", "logger_preamble", "force_cpu_power",
        "force_ram_power", "pue", "wue", "force_carbon_intensity_g_co2e_kwh",
        "force_mode_cpu_load", "allow_multiple_runs", "rapl_include_dram", "rapl_prefer_psys",
        "metadata", "country_iso_code", "region", "cloud_provider", "cloud_region",
        "country_2letter_iso_code", "offline",
    }
)  # fmt: skip

#: arguments for CodeCarbon's hosted service (api.codecarbon.io)
HOSTED = ("save_to_api", "api_endpoint", "api_key", "api_call_interval")

#: arguments accepted without effect, and why (warned about when given a non-default value)
NO_EFFECT: Mapping[str, str] = {
    "save_to_logfire": "no Logfire output; use save_to_logger or the ledger",
    "logger_preamble": "log records come from the 'carbonledger' loggers",
    "electricitymaps_api_token": "yearly intensity tables are used; pass an hourly provider "
    "to carbonledger.Tracker(intensity_provider=...) for live data",
    "co2_signal_api_token": "as electricitymaps_api_token",
    "rapl_include_dram": "carbonledger measures DRAM as RAM when RAPL exposes it",
    "rapl_prefer_psys": "carbonledger reads the package counters",
    "force_mode_cpu_load": "carbonledger picks its CPU model itself (see `carbonledger doctor`)",
    "metadata": "BoAmps is written from the ledger ('carbonledger report RUN --format boamps'); "
    "put the task's fields in tags (task_stage=..., task_family=...)",
    "allow_multiple_runs": "concurrent runs are always allowed; the ledger keeps them apart",
}


@dataclass
class CodeCarbonOptions:
    """The drop-in's settings once checked; ``tracker`` holds carbonledger.Tracker's."""

    experiment_name: str = "base"
    experiment_id: str | None = None
    output_dir: str = "."
    output_file: str = "emissions.csv"
    on_csv_write: str = "append"
    save_to_file: bool = True
    logging_logger: BaseOutput | None = None
    prometheus_url: str | None = None
    emissions_endpoint: str | None = None
    output_handlers: list[Any] = field(default_factory=list)
    wue: float = 0.0
    tracker: dict[str, Any] = field(default_factory=dict)


def _flag(value: Any, default: bool) -> bool:
    return default if value is None else bool(value)


def _methods(kw: Mapping[str, Any]) -> set[str]:
    """The output methods asked for, from ``output_methods`` or the ``save_to_*`` flags."""
    methods = kw.get("output_methods")
    if methods is not None:
        items = methods.split(",") if isinstance(methods, str) else list(methods)
        return {OutputMethod(str(getattr(m, "value", m)).strip()).value for m in items}
    chosen = {"csv"} if _flag(kw.get("save_to_file"), True) else set()
    for name, method in (("save_to_api", "api"), ("save_to_logger", "logger")):
        if _flag(kw.get(name), False):
            chosen.add(method)
    for name, method in (("save_to_prometheus", "prometheus"), ("save_to_logfire", "logfire")):
        if _flag(kw.get(name), False):
            chosen.add(method)
    return chosen


def _check(kw: Mapping[str, Any]) -> None:
    """Reject what CodeCarbon itself rejects."""
    on_csv_write = kw.get("on_csv_write") or "append"
    if on_csv_write not in ("append", "update"):
        raise ValueError(
            f"Unknown `on_csv_write` value: {on_csv_write} (should be one of 'append' or 'update')"
        )
    mode = kw.get("tracking_mode") or "machine"
    if mode not in ("machine", "process"):
        raise ValueError(f"tracking_mode must be 'machine' or 'process', got {mode!r}")
    output_dir = kw.get("output_dir") or "."
    if not os.path.exists(output_dir):
        raise OSError(f"Folder '{output_dir}' doesn't exist !")


def _warn_hosted(kw: Mapping[str, Any], methods: set[str]) -> None:
    given = [k for k in HOSTED if kw.get(k) not in (None, False)]
    if "api" in methods and "save_to_api" not in given:
        given.append("output_methods=API")
    if not given:
        return
    if kw.get("experiment_id") is not None:
        given.append("experiment_id")
    LOG.warning(
        "CodeCarbon's hosted service is not used (given: %s): nothing is sent to it. "
        "The run is recorded in the local carbonledger ledger instead: `carbonledger runs` "
        "lists it and `carbonledger show RUN_ID` shows it",
        ", ".join(given),
    )


def _warn_no_effect(kw: Mapping[str, Any]) -> None:
    given = []
    for name, why in NO_EFFECT.items():
        value = kw.get(name)
        if value is None or value is False or (name == "allow_multiple_runs" and value):
            continue
        given.append(f"{name} ({why})")
    if given:
        LOG.warning("accepted without effect in carbonledger: %s", "; ".join(given))


def _location(kw: Mapping[str, Any]) -> dict[str, Any]:
    """carbonledger's ``country``/``region`` from CodeCarbon's place arguments."""
    provider, cloud_region = kw.get("cloud_provider"), kw.get("cloud_region")
    if provider:
        if cloud_region:
            return {"region": f"{str(provider).lower()}:{cloud_region}"}
        LOG.error("Cloud Region must be provided if cloud provider is set; cloud_provider ignored")
    country = kw.get("country_iso_code") or kw.get("country_2letter_iso_code")
    return {"country": country, "region": kw.get("region")}


def _set_log_level(level: Any) -> None:
    if level is None:
        return
    value = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    if isinstance(value, int):
        logging.getLogger("carbonledger").setLevel(value)
    else:
        LOG.warning("log_level=%r is not a logging level; ignored", level)


def _logger_output(kw: Mapping[str, Any], methods: set[str]) -> BaseOutput | None:
    if "logger" not in methods:
        return None
    given = kw.get("logging_logger")
    if isinstance(given, logging.Logger):
        return LoggerOutput(given)
    if given is None or not callable(getattr(given, "out", None)):
        LOG.warning("save_to_logger needs logging_logger=LoggerOutput(a_logger); no log output")
        return None
    return given  # type: ignore[no-any-return]


def _default_experiment() -> str:
    """The experiment when ``experiment_name`` is not given: carbonledger's setting when
    one is made (``CARBONLEDGER_EXPERIMENT``, ``carbonledger.toml``), else CodeCarbon's
    default, ``base``."""
    from carbonledger.run.config import load_settings

    try:
        configured = load_settings().get("experiment")
    except Exception:  # a broken config is reported by the tracker itself
        configured = None
    return str(configured) if configured else "base"


def _tracker_env(kw: Mapping[str, Any]) -> dict[str, str] | None:
    """The Tracker's environment: the GPUs asked for (``gpu_ids``) and a given ``wue``
    (CodeCarbon's L/kWh), which the run keeps as its water usage effectiveness so that the
    ledger, ``show`` and every report give the run's water. None when neither is given."""
    import math

    env = gpu_env(kw.get("gpu_ids"))
    wue = kw.get("wue")
    if wue is None:  # not given: the run has no water figure (never a silent 0 L)
        return env
    value = float(wue)
    if not (math.isfinite(value) and value >= 0):
        LOG.warning("wue=%r is not a number of litres per kWh >= 0; no water figure is made", wue)
        return env
    env = dict(os.environ) if env is None else env
    env["CARBONLEDGER_WUE_L_PER_KWH"] = repr(value)
    return env


def parse_options(kw: dict[str, Any]) -> CodeCarbonOptions:
    """Check and map CodeCarbon's keyword arguments (see the module's description)."""
    hook = kw.pop("_tracker_options", None) or {}
    ledger = kw.pop("ledger", None)
    warn_unknown("CodeCarbon", set(kw) - KNOWN)
    _check(kw)
    methods = _methods(kw)
    _warn_hosted(kw, methods)
    _warn_no_effect(kw)
    _set_log_level(kw.get("log_level"))
    experiment_id = kw.get("experiment_id")
    tags = {"compat": "codecarbon"}
    if experiment_id is not None:
        tags["experiment_id"] = str(experiment_id)
    tracker: dict[str, Any] = {
        "project": kw.get("project_name"),
        "experiment": kw.get("experiment_name") or _default_experiment(),
        "scope": kw.get("tracking_mode") or "machine",
        "interval_s": interval_s(kw.get("measure_power_secs"), "measure_power_secs"),
        "pue": kw.get("pue"),
        "grid_g_per_kwh": kw.get("force_carbon_intensity_g_co2e_kwh"),
        "cpu_watts": kw.get("force_cpu_power"),
        "ram_watts": kw.get("force_ram_power"),
        "env": _tracker_env(kw),
        "ledger": ledger,
        "tags": tags,
        **_location(kw),
    }
    tracker = {k: v for k, v in tracker.items() if v is not None}
    tracker.update(hook)
    prometheus = kw.get("prometheus_url") or "localhost:9091"
    return CodeCarbonOptions(
        experiment_name=str(tracker.get("experiment") or "base"),
        experiment_id=None if experiment_id is None else str(experiment_id),
        output_dir=str(kw.get("output_dir") or "."),
        output_file=str(kw.get("output_file") or "emissions.csv"),
        on_csv_write=str(kw.get("on_csv_write") or "append"),
        save_to_file="csv" in methods,
        logging_logger=_logger_output(kw, methods),
        prometheus_url=str(prometheus) if "prometheus" in methods else None,
        emissions_endpoint=kw.get("emissions_endpoint") or None,
        output_handlers=list(kw.get("output_handlers") or []),
        wue=float(kw.get("wue") or 0.0),
        tracker=tracker,
    )
