"""Drop-in replacements for other trackers' APIs, measured and recorded by carbonledger.

A script written for CodeCarbon or eco2AI runs unchanged after swapping its import line::

    # from codecarbon import EmissionsTracker
    from carbonledger.compat.codecarbon import EmissionsTracker

    # from eco2ai import Tracker
    from carbonledger.compat.eco2ai import Tracker

* :mod:`carbonledger.compat.codecarbon`: ``EmissionsTracker``, ``OfflineEmissionsTracker``,
  ``track_emissions``, ``EmissionsData``; writes CodeCarbon's ``emissions.csv``.
* :mod:`carbonledger.compat.eco2ai`: ``Tracker`` and ``track``; writes eco2AI's CSV file.

Each run is also recorded in the carbonledger ledger (``carbonledger runs`` lists it).
Nothing in this package raises into the user's code once the arguments are accepted: a
failure is logged (logger ``carbonledger.compat``) and the user's work goes on, as the
original tools do. See ``docs/migrating.md`` for what maps to what and what differs.

The two modules are public (:data:`__all__`, each loaded on first use); the ``_``-prefixed
modules are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face

if TYPE_CHECKING:
    from carbonledger.compat import codecarbon, eco2ai

__all__ = ["codecarbon", "eco2ai"]


__getattr__, __dir__ = lazy_face(__name__, __all__, submodules=__all__)
