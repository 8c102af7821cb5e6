"""System-on-chip readings that cover several parts at once, one module per chip family:
Apple silicon through ``powermetrics`` (:mod:`.apple`); what they share in :mod:`.common`.

The chip modules are public (:data:`__all__`, each loaded on first use); ``common`` is
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face

if TYPE_CHECKING:
    from carbonledger.sensors.soc import apple

__all__ = ["apple"]


__getattr__, __dir__ = lazy_face(__name__, __all__, submodules=__all__)
