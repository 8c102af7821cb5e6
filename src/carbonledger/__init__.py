"""carbonledger: measure, predict and report the energy and carbon footprint of ML work.

::

    import carbonledger as cl

    with cl.Tracker(project="resnet", country="FR") as run:
        with run.window("epoch-1"):
            train_one_epoch()
    print(run.summary().co2e_kg)

    est = cl.predict.training(params=7e9, tokens=2e12, accelerator="A100-80GB",
                              devices=1024, pue=1.1, grid_g_per_kwh=385)

Importing the package is cheap: everything below is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from carbonledger._lazy import lazy_face
from carbonledger._version import __version__

if TYPE_CHECKING:
    from carbonledger import carbon, predict, testing
    from carbonledger.errors import (
        CarbonLedgerError,
        InputError,
        IntegrityError,
        LedgerError,
        SensorError,
        StateError,
        UnknownNameError,
    )
    from carbonledger.ledger import open_ledger
    from carbonledger.models import (
        ComponentEnergy,
        Reading,
        RunSummary,
        Sample,
        SensorInfo,
        WindowSummary,
    )
    from carbonledger.run import Tracker, track
    from carbonledger.sensors import DiscoveryOptions, discover

__all__ = [
    "CarbonLedgerError",
    "ComponentEnergy",
    "DiscoveryOptions",
    "InputError",
    "IntegrityError",
    "LedgerError",
    "Reading",
    "RunSummary",
    "Sample",
    "SensorError",
    "SensorInfo",
    "StateError",
    "Tracker",
    "UnknownNameError",
    "WindowSummary",
    "__version__",
    "carbon",
    "discover",
    "open_ledger",
    "predict",
    "testing",
    "track",
]

# name -> the public module it comes from (each package's face, or a ground module)
_LAZY: dict[str, str] = {
    "Tracker": "carbonledger.run",
    "track": "carbonledger.run",
    "discover": "carbonledger.sensors",
    "DiscoveryOptions": "carbonledger.sensors",
    "open_ledger": "carbonledger.ledger",
    "ComponentEnergy": "carbonledger.models",
    "Reading": "carbonledger.models",
    "RunSummary": "carbonledger.models",
    "Sample": "carbonledger.models",
    "SensorInfo": "carbonledger.models",
    "WindowSummary": "carbonledger.models",
    "CarbonLedgerError": "carbonledger.errors",
    "InputError": "carbonledger.errors",
    "IntegrityError": "carbonledger.errors",
    "LedgerError": "carbonledger.errors",
    "SensorError": "carbonledger.errors",
    "StateError": "carbonledger.errors",
    "UnknownNameError": "carbonledger.errors",
}
_SUBMODULES = ("carbon", "predict", "testing")


__getattr__, __dir__ = lazy_face(__name__, __all__, _LAZY, _SUBMODULES)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext carbonledger``: the notebook magics (see carbonledger.integrations.jupyter)."""
    from carbonledger.integrations.jupyter import load_ipython_extension as load

    load(ipython)
