"""Reading a run's time series (samples) for plots. Nothing here writes.

Samples come from the ledger's public reader (``samples``), which never writes.

Power over time (:func:`power_series`) is the energy each device used over each sample's
own interval divided by that interval: ``(E[i] - E[i-1]) / (t[i] - t[i-1])`` from the
cumulative energy of consecutive samples of the same device, so every point is a mean the
counter (or the model) actually integrated, the last sample included. A sensor's
instantaneous power reading is not used: taken at a window's edge or at the run's end it
can cover a few microseconds and read 0 W although energy rose over the interval. Where
there is no sample (a pause in sampling much longer than the usual interval, or a restarted
process whose counter began again), the series has a gap (``None``), never a synthetic zero.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.models import Sample

__all__ = ["GAP_FACTOR", "Series", "power_series", "read_samples"]

#: an interval longer than this many times the device's median interval is a gap
GAP_FACTOR = 3.0


def read_samples(ledger: Any, run_id: str, since_unix_s: float | None = None) -> list[Sample]:
    """Every sample of ``run_id`` (all members), oldest first; only those after
    ``since_unix_s`` when given (the ledger's :meth:`samples`; it reads only)."""
    return list(ledger.samples(run_id, since_unix_s=since_unix_s))


@dataclass(frozen=True)
class Series:
    """Power over time of one device: at ``times_unix_s[i]``, the mean power ``power_w[i]``
    (W) over the interval since the previous sample, and the cumulative energy
    ``energy_j[i]`` (J); ``power_w[i]`` and ``energy_j[i]`` are None at a gap."""

    component: str
    device: str
    host: str
    times_unix_s: tuple[float, ...]
    power_w: tuple[float | None, ...]
    energy_j: tuple[float | None, ...]
    #: the legend's name (the device, with its host when the run spans several)
    label: str = ""


def _label(component: str, device: str, host: str, with_host: bool) -> str:
    """``gpu:0``, ``cpu``, ``ram``: the device alone when its name starts with its component
    (``cpu cpu`` says nothing twice), else ``component device``; ``@host`` when the run
    spans several hosts."""
    name = device if device.startswith(component) else f"{component} {device}"
    return f"{name} @{host}" if with_host and host else name


def _median_interval_s(items: Sequence[Sample]) -> float | None:
    steps = [
        b.time_unix_s - a.time_unix_s
        for a, b in itertools.pairwise(items)
        if b.time_unix_s > a.time_unix_s
    ]
    return statistics.median(steps) if steps else None


def power_series(samples: Sequence[Sample]) -> list[Series]:
    """One :class:`Series` per (host, device), each point the energy difference over the
    time difference of consecutive samples (see the module docstring); a device's first
    sample starts its series (it has no interval of its own). A point follows a gap
    (``None``) when its interval is more than :data:`GAP_FACTOR` times the device's median
    interval, or when the cumulative energy went down (a new process counting from 0)."""
    groups: dict[tuple[str, str, str], list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.host, s.component, s.device), []).append(s)
    with_host = len({host for host, _, _ in groups}) > 1
    out = []
    for (host, component, device), items in sorted(groups.items()):
        items.sort(key=lambda s: s.time_unix_s)
        usual_s = _median_interval_s(items)
        times: list[float] = []
        powers: list[float | None] = []
        energies: list[float | None] = []
        prev: Sample | None = None
        for s in items:
            if prev is None:
                prev = s
                continue
            dt = s.time_unix_s - prev.time_unix_s
            if dt <= 0:  # the same instant twice: no interval, nothing to plot
                continue
            delta_j = s.energy_j - prev.energy_j
            gap = delta_j < 0 or (usual_s is not None and dt > GAP_FACTOR * usual_s)
            if gap and times:
                times.append(prev.time_unix_s + dt / 2)
                powers.append(None)
                energies.append(None)
            if delta_j >= 0:
                times.append(s.time_unix_s)
                powers.append(delta_j / dt)
                energies.append(s.energy_j)
            prev = s
        out.append(
            Series(
                component,
                device,
                host,
                tuple(times),
                tuple(powers),
                tuple(energies),
                _label(component, device, host, with_host),
            )
        )
    return out
