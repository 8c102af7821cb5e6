"""Zone lookup: codes, names, cloud regions, suggestions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from carbonledger.carbon import ZONE_KINDS, Zone, intensity, list_zones, world_average
from carbonledger.errors import InputError, UnknownNameError


@pytest.mark.parametrize("query", ["FR", "fr", "FRA", "fra", "France", "  france "])
def test_country_by_code_alpha3_or_name(query: str) -> None:
    zone = intensity(query)
    assert zone.code == "FR" and zone.alpha3 == "FRA" and zone.kind == "country"
    assert zone.country == "FR"
    assert 0 < zone.intensity_g_per_kwh < 200 and zone.year >= 2023
    assert zone.basis == "lifecycle" and "Ember" in zone.source and zone.licence == "CC-BY-4.0"
    assert zone.provider == "" and zone.grid_zone == "" and zone.cfe_share is None


def test_accents_and_aliases() -> None:
    assert intensity("quebec").code == "CA-QC"
    assert intensity("Québec").code == "CA-QC"
    assert intensity("UK").code == "GB"
    assert intensity("USA").code == "US"


def test_a_country_name_wins_over_a_state_of_the_same_name() -> None:
    assert intensity("Georgia").code == "GE"
    assert intensity("US-GA").name == "Georgia"


def test_subregions() -> None:
    ca = intensity("US-CA")
    assert ca.kind == "subregion" and ca.country == "US" and ca.basis == "direct"
    assert ca.year == 2023 and "eGRID" in ca.source
    caiso = intensity("us-cal-ciso")
    assert caiso.code == "US-CAL-CISO" and caiso.licence == "ODbL-1.0" and caiso.year == 2024
    for code in ("SE-SE3", "IN-WE", "JP-TK", "AU-NSW", "CN-BJ"):
        assert intensity(code).kind == "subregion"


@pytest.mark.parametrize(
    ("code", "grid"),
    [("aws:eu-west-3", "FR"), ("gcp:europe-west1", "BE"), ("azure:westeurope", "NL")],
)
def test_cloud_regions_use_their_grid_zone(code: str, grid: str) -> None:
    zone = intensity(code)
    grid_zone = intensity(grid)
    assert zone.kind == "cloud" and zone.code == code and zone.grid_zone == grid
    assert zone.provider == code.split(":")[0]
    assert zone.intensity_g_per_kwh == grid_zone.intensity_g_per_kwh
    assert zone.year == grid_zone.year and zone.licence == grid_zone.licence
    assert zone.country == grid_zone.country
    assert f"grid zone {grid}" in zone.source


def test_gcp_regions_carry_google_figures() -> None:
    zone = intensity("GCP:Europe-West1")
    assert zone.cfe_share is not None and 0 < zone.cfe_share <= 1
    assert zone.provider_intensity_g_per_kwh is not None


def test_azure_display_names_work() -> None:
    assert intensity("azure:West Europe").code == "azure:westeurope"


def test_unknown_zone_suggests_close_matches() -> None:
    with pytest.raises(UnknownNameError) as info:
        intensity("Frnace")
    err = info.value
    assert isinstance(err, InputError) and err.exit_code == 2
    assert err.kind == "zone" and err.name == "Frnace"
    assert "France" in err.suggestions
    assert "did you mean" in str(err) and "carbonledger intensity --list" in str(err)
    with pytest.raises(UnknownNameError) as info:
        intensity("aws:eu-west-9")
    assert "aws:eu-west-3" in info.value.suggestions


@pytest.mark.parametrize("bad", ["", "   "])
def test_empty_query_is_an_input_error(bad: str) -> None:
    with pytest.raises(InputError):
        intensity(bad)


def test_list_zones_by_kind() -> None:
    everything = list_zones()
    by_kind = {k: list_zones(k) for k in ZONE_KINDS}
    assert len(everything) == sum(len(v) for v in by_kind.values())
    assert len(by_kind["country"]) >= 210
    assert len(by_kind["subregion"]) >= 220
    assert len(by_kind["cloud"]) >= 140
    assert all(isinstance(z, Zone) and z.kind == k for k, v in by_kind.items() for z in v)
    codes = [z.code for z in everything]
    assert len(codes) == len(set(codes))
    for zone in everything:  # every code resolves to itself
        assert intensity(zone.code) is zone


def test_list_zones_rejects_unknown_kinds() -> None:
    with pytest.raises(InputError, match="country, subregion, cloud"):
        list_zones("planet")


def test_world_average() -> None:
    world = world_average()
    assert world.code == "WORLD" and world.name == "World"
    assert 300 < world.intensity_g_per_kwh < 600 and world.year >= 2023
    assert intensity("world") is world


def test_to_dict_has_the_cli_keys() -> None:
    d = intensity("gcp:europe-west1").to_dict()
    assert list(d) == [
        "code",
        "name",
        "kind",
        "intensity_g_per_kwh",
        "year",
        "source",
        "licence",
        "basis",
        "provider",
        "grid_zone",
        "cfe_share",
    ]


def test_importing_the_package_reads_no_table_and_loads_no_http_code() -> None:
    """Tables are read on first use; the HTTP code loads only when a call is made (a tracker
    told where it runs never asks the network)."""
    code = (
        "import sys\nimport carbonledger.carbon as c\n"
        "from carbonledger.carbon import intensity, resolve_location, hourly_co2e\n"
        "from carbonledger.carbon._tables import read_table\n"
        "assert read_table.cache_info().currsize == 0\n"
        "resolve_location(country='FR')\n"
        "http = [m for m in ('urllib.request', 'http.client', 'ssl') if m in sys.modules]\n"
        "print(','.join(http))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_carbon_package_imports_no_sensor_or_ledger_code() -> None:
    code = (
        "import sys\nimport carbonledger.carbon as c\n"
        "for n in c.__all__: getattr(c, n)\n"
        "c.intensity('FR'); c.embodied_co2e_g([('gpu', 'H100')], duration_s=1)\n"
        "bad = [m for m in sys.modules if m.startswith(('carbonledger.sensors', "
        "'carbonledger.ledger', 'carbonledger.meter', 'carbonledger.run.tracker'))]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
