"""Market-based emissions: the energy at the intensity of the electricity you contract.

The location-based figure (the grid where the work runs) is what the tables give; the
market-based one (GHG Protocol Scope 2 guidance) uses the emission factor of the
supplier contract, green tariff or power-purchase agreement instead. Both are reported
side by side; neither replaces the other.
"""

from __future__ import annotations

import math

from carbonledger.accounting import co2e_g
from carbonledger.carbon.pue import validate_pue
from carbonledger.errors import InputError

__all__ = ["MAX_CONTRACTUAL_G_PER_KWH", "market_co2e_g"]

#: above any real grid or supplier mix (coal plants emit about 1,000-1,200 g/kWh)
MAX_CONTRACTUAL_G_PER_KWH = 2000.0


def market_co2e_g(energy_j: float, pue: float, contractual_g_per_kwh: float) -> float:
    """Grams CO2e of ``energy_j`` joules of IT energy scaled by ``pue``, at the
    contractual emission factor ``contractual_g_per_kwh`` (0 for a fully matched
    renewable contract)."""
    try:
        energy = float(energy_j)
        factor = float(contractual_g_per_kwh)
    except (TypeError, ValueError):
        raise InputError(
            f"energy_j and contractual_g_per_kwh must be numbers, got {energy_j!r}, "
            f"{contractual_g_per_kwh!r}"
        ) from None
    if not math.isfinite(energy) or energy < 0:
        raise InputError(f"energy_j must be a finite number >= 0, got {energy_j!r}")
    if not math.isfinite(factor) or not 0 <= factor <= MAX_CONTRACTUAL_G_PER_KWH:
        raise InputError(
            "contractual_g_per_kwh must be between 0 and "
            f"{MAX_CONTRACTUAL_G_PER_KWH:g} g/kWh, got {contractual_g_per_kwh!r}"
        )
    return co2e_g(energy, pue=validate_pue(pue), intensity_g_per_kwh=factor)
