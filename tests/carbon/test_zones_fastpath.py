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


def test_one_row_lookup_agrees_with_the_whole_table() -> None:
    """_country_row parses only the row it finds; for every code, alpha-3, some names and
    misses it gives what the whole table's index gives."""
    rows = z._country_rows()
    keys = set(rows) | {"france", "world", "united states", "xx", "zzz", "fr ", "f"}
    for key in keys:
        assert z._country_row(key) == rows.get(key), key


def test_ascii_keys_skip_unicodedata_and_agree_with_it() -> None:
    import unicodedata

    for text in ("France", "  united   KINGDOM ", "aws:eu-west-3", "US-CA", "Côte d'Ivoire", "Ærø"):
        decomposed = unicodedata.normalize("NFKD", text)
        plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        assert z._key(text) == " ".join(plain.casefold().split())
