"""GPU sensors, one module per vendor: NVIDIA through NVML (:mod:`.nvidia`), AMD through
amdsmi (:mod:`.amd`); what they share in :mod:`.common`.

The vendor modules are public (:data:`__all__`, each loaded on first use); ``common`` and
``cuda_visible`` are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face

if TYPE_CHECKING:
    from carbonledger.sensors.gpu import amd, nvidia

__all__ = ["amd", "nvidia"]


__getattr__, __dir__ = lazy_face(__name__, __all__, submodules=__all__)
