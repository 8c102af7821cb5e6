"""Shared parts of the drop-ins: start and stop a carbonledger Tracker without ever raising
into the user's code, map intervals and GPU selections, describe the host and the place, and
send a record over HTTP within a whole-call deadline.

Units: seconds, watts, joules, kWh, kg CO2e, as each name says.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from carbonledger.run.settings import MAX_INTERVAL_S, MIN_INTERVAL_S

if TYPE_CHECKING:
    from carbonledger.models import RunStatus, RunSummary
    from carbonledger.run import Tracker

__all__ = [
    "HTTP_DEADLINE_S",
    "LOG",
    "HostFacts",
    "Place",
    "Usage",
    "UsageMark",
    "gpu_env",
    "guard",
    "host_facts",
    "interval_s",
    "model_counts",
    "place_of",
    "post_json",
    "start_tracker",
    "stop_tracker",
    "usage_mark",
    "usage_since",
    "warn_unknown",
]

LOG = logging.getLogger("carbonledger.compat")

#: the longest a whole HTTP POST of one record may take before the user's code goes on
HTTP_DEADLINE_S = 5.0

P = ParamSpec("P")
R = TypeVar("R")


def guard(what: str) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """Decorator: a failure inside the compatibility layer is logged and the call returns
    None, so the user's work never stops because of measurement (as CodeCarbon does)."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                LOG.error("%s failed: %s; the work goes on", what, exc, exc_info=True)
                return None

        return wrapper

    return decorate


def warn_unknown(tool: str, names: Iterable[str]) -> None:
    """One warning naming every argument this drop-in does not know (they are ignored)."""
    unknown = sorted(names)
    if unknown:
        LOG.warning(
            "%s drop-in: unknown argument(s) %s accepted and ignored (check their spelling, "
            "or see docs/migrating.md for what carbonledger supports)",
            tool,
            ", ".join(unknown),
        )


def interval_s(value: object, what: str) -> float | None:
    """A sampling interval for the Tracker from another tool's period in seconds: None when
    not given or not a number (logged), clamped into the Tracker's range with a note."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        LOG.warning("%s=%r is not a number of seconds; the default interval is used", what, value)
        return None
    seconds = float(value)
    if math.isnan(seconds):
        LOG.warning("%s is NaN; the default interval is used", what)
        return None
    clamped = min(max(seconds, MIN_INTERVAL_S), MAX_INTERVAL_S)
    if clamped != seconds:
        LOG.warning(
            "%s=%g s is outside carbonledger's sampling range (%g s to %g s); %g s is used. "
            "Energy still comes from counter differences, so it does not depend on the interval",
            what,
            seconds,
            MIN_INTERVAL_S,
            MAX_INTERVAL_S,
            clamped,
        )
    return clamped


def gpu_env(gpu_ids: object, base: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The environment for the Tracker with ``CUDA_VISIBLE_DEVICES`` set to ``gpu_ids``
    (physical indices or UUID prefixes, as CUDA reads them), or None when not given."""
    if gpu_ids is None:
        return None
    if isinstance(gpu_ids, str):
        items = [part.strip() for part in gpu_ids.split(",")]
    elif isinstance(gpu_ids, int) and not isinstance(gpu_ids, bool):
        items = [str(gpu_ids)]
    elif isinstance(gpu_ids, (list, tuple)):
        items = [str(part).strip() for part in gpu_ids]
    else:
        LOG.warning("gpu_ids=%r is not a list or a comma-separated string; ignored", gpu_ids)
        return None
    env = dict(os.environ if base is None else base)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(item for item in items if item)
    return env


def _place_error(options: Mapping[str, Any]) -> Exception | None:
    """What is wrong with the place given in ``options`` (``country``, ``region``) on its own
    (an unknown name, a region outside the country), or None when it is usable or absent.
    Only the given names are looked up: no network, no environment."""
    country, region = options.get("country"), options.get("region")
    if country is None and region is None:
        return None
    from carbonledger.carbon import resolve_location
    from carbonledger.errors import InputError

    try:
        resolve_location(country=country, region=region, env={}, probe_cloud=False)
    except InputError as exc:
        return exc
    return None


