"""Read hardware, nothing else: one module per vendor (``cpu/``, ``gpu/``, ``soc/``,
``memory.py``), the Sensor protocol and probe contract (``base.py``), and the registry that
tries each vendor in order (``registry.py``).

The public surface is :data:`__all__`, each name loaded on first use: discovery
(:func:`discover`, :func:`discover_for_run`, their options and result), the
:class:`Sensor` protocol and the probe contract a vendor module implements, the
:data:`REGISTRY`; and the modules :mod:`~.allocation` (a job's share of a shared node),
:mod:`~.memory` (the RAM model), and the vendor packages :mod:`~.cpu`, :mod:`~.gpu`,
:mod:`~.soc` (each lists its public modules). The private platform modules (``_linux``,
``_portable``, ``_procstat``), ``base``, ``registry`` and ``discovery`` are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face

if TYPE_CHECKING:
    from carbonledger.sensors import allocation, cpu, gpu, memory, soc
    from carbonledger.sensors.base import (
        DiscoveryOptions,
        PowerAssumption,
        Probe,
        ProbeContext,
        Sensor,
    )
    from carbonledger.sensors.registry import (
        REGISTRY,
        Discovery,
        Entry,
        discover,
        discover_for_run,
    )

__all__ = [
    "REGISTRY",
    "Discovery",
    "DiscoveryOptions",
    "Entry",
    "PowerAssumption",
    "Probe",
    "ProbeContext",
    "Sensor",
    "allocation",
    "cpu",
    "discover",
    "discover_for_run",
    "gpu",
    "memory",
    "soc",
]

_LAZY: dict[str, str] = {
    "REGISTRY": "carbonledger.sensors.registry",
    "Discovery": "carbonledger.sensors.registry",
    "DiscoveryOptions": "carbonledger.sensors.base",
    "Entry": "carbonledger.sensors.registry",
    "PowerAssumption": "carbonledger.sensors.base",
    "Probe": "carbonledger.sensors.base",
    "ProbeContext": "carbonledger.sensors.base",
    "Sensor": "carbonledger.sensors.base",
    "discover": "carbonledger.sensors.registry",
    "discover_for_run": "carbonledger.sensors.registry",
}
_SUBMODULES = ("allocation", "cpu", "gpu", "memory", "soc")


__getattr__, __dir__ = lazy_face(__name__, __all__, _LAZY, _SUBMODULES)
