"""Hourly and forecast grid-intensity providers, and the chooser.

* :mod:`~carbonledger.carbon.providers.base`: the :class:`IntensityProvider` protocol,
  :class:`IntensityForecast`, :class:`ProviderError`, the time helpers and
  :class:`OnlineProvider` (cache, whole-call deadline), the base of the HTTP providers;
* :mod:`~carbonledger.carbon.providers.file`: :class:`FileIntensityProvider` (your CSV or
  JSON rows; no network);
* :mod:`~carbonledger.carbon.providers.uk`: :class:`UKCarbonIntensityProvider` (Great
  Britain, no token);
* :mod:`~carbonledger.carbon.providers.electricitymaps`: :class:`ElectricityMapsProvider`
  (token);
* :mod:`~carbonledger.carbon.providers.chooser`: :func:`forecast_provider`, which picks
  one for a zone from a file, the zone and the environment.

The only network calls of :mod:`carbonledger.carbon` live in the two online providers. Each
module imports alone; this package loads a module on first use of one of its names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face

if TYPE_CHECKING:
    from carbonledger.carbon.providers.base import (
        IntensityForecast,
        IntensityProvider,
        OnlineProvider,
        ProviderError,
    )
    from carbonledger.carbon.providers.chooser import TOKEN_ENV, forecast_provider
    from carbonledger.carbon.providers.electricitymaps import ElectricityMapsProvider
    from carbonledger.carbon.providers.file import FileIntensityProvider
    from carbonledger.carbon.providers.uk import UKCarbonIntensityProvider

__all__ = [
    "TOKEN_ENV",
    "ElectricityMapsProvider",
    "FileIntensityProvider",
    "IntensityForecast",
    "IntensityProvider",
    "OnlineProvider",
    "ProviderError",
    "UKCarbonIntensityProvider",
    "forecast_provider",
]

_BASE = "carbonledger.carbon.providers.base"
_LAZY: dict[str, str] = {
    "TOKEN_ENV": "carbonledger.carbon.providers.chooser",
    "ElectricityMapsProvider": "carbonledger.carbon.providers.electricitymaps",
    "FileIntensityProvider": "carbonledger.carbon.providers.file",
    "IntensityForecast": _BASE,
    "IntensityProvider": _BASE,
    "OnlineProvider": _BASE,
    "ProviderError": _BASE,
    "UKCarbonIntensityProvider": "carbonledger.carbon.providers.uk",
    "forecast_provider": "carbonledger.carbon.providers.chooser",
}


__getattr__, __dir__ = lazy_face(__name__, __all__, _LAZY)
