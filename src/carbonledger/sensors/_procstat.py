"""The record every platform module returns for one process (``ProcStat``).

It lives apart from the platform modules so that each imports it without importing the
other: :mod:`carbonledger.sensors._linux` (procfs) falls back to
:mod:`carbonledger.sensors._portable` (psutil), never the other way round.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ProcStat"]


class ProcStat(NamedTuple):
    """One process at one instant. ``start`` identifies it with ``pid`` (a reused pid
    has another start); times in CPU seconds, memory in bytes."""

    pid: int
    ppid: int
    start: float
    own_s: float  # user + system of the process itself
    reaped_s: float  # children_user + children_system: descendants it has waited for
    rss_bytes: float
