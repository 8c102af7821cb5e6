"""CPU sensors: RAPL powercap counters (:mod:`.rapl`), the TDP table (:mod:`.tdp`), the
per-vCPU table of virtual machines (:mod:`.vcpu`) and the utilisation models (:mod:`.model`).

Those four modules are public (:data:`__all__`, each loaded on first use); ``host`` (the
CPU's identity from ``/proc/cpuinfo`` and ``/sys``) is internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carbonledger.sensors.cpu import model, rapl, tdp, vcpu

__all__ = ["model", "rapl", "tdp", "vcpu"]


def __getattr__(name: str) -> object:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