def start_tracker(options: Mapping[str, Any]) -> Tracker | None:
    """A started :class:`carbonledger.Tracker`, or None (logged) when it cannot start.

    A place the tables do not know is dropped (logged) before the start: first the region
    (when a country is given), then both; so a typo in a place name does not leave the run
    unmeasured. Whether the place is the problem is asked of the place lookup itself."""
    from carbonledger.run import Tracker

    attempts = [dict(options)]
    if options.get("country") is not None and options.get("region") is not None:
        attempts.append({k: v for k, v in options.items() if k != "region"})
    if options.get("country") is not None or options.get("region") is not None:
        attempts.append({k: v for k, v in options.items() if k not in ("country", "region")})
    for attempt, next_try in zip(attempts, [*attempts[1:], None], strict=True):
        problem = None if next_try is None else _place_error(attempt)
        if problem is not None and next_try is not None:
            dropped = [k for k in ("country", "region") if k in attempt and k not in next_try]
            LOG.error("location not usable (%s); trying without %s", problem, " and ".join(dropped))
            continue
        try:
            return Tracker(**attempt).start()
        except Exception as exc:
            LOG.error("carbonledger could not start measuring: %s; the work goes on", exc)
            return None
    return None


def stop_tracker(tracker: Tracker, status: RunStatus = "completed") -> RunSummary | None:
    """Stop ``tracker`` and return its summary, or None (logged) when stopping failed."""
    try:
        return tracker.stop(status)
    except Exception as exc:
        LOG.error("carbonledger could not stop the run cleanly: %s", exc, exc_info=True)
        return None


@dataclass(frozen=True)
class Place:
    """Where the run's electricity comes from, in CodeCarbon's terms (None when unknown)."""

    country_name: str | None = None
    country_alpha3: str | None = None
    country_alpha2: str | None = None
    region: str | None = None
    cloud_provider: str | None = None
    cloud_region: str | None = None


def place_of(location: str) -> Place:
    """The :class:`Place` of one of carbonledger's zone codes (``FR``, ``US-CA``,
    ``aws:eu-west-3``); an empty Place for the world average or an unknown code."""
    from carbonledger.carbon import intensity

    if not location or location.upper() in ("WORLD", "UNKNOWN"):
        return Place()
    try:
        zone = intensity(location)
        country = intensity(zone.country) if zone.kind != "country" and zone.country else zone
    except Exception:
        return Place()
    alpha2 = country.code if country.kind == "country" else None
    common = {
        "country_name": country.name if alpha2 else None,
        "country_alpha3": (country.alpha3 or None) if alpha2 else None,
        "country_alpha2": alpha2,
    }
    if zone.kind == "cloud":
        provider, _, cloud_region = zone.code.partition(":")
        return Place(**common, cloud_provider=provider, cloud_region=cloud_region)
    if zone.kind == "subregion":
        return Place(**common, region=zone.name.lower())
    return Place(**common)


@dataclass(frozen=True)
class HostFacts:
    """The host as the drop-ins' files describe it: the installed memory in decimal GB
    (eco2AI) and in GiB (CodeCarbon's ``ram_total_size``)."""

    os: str
    os_system: str
    python_version: str
    cpu_count: int | None
    ram_total_gb: float | None
    ram_total_gib: float | None = None


@functools.cache
def host_facts() -> HostFacts:
    """This host's OS, Python, logical CPUs and RAM size in GB (read once), as the run's own
    metadata has them (:mod:`carbonledger.run.hostinfo`)."""
    from carbonledger.run import platform_string
    from carbonledger.sensors.memory import installed_ram_bytes
    from carbonledger.units import bytes_to_gb, bytes_to_gib

    system = os.uname().sysname
    ram_bytes = installed_ram_bytes()
    return HostFacts(
        os=platform_string(),
        os_system="MacOS" if system == "Darwin" else system,
        python_version=sys.version.split()[0],
        cpu_count=os.cpu_count(),
        ram_total_gb=bytes_to_gb(ram_bytes) if ram_bytes else None,
        ram_total_gib=bytes_to_gib(ram_bytes) if ram_bytes else None,
    )


