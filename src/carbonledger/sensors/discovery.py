"""The former home of discovery, kept so that existing imports work: everything here is
:mod:`carbonledger.sensors.registry`'s (the registry of vendor modules, ``discover``,
``discover_for_run``, the ``Discovery`` record). New code imports the registry."""

from __future__ import annotations

from carbonledger.sensors.gpu.common import NVIDIA_DRIVER_PATHS
from carbonledger.sensors.registry import (
    Discovery,
    DiscoveryOptions,
    PowerAssumption,
    discover,
    discover_for_run,
)

__all__ = [
    "NVIDIA_DRIVER_PATHS",
    "Discovery",
    "DiscoveryOptions",
    "PowerAssumption",
    "discover",
    "discover_for_run",
]
