"""RAM energy estimated from its size (``method="ram-model"``), or from the user's figure
(``method="user-ram-watts"``).

``P = W_PER_GB x GB``: in machine scope GB is the installed memory, in process scope
the resident memory of the process tree. A user's ``ram_watts`` (CodeCarbon's
``force_ram_power``) is the power of the whole installed memory, constant: machine scope
charges it as is, process scope the tree's share of it (resident / installed memory),
with no range (the figure is the user's). Energy is integrated between reads with the
mean of the two ends' GB (trapezoid rule). When the platform has a RAPL ``dram``
domain, :func:`carbonledger.sensors.cpu.rapl.discover_rapl` returns it as a measured RAM
sensor, which discovery prefers in machine scope.

Figures (watts per decimal GB):

* central 0.392 W/GB: Cloud Carbon Footprint's memory coefficient (Apache-2.0);
  Green Algorithms uses a close 0.3725 W/GB (CC-BY-4.0);
* low 0.2 W/GB and high 0.6 W/GB: the medians, over 621 AWS instance types, of the
  DRAM power at idle and at 100 % load per GB in the Teads dataset that Cloud Carbon
  Footprint ships (``ccf-coefficients/data/aws-instances.csv``).
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from carbonledger.errors import InputError
from carbonledger.models import Reading, SensorInfo
from carbonledger.units import bytes_to_gb

if TYPE_CHECKING:
    from carbonledger.models import Scope
    from carbonledger.sensors.base import Probe, ProbeContext

__all__ = [
    "GREEN_ALGORITHMS_W_PER_GB",
    "W_PER_GB",
    "W_PER_GB_HIGH",
    "W_PER_GB_LOW",
    "RamModelSensor",
    "installed_ram_bytes",
    "probe",
]


#: Cloud Carbon Footprint's memory coefficient, W per GB
W_PER_GB = 0.392
#: Green Algorithms' memory power (referenceValues.csv ``memoryPower``), for comparison
GREEN_ALGORITHMS_W_PER_GB = 0.3725
#: DRAM W/GB at idle (median over AWS instance types, Teads data via CCF)
W_PER_GB_LOW = 0.2
#: DRAM W/GB at 100 % load (same data)
W_PER_GB_HIGH = 0.6


def installed_ram_bytes() -> float:
    """The machine's installed memory in bytes: ``SC_PHYS_PAGES x SC_PAGE_SIZE`` (the
    kernel's total RAM, as /proc/meminfo's MemTotal), else psutil."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_bytes = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - no sysconf names
        pages = page_bytes = -1
    if pages > 0 and page_bytes > 0:
        return float(pages * page_bytes)
    import psutil  # pragma: no cover

    return float(psutil.virtual_memory().total)