@dataclass(frozen=True)
class UsageMark:
    """The machine's CPU times (s, busy and all) and memory use at one moment, and the
    memory readings taken since (percent used, GiB used)."""

    cpu_busy_s: float
    cpu_total_s: float
    ram_percent: tuple[float, ...]
    ram_used_gib: tuple[float, ...]


@dataclass(frozen=True)
class Usage:
    """The machine's utilisation over an interval, as CodeCarbon's columns hold it: CPU %
    (mean over the interval), RAM % and GiB used (mean of the readings)."""

    cpu_percent: float | None
    ram_percent: float | None
    ram_used_gib: float | None


def _cpu_times() -> tuple[float, float]:
    """(busy, total) seconds of every CPU of the machine since boot (idle and waiting on
    I/O are not busy; guest time is already in user time on Linux)."""
    import psutil

    t = psutil.cpu_times()
    total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    idle = t.idle + getattr(t, "iowait", 0.0)
    return total - idle, total


def _memory() -> tuple[float, float]:
    import psutil

    from carbonledger.units import bytes_to_gib

    vm = psutil.virtual_memory()
    return float(vm.percent), bytes_to_gib(vm.used)


def usage_mark(previous: UsageMark | None = None) -> UsageMark | None:
    """A mark of the machine's CPU times and memory now: a new one, or (with
    ``previous``) ``previous`` with this memory reading added; None when they cannot be
    read (the columns are then empty)."""
    try:
        percent, used = _memory()
        if previous is not None:
            return UsageMark(
                previous.cpu_busy_s,
                previous.cpu_total_s,
                (*previous.ram_percent, percent),
                (*previous.ram_used_gib, used),
            )
        busy, total = _cpu_times()
    except Exception as exc:  # utilisation is a column, never a reason to fail
        LOG.debug("machine utilisation not readable: %s", exc)
        return None
    return UsageMark(busy, total, (percent,), (used,))


def usage_since(mark: UsageMark | None) -> Usage:
    """The machine's utilisation from ``mark`` to now: CPU busy time over all CPU time in
    between (the exact mean, as ``psutil.cpu_percent`` over the interval) and the mean of
    the memory readings ``mark`` holds (add one now with :func:`usage_mark` first)."""
    if mark is None:
        return Usage(None, None, None)
    try:
        busy, total = _cpu_times()
    except Exception:
        return Usage(None, None, None)
    spent = total - mark.cpu_total_s
    # busy time is total less idle: rounding can put it a hair below the mark's (-1e-8 %)
    cpu = min(100.0, max(0.0, 100.0 * (busy - mark.cpu_busy_s) / spent)) if spent > 0 else None
    return Usage(
        cpu,
        math.fsum(mark.ram_percent) / len(mark.ram_percent),
        math.fsum(mark.ram_used_gib) / len(mark.ram_used_gib),
    )


def model_counts(models: Iterable[str]) -> str:
    """``"2 x NVIDIA A100"``-style text for a list of device models ('' for none)."""
    counts = Counter(m for m in models if m)
    return ", ".join(f"{n} x {name}" for name, n in counts.items())


def post_json(url: str, payload: Mapping[str, Any], deadline_s: float = HTTP_DEADLINE_S) -> None:
    """HTTP ``POST`` ``payload`` as JSON to ``url``; the whole call, connection included,
    ends within ``deadline_s`` seconds (``carbonledger._http.fetch``). Failures and a status other
    than 201 are logged, never raised."""
    import urllib.parse

    from carbonledger._http import fetch

    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        LOG.error("emissions_endpoint %r is not an http(s) URL; the record was not sent", url)
        return
    try:
        response = fetch(
            url,
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps(payload, default=str).encode("utf-8"),
            timeout_s=deadline_s,
        )
    except OSError as exc:  # refused, unreachable, or past the deadline
        LOG.error("could not send the emissions record to %s: %s", url, exc)
        return
    if response.status != 201:
        LOG.warning(
            "the emissions endpoint %s answered HTTP %s (201 expected)", url, response.status
        )
