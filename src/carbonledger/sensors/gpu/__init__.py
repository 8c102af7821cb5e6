"""GPU sensors, one module per vendor: NVIDIA through NVML (:mod:`.nvidia`), AMD through
amdsmi (:mod:`.amd`); what they share in :mod:`.common`.

The vendor modules are public (:data:`__all__`, each loaded on first use); ``common`` and
``cuda_visible`` are internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carbonledger.sensors.gpu import amd, nvidia

__all__ = ["amd", "nvidia"]


def __getattr__(name: str) -> object:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
