"""The country index (read by a tracker told its country) agrees with the full catalogue."""

from __future__ import annotations

from carbonledger.carbon import intensity, list_zones
from carbonledger.carbon import zones as z


def test_country_index_agrees_with_catalogue() -> None:
    index = z._countries()
    assert len(index) >= 2 * 200  # alpha-2 and alpha-3 codes
    catalogue = z._catalogue()
    for key, zone in index.items():
        assert catalogue.by_key[key] is zone, key
        assert intensity(key.upper()) is zone
        assert intensity(f"  {key} ") is zone
    assert {c.code for c in list_zones("country")} <= {v.code for v in index.values()}


def test_names_match_whatever_their_case_accents_and_spacing() -> None:
    ivory = intensity("CI")
    for text in ("Côte d'Ivoire", "cote d'ivoire", "  CÔTE   D'IVOIRE "):
        assert intensity(text) is ivory, text
    uk = intensity("GB")
    assert intensity("  united   KINGDOM ") is uk
    assert intensity("AWS:EU-WEST-3") is intensity("aws:eu-west-3")


def test_keys_fold_case_accents_and_spacing() -> None:
    assert z._key("  Ærø  Côte ") == "ærø cote"
    assert z._key("ﬁ") == "fi"  # compatibility forms decompose (NFKD)
    assert z._key("US-CA") == "us-ca"
