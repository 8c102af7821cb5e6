"""The one region ranking: cloud regions at their provider's PUE, countries at the job's own;
`regions` and `where` give one figure for one job in one place; CFE share, range, `near`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carbonledger.carbon import intensity, provider_pue
from carbonledger.cli.main import build_app
from carbonledger.errors import InputError
from carbonledger.report.regions import geography_of, rank_regions
from carbonledger.units import J_PER_KWH

RUN = "aaaa1111base0001"


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cloud_regions_at_their_providers_pue_with_range_and_sources() -> None:
    options = rank_regions(
        100 * J_PER_KWH,
        energy_low_j=80 * J_PER_KWH,
        energy_high_j=130 * J_PER_KWH,
        clouds=["aws", "gcp", "azure"],
        countries=False,
    )
    assert {o.provider for o in options} == {"aws", "gcp", "azure"}
    assert [o.co2e_g for o in options] == sorted(o.co2e_g for o in options)
    for o in options[:20]:
        pue, _ = provider_pue(o.provider)  # type: ignore[misc]
        zone = intensity(o.code)
        assert o.pue == pue and o.provider_pue and o.kind == "cloud"
        assert o.intensity_g_per_kwh == zone.intensity_g_per_kwh
        assert o.co2e_g == pytest.approx(100 * pue * zone.intensity_g_per_kwh)
        assert o.co2e_low_g == pytest.approx(0.8 * o.co2e_g)
        assert o.co2e_high_g == pytest.approx(1.3 * o.co2e_g)
        assert o.intensity_year == zone.year and o.intensity_source and o.pue_source
        assert (
            o.to_dict()["method"] == "estimated: IT energy x provider PUE x yearly grid intensity"
        )
    assert any(o.cfe_share is not None for o in options if o.provider == "gcp")


def test_countries_and_unpublished_providers_at_the_jobs_own_pue() -> None:
    options = rank_regions(
        J_PER_KWH, pue=1.4, pue_source="the run's", clouds=["coreweave", "gcp"], near="FR"
    )
    fr = next(o for o in options if o.code == "FR")
    assert fr.kind == "country" and fr.pue == 1.4 and not fr.provider_pue
    assert fr.co2e_g == pytest.approx(1.4 * intensity("FR").intensity_g_per_kwh)
    assert fr.pue_source == "the run's" and "the job's PUE" in fr.to_dict()["method"]
    gcp = [o for o in options if o.provider == "gcp"]
    assert gcp and all(o.pue == 1.1 for o in gcp)
    coreweave = rank_regions(J_PER_KWH, pue=1.4, clouds=["coreweave"], countries=False)
    assert coreweave and all(o.pue == 1.4 and not o.provider_pue for o in coreweave)


def test_near_keeps_the_same_geography() -> None:
    options = rank_regions(J_PER_KWH, near="aws:eu-west-2", clouds=["aws", "gcp", "azure"])
    assert options and all(o.geography == "Europe" for o in options)
    assert {"aws:eu-west-2", "FR", "DE"} <= {o.code for o in options}
    assert all(geography_of(intensity(o.code).country) == "Europe" for o in options)
    asia = rank_regions(1, near="gcp:asia-northeast1", clouds=["gcp"], countries=False)
    assert (
        asia and {o.geography for o in asia} == {"Asia"} and {o.provider for o in asia} == {"gcp"}
    )


def test_saving_against_the_jobs_own_place_at_its_own_pue() -> None:
    options = rank_regions(2 * J_PER_KWH, pue=1.2, reference_g_per_kwh=400.0, clouds=["aws"])
    for o in options[:30]:
        assert o.saving_g == pytest.approx(2 * 1.2 * 400.0 - o.co2e_g)
        assert o.saving_pct == pytest.approx(100 * o.saving_g / (2 * 1.2 * 400.0))
    assert rank_regions(0.0, countries=False, clouds=["gcp"])[0].saving_pct is None


def test_bad_input() -> None:
    with pytest.raises(InputError, match=r"unknown cloud provider.*oracle"):
        rank_regions(1, clouds=["aws", "oracle"])
    with pytest.raises(InputError, match="joules >= 0"):
        rank_regions(-1)
    with pytest.raises(InputError, match="joules >= 0"):
        rank_regions(1, energy_high_j=float("inf"))
    with pytest.raises(InputError, match=r"between 1\.0 and 3\.0"):
        rank_regions(1, pue=0.5)
    with pytest.raises(InputError):
        rank_regions(1, near="nowhere-at-all")


def test_regions_and_where_give_the_same_kg_for_the_same_kwh_and_region() -> None:
    """The issue's case: 1,200 kWh in gcp:europe-north2 was 24.5 kg in one and 27.0 in the
    other (PUE 1 vs Google's 1.1)."""
    code, out, err = cli(
        "regions", "--kwh", "1200", "--cloud", "gcp", "--only-cloud", "--top", "500", "--json"
    )
    assert code == 0, err
    by_regions = {o["code"]: o for o in json.loads(out)["options"]}
    code, out, err = cli("where", "--kwh", "1200", "--cloud", "gcp", "--top", "500", "--json")
    assert code == 0, err
    by_where = {o["code"]: o for o in json.loads(out)["regions"]}
    assert by_regions.keys() == by_where.keys() and len(by_where) > 10
    for region, row in by_where.items():
        assert by_regions[region]["co2e_g"] == pytest.approx(row["co2e_g"], rel=1e-12)
        assert by_regions[region]["pue"] == row["pue"] == 1.1
    zone = intensity("gcp:europe-north2")
    assert by_where["gcp:europe-north2"]["co2e_g"] == pytest.approx(
        1200 * 1.1 * zone.intensity_g_per_kwh
    )


def test_regions_text_says_which_pue_the_clouds_get() -> None:
    code, out, _ = cli("regions", "--kwh", "10", "--cloud", "aws", "--top", "3")
    assert code == 0
    assert out.splitlines()[0].endswith(
        "at PUE 1; cloud regions at their provider's PUE; saving against the world average"
    )
    code, out, _ = cli("regions", "--kwh", "10", "--top", "3")
    assert code == 0 and "provider" not in out.splitlines()[0]


def test_regions_and_where_of_a_run_agree_and_use_its_pue(ledger_path: Path) -> None:
    """A run of the ledger (FR, PUE 1.2): a provider that publishes no PUE gets the run's,
    Google gets its own, and both commands give the same grams for each region."""
    args = ["--cloud", "coreweave,gcp", "--top", "500", "--json"]
    code, out, err = cli("where", RUN, "--ledger", str(ledger_path), *args)
    assert code == 0, err
    by_where = {o["code"]: o for o in json.loads(out)["regions"]}
    code, out, err = cli("regions", RUN, "--ledger", str(ledger_path), "--only-cloud", *args)
    assert code == 0, err
    by_regions = {o["code"]: o for o in json.loads(out)["options"]}
    assert by_where.keys() == by_regions.keys()
    assert {o["pue"] for o in by_where.values() if o["provider"] == "coreweave"} == {1.2}
    assert {o["pue"] for o in by_where.values() if o["provider"] == "gcp"} == {1.1}
    for region, row in by_where.items():
        assert by_regions[region]["co2e_g"] == pytest.approx(row["co2e_g"], rel=1e-12)
