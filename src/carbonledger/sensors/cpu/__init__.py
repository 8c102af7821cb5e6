"""CPU sensors: RAPL powercap counters (:mod:`.rapl`), the TDP table (:mod:`.tdp`), the
per-vCPU table of virtual machines (:mod:`.vcpu`) and the utilisation models (:mod:`.model`).

Those four modules are public (:data:`__all__`, each loaded on first use); ``host`` (the
CPU's identity from ``/proc/cpuinfo`` and ``/sys``) is internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face

if TYPE_CHECKING:
    from carbonledger.sensors.cpu import model, rapl, tdp, vcpu

__all__ = ["model", "rapl", "tdp", "vcpu"]


__getattr__, __dir__ = lazy_face(__name__, __all__, submodules=__all__)
