"""The country-code shortcut agrees with the full catalogue for every country."""

from __future__ import annotations

from carbonledger.carbon import list_zones
from carbonledger.carbon import zones as z


def test_shortcut_agrees_with_catalogue() -> None:
    catalogue = z._catalogue()
    shortcut = z._countries_by_code()
    assert len(shortcut) >= 2 * 200
    for key, zone in shortcut.items():
        assert catalogue.by_key[key] is zone, key
    assert {c.code for c in list_zones("country")} <= {v.code for v in shortcut.values()}