class RamModelSensor:
    """RAM energy from its size x W/GB, integrated between reads.

    ``scope="machine"``: ``total_bytes`` (default: the installed memory).
    ``scope="process"``: ``rss_bytes()`` (default: resident memory of ``pid`` and its
    descendants, capped at the installed memory), sampled at every read.
    ``ram_watts``: the user's power of the whole installed memory in watts, used instead
    of ``w_per_gb`` (``method="user-ram-watts"``, no range).
    """

    def __init__(
        self,
        *,
        scope: Scope,
        pid: int | None = None,
        total_bytes: float | None = None,
        rss_bytes: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        w_per_gb: float = W_PER_GB,
        w_per_gb_low: float | None = None,
        w_per_gb_high: float | None = None,
        device: str = "ram",
        ram_watts: float | None = None,
    ) -> None:
        if scope not in ("process", "machine"):
            raise InputError(f"unknown scope {scope!r}; use 'process' or 'machine'")
        if total_bytes is not None and total_bytes <= 0:
            raise InputError(f"total_bytes must be positive, got {total_bytes}")
        self._total_bytes = total_bytes
        method = "ram-model"
        if ram_watts is not None:
            if not (math.isfinite(ram_watts) and ram_watts > 0):
                raise InputError(
                    f"ram_watts must be a positive number of watts (the power of the whole "
                    f"installed memory), got {ram_watts!r}"
                )
            w_per_gb = w_per_gb_low = w_per_gb_high = ram_watts / bytes_to_gb(self._installed())
            method = "user-ram-watts"
        low = min(W_PER_GB_LOW, w_per_gb) if w_per_gb_low is None else w_per_gb_low
        high = max(W_PER_GB_HIGH, w_per_gb) if w_per_gb_high is None else w_per_gb_high
        if not (math.isfinite(w_per_gb) and 0 < low <= w_per_gb <= high):
            raise InputError(
                f"need 0 < w_per_gb_low <= w_per_gb <= w_per_gb_high, got {low} / {w_per_gb} / "
                f"{high}"
            )
        self._scope = scope
        self._w_per_gb, self._low_w_per_gb, self._high_w_per_gb = w_per_gb, low, high
        self._clock = clock
        self._lock = threading.Lock()
        #: bytes of memory now, and the most it can be (a tree's RSS counts shared pages
        #: once per process: capped at the installed memory)
        self._size: Callable[[], float]
        self._cap = math.inf
        if scope == "machine":
            total = self._installed()
            self._size = lambda: total
        elif rss_bytes is not None:
            self._size = rss_bytes
        else:
            from carbonledger.sensors._linux import tree_rss_bytes

            self._size = functools.partial(tree_rss_bytes, os.getpid() if pid is None else pid)
            self._cap = self._installed()
        self._last_gb = bytes_to_gb(min(max(0.0, self._size()), self._cap))
        self._last_time_s = clock()
        self._gb_s = 0.0  # integral of GB over time
        self._first = True
        what = (
            f"installed memory ({self._last_gb:.1f} GB)"
            if scope == "machine"
            else "resident memory (RSS) of the process tree"
        )
        if ram_watts is not None:
            share = "" if scope == "machine" else " x the tree's share of installed memory"
            reason = (
                f"estimated: {ram_watts:g} W for the whole installed memory, set by the user "
                f"(ram_watts), constant{share}; no range"
            )
        else:
            reason = (
                f"estimated: {w_per_gb:g} W/GB (range {low:g}-{high:g}) x {what}; "
                "no RAM energy counter used"
            )
        self._info = SensorInfo(
            component="ram",
            device=device,
            method=method,
            measured=False,
            reason=reason,
            host_wide=scope == "machine",
        )

    def _installed(self) -> float:
        if self._total_bytes is None:
            self._total_bytes = installed_ram_bytes()
        return self._total_bytes

    @property
    def info(self) -> SensorInfo:
        return self._info

    @property
    def installed_gb(self) -> float:
        """The machine's installed memory in GB (decimal)."""
        return bytes_to_gb(self._installed())

    def read(self) -> Reading:
        with self._lock:
            gb = bytes_to_gb(min(max(0.0, self._size()), self._cap))
            now = self._clock()
            elapsed_s = max(0.0, now - self._last_time_s)
            mean_gb = 0.5 * (self._last_gb + gb)
            self._gb_s += mean_gb * elapsed_s
            power_w = None if self._first or elapsed_s <= 0 else self._w_per_gb * mean_gb
            self._first = False
            self._last_gb, self._last_time_s = gb, now
            gb_s = self._gb_s
            return Reading(
                now,
                self._w_per_gb * gb_s,
                power_w,
                self._low_w_per_gb * gb_s,
                self._high_w_per_gb * gb_s,
            )

    def close(self) -> None:
        """Nothing to release."""


def probe(ctx: ProbeContext) -> Probe:
    """The registry's ``ram-model`` entry: when no earlier entry measures the RAM (RAPL's
    DRAM domain, in machine scope), the user's ``ram_watts`` (constant), else the W/GB
    model, with the watts each assumes."""
    from carbonledger.sensors.base import PowerAssumption, Probe

    if ctx.covering("ram") is not None:
        return Probe()
    ram_watts = ctx.options.ram_watts
    ram = RamModelSensor(scope=ctx.scope, pid=ctx.pid, clock=ctx.clock, ram_watts=ram_watts)
    installed_gb = ram.installed_gb
    if ram_watts is not None:
        return Probe(
            (ram,),
            (ram.info,),
            (f"ram: {ram_watts:g} W set by the user (ram_watts), constant",),
            (
                PowerAssumption(
                    "ram",
                    "user-ram-watts",
                    ram_watts,
                    ram_watts,
                    ram_watts,
                    ram_watts,
                    "set by the user (ram_watts)",
                    f"{ram_watts:g} W for {installed_gb:.1f} GB installed, constant",
                ),
            ),
        )
    assumption = PowerAssumption(
        "ram",
        "ram-model",
        W_PER_GB * installed_gb,
        W_PER_GB * installed_gb,
        W_PER_GB_LOW * installed_gb,
        W_PER_GB_HIGH * installed_gb,
        "Cloud Carbon Footprint memory coefficient (Apache-2.0); range from Teads' AWS data",
        f"{W_PER_GB:g} W/GB x {installed_gb:.1f} GB installed"
        + (" (process scope: x the tree's resident share)" if ctx.scope == "process" else ""),
    )
    dram = any(c.component == "ram" and c.measured and c.available for c in ctx.candidates)
    why = "scope=process uses resident memory" if dram else "no RAPL DRAM domain"
    note = f"ram: estimated by the W/GB model ({why})"
    return Probe((ram,), (ram.info,), (note,), (assumption,))
