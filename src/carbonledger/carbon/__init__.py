"""Account: turn energy into CO2e, here, at this hour, with this PUE, plus the hardware's
manufacturing share.

* :func:`intensity`, :func:`list_zones`, :func:`world_average`: yearly grid intensity
  of every country, sub-national zone and cloud region (shipped tables, each row
  sourced, dated and licensed; loaded on first use).
* :func:`resolve_location`: where the work runs (arguments, environment, config, cloud
  metadata, opt-in IP geolocation, else the world average, said so).
* :func:`resolve_pue`: the facility overhead, with where it comes from.
* :func:`hourly_co2e` with an :class:`IntensityProvider`: hour-by-hour intensity; each
  provider's ``forecast()`` gives an :class:`IntensityForecast` of the hours ahead. The
  providers (file, UK Carbon Intensity, Electricity Maps) and the chooser
  (``forecast_provider``) live in :mod:`carbonledger.carbon.providers`.
* :func:`market_co2e_g`: market-based (contractual) emissions.
* :func:`resolve_water`, :func:`provider_wue`, :func:`resolve_price`: the data centre's water
  usage effectiveness (given, or a cloud provider's published figure) and the electricity's
  price (given), for the litres and the cost :mod:`carbonledger.accounting` computes.
* :func:`embodied_co2e_g`: manufacturing carbon amortised over the run.
* :func:`equivalents`: km driven, smartphone charges, tree-months...

Pure: no sensor or ledger imports; network only inside the provider classes and the
location probes, each time-bounded. Energy becomes CO2e only in
:mod:`carbonledger.accounting`, which the modules here call. Importing this package is
cheap: each module loads on first use of one of its names.

The public surface is :data:`__all__`: the names above and the :mod:`providers` package.
The modules that hold them (``zones``, ``location``, ``pue`` ...) are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face

if TYPE_CHECKING:
    from carbonledger.carbon import providers
    from carbonledger.carbon.embodied import (
        DEVICE_KINDS,
        EmbodiedDevice,
        EmbodiedItem,
        EmbodiedResult,
        embodied_co2e_g,
    )
    from carbonledger.carbon.equivalents import Equivalent, equivalents
    from carbonledger.carbon.hourly import HourlyResult, hourly_co2e
    from carbonledger.carbon.location import (
        DEFAULT_METADATA_URLS,
        Location,
        probe_cloud_metadata,
        resolve_location,
    )
    from carbonledger.carbon.market import market_co2e_g
    from carbonledger.carbon.providers.base import (
        IntensityForecast,
        IntensityProvider,
        ProviderError,
    )
    from carbonledger.carbon.providers.electricitymaps import ElectricityMapsProvider
    from carbonledger.carbon.providers.file import FileIntensityProvider
    from carbonledger.carbon.providers.uk import UKCarbonIntensityProvider
    from carbonledger.carbon.pue import (
        provider_pue,
        reference_pue,
        resolve_pue,
        unknown_facility_pue,
        validate_pue,
    )
    from carbonledger.carbon.water import provider_wue, resolve_price, resolve_water
    from carbonledger.carbon.zones import ZONE_KINDS, Zone, intensity, list_zones, world_average

__all__ = [
    "DEFAULT_METADATA_URLS",
    "DEVICE_KINDS",
    "ZONE_KINDS",
    "ElectricityMapsProvider",
    "EmbodiedDevice",
    "EmbodiedItem",
    "EmbodiedResult",
    "Equivalent",
    "FileIntensityProvider",
    "HourlyResult",
    "IntensityForecast",
    "IntensityProvider",
    "Location",
    "ProviderError",
    "UKCarbonIntensityProvider",
    "Zone",
    "embodied_co2e_g",
    "equivalents",
    "hourly_co2e",
    "intensity",
    "list_zones",
    "market_co2e_g",
    "probe_cloud_metadata",
    "provider_pue",
    "provider_wue",
    "providers",
    "reference_pue",
    "resolve_location",
    "resolve_price",
    "resolve_pue",
    "resolve_water",
    "unknown_facility_pue",
    "validate_pue",
    "world_average",
]

_SUBMODULES = ("providers",)

_LAZY: dict[str, str] = {
    "DEFAULT_METADATA_URLS": "carbonledger.carbon.location",
    "DEVICE_KINDS": "carbonledger.carbon.embodied",
    "ElectricityMapsProvider": "carbonledger.carbon.providers.electricitymaps",
    "EmbodiedDevice": "carbonledger.carbon.embodied",
    "EmbodiedItem": "carbonledger.carbon.embodied",
    "EmbodiedResult": "carbonledger.carbon.embodied",
    "Equivalent": "carbonledger.carbon.equivalents",
    "FileIntensityProvider": "carbonledger.carbon.providers.file",
    "HourlyResult": "carbonledger.carbon.hourly",
    "IntensityForecast": "carbonledger.carbon.providers.base",
    "IntensityProvider": "carbonledger.carbon.providers.base",
    "Location": "carbonledger.carbon.location",
    "ProviderError": "carbonledger.carbon.providers.base",
    "UKCarbonIntensityProvider": "carbonledger.carbon.providers.uk",
    "ZONE_KINDS": "carbonledger.carbon.zones",
    "Zone": "carbonledger.carbon.zones",
    "embodied_co2e_g": "carbonledger.carbon.embodied",
    "equivalents": "carbonledger.carbon.equivalents",
    "hourly_co2e": "carbonledger.carbon.hourly",
    "intensity": "carbonledger.carbon.zones",
    "list_zones": "carbonledger.carbon.zones",
    "market_co2e_g": "carbonledger.carbon.market",
    "probe_cloud_metadata": "carbonledger.carbon.location",
    "provider_pue": "carbonledger.carbon.pue",
    "provider_wue": "carbonledger.carbon.water",
    "resolve_price": "carbonledger.carbon.water",
    "resolve_water": "carbonledger.carbon.water",
    "reference_pue": "carbonledger.carbon.pue",
    "resolve_location": "carbonledger.carbon.location",
    "resolve_pue": "carbonledger.carbon.pue",
    "unknown_facility_pue": "carbonledger.carbon.pue",
    "validate_pue": "carbonledger.carbon.pue",
    "world_average": "carbonledger.carbon.zones",
}


__getattr__, __dir__ = lazy_face(__name__, __all__, _LAZY, _SUBMODULES)
