"""System-on-chip readings that cover several parts at once, one module per chip family:
Apple silicon through ``powermetrics`` (:mod:`.apple`); what they share in :mod:`.common`.

The chip modules are public (:data:`__all__`, each loaded on first use); ``common`` is
internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carbonledger.sensors.soc import apple

__all__ = ["apple"]


def __getattr__(name: str) -> object:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
