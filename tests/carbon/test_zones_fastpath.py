"""The country-code shortcut agrees with the full catalogue for every country."""

from __future__ import annotations

from carbonledger.carbon import list_zones
from carbonledger.carbon import zones as z


def test_shortcut_agrees_with_catalogue() -> None:
    shortcut = {key: z.intensity(key) for key in z._country_rows()}
    assert len(shortcut) >= 2 * 200
    catalogue = z._catalogue()
    for key, zone in shortcut.items():
        assert catalogue.by_key[key] is zone, key
        assert z.intensity(key.upper()) is zone
    assert {c.code for c in list_zones("country")} <= {v.code for v in shortcut.values()}
