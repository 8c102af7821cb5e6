"""Reading a run's time series (samples) for plots. Nothing here writes.

Samples come from the ledger's public reader (``samples``), which never writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.models import Sample

__all__ = ["Series", "power_series", "read_samples"]


def read_samples(ledger: Any, run_id: str, since_unix_s: float | None = None) -> list[Sample]:
    """Every sample of ``run_id`` (all members), oldest first; only those after
    ``since_unix_s`` when given (the ledger's :meth:`samples`; it reads only)."""
    return list(ledger.samples(run_id, since_unix_s=since_unix_s))


@dataclass(frozen=True)
class Series:
    """Power over time of one device: ``times_unix_s[i]``, ``power_w[i]``, and its
    cumulative energy ``energy_j[i]``."""

    component: str
    device: str
    host: str
    times_unix_s: tuple[float, ...]
    power_w: tuple[float, ...]
    energy_j: tuple[float, ...]

    @property
    def label(self) -> str:
        return f"{self.component} {self.device}" + (f" @{self.host}" if self.host else "")


def power_series(samples: Sequence[Sample]) -> list[Series]:
    """One :class:`Series` per (host, device): the sampled power where the sensor gave one,
    else the energy difference over the time difference of consecutive samples."""
    groups: dict[tuple[str, str, str], list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.host, s.component, s.device), []).append(s)
    out = []
    for (host, component, device), items in sorted(groups.items()):
        items.sort(key=lambda s: s.time_unix_s)
        times, powers, energies = [], [], []
        prev: Sample | None = None
        for s in items:
            power = s.power_w
            if power is None and prev is not None:
                dt = s.time_unix_s - prev.time_unix_s
                power = (s.energy_j - prev.energy_j) / dt if dt > 0 else None
            if power is not None:
                times.append(s.time_unix_s)
                powers.append(power)
                energies.append(s.energy_j)
            prev = s
        out.append(Series(component, device, host, tuple(times), tuple(powers), tuple(energies)))
    return out
