"""The runtime of a run: the :class:`Tracker` and what it composes.

Settings and config files, membership of a (distributed) run, the carbon context, progress
(windows, forecast, budget, metrics), host facts, SLURM metadata, the recorder (the sink of
the run's signed events: the ledger, or the local journal when the ledger fails), signal
handling and the ``@track`` decorator. Only this package composes the others.

The public surface is :data:`__all__`, each name loaded on first use: the tracker and the
decorator; what the command line and the drop-ins take from the runtime (a distributed
job's run id, the host's platform string, a place's carbon context); and four modules:
:mod:`~.config` (settings files and their precedence), :mod:`~.settings` (a tracker's
settings, resolved and checked), :mod:`~.slurm` (SLURM jobs: metadata, ``sacct`` import)
and :mod:`~.journal` (the local journal and its replay); :mod:`~.impact_import` (Impact
Framework outputs recorded as estimated runs). The other modules are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face

if TYPE_CHECKING:
    from carbonledger.run import config, impact_import, journal, settings, slurm
    from carbonledger.run.context import resolve_carbon
    from carbonledger.run.decorator import track
    from carbonledger.run.hostinfo import platform_string
    from carbonledger.run.membership import derive_run_id, new_id
    from carbonledger.run.tracker import Tracker

__all__ = [
    "Tracker",
    "config",
    "derive_run_id",
    "impact_import",
    "journal",
    "new_id",
    "platform_string",
    "resolve_carbon",
    "settings",
    "slurm",
    "track",
]

_LAZY: dict[str, str] = {
    "Tracker": "carbonledger.run.tracker",
    "derive_run_id": "carbonledger.run.membership",
    "new_id": "carbonledger.run.membership",
    "platform_string": "carbonledger.run.hostinfo",
    "resolve_carbon": "carbonledger.run.context",
    "track": "carbonledger.run.decorator",
}
_SUBMODULES = ("config", "impact_import", "journal", "settings", "slurm")


__getattr__, __dir__ = lazy_face(__name__, __all__, _LAZY, _SUBMODULES)
