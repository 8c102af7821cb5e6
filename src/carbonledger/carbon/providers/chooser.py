"""Which provider to ask for a grid zone: a file the user gave, else the UK API for Great
Britain, else Electricity Maps when its token is in the environment, else none (said why)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["TOKEN_ENV", "forecast_provider"]

#: environment variable holding an Electricity Maps API token
TOKEN_ENV = "CARBONLEDGER_ELECTRICITYMAPS_TOKEN"


def forecast_provider(
    zone: str,
    *,
    forecast_file: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 3.0,
    uk_base_url: str | None = None,
    electricitymaps_base_url: str | None = None,
) -> tuple[Any | None, str]:
    """The provider for grid ``zone`` and why it was chosen: ``forecast_file`` when given;
    else the UK Carbon Intensity API for ``GB`` (no token); else Electricity Maps when
    ``CARBONLEDGER_ELECTRICITYMAPS_TOKEN`` is set in ``env`` (default: the process's
    environment); else ``(None, reason)``. Online providers cache under
    ``$XDG_CACHE_HOME/carbonledger`` and are bounded by ``timeout_s`` seconds for the
    whole call. Each answers ``hourly`` (past hours) and ``forecast`` (hours ahead)."""
    env = os.environ if env is None else env
    if forecast_file:
        from carbonledger.carbon.providers.file import FileIntensityProvider

        return FileIntensityProvider(forecast_file), f"the file {forecast_file}"
    cache = os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "carbonledger",
    )
    kwargs: dict[str, Any] = {"timeout_s": timeout_s, "cache_dir": cache}
    if zone.strip().upper() in ("GB", "UK"):
        from carbonledger.carbon.providers.uk import UKCarbonIntensityProvider

        if uk_base_url:
            kwargs["base_url"] = uk_base_url
        return UKCarbonIntensityProvider(**kwargs), "zone GB: the UK Carbon Intensity API"
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        from carbonledger.carbon.providers.electricitymaps import ElectricityMapsProvider

        if electricitymaps_base_url:
            kwargs["base_url"] = electricitymaps_base_url
        return ElectricityMapsProvider(token, **kwargs), f"{TOKEN_ENV} is set"
    return None, (
        f"no forecast for zone {zone}: the UK API covers GB only; set {TOKEN_ENV} for "
        "Electricity Maps, or give --forecast FILE"
    )
