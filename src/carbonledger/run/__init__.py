"""The runtime of a run: the :class:`Tracker` and what it composes.

Settings and config files, membership of a (distributed) run, the carbon context, progress
(windows, forecast, budget, metrics), host facts, SLURM metadata, the recorder (the sink of
the run's signed events: the ledger, or the local journal when the ledger fails), signal
handling and the ``@track`` decorator. Only this package composes the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from carbonledger.run.decorator import track
    from carbonledger.run.tracker import Tracker

__all__ = ["Tracker", "track"]


def __getattr__(name: str) -> Any:
    if name == "Tracker":
        from carbonledger.run.tracker import Tracker

        return Tracker
    if name == "track":
        from carbonledger.run.decorator import track

        return track
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
