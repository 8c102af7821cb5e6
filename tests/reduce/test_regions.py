"""Where to run: cloud regions ranked by a job's CO2e, with sources, CFE share and PUE."""

from __future__ import annotations

import pytest

from carbonledger.carbon import intensity, provider_pue
from carbonledger.errors import InputError
from carbonledger.reduce.regions import geography_of, rank_regions


def test_ranked_by_the_jobs_co2e_with_pue_and_sources() -> None:
    options = rank_regions(100, energy_low_kwh=80, energy_high_kwh=130)
    assert {o.provider for o in options} == {"aws", "gcp", "azure"}
    assert [o.co2e_g for o in options] == sorted(o.co2e_g for o in options)
    for o in options[:20]:
        pue, _ = provider_pue(o.provider)  # type: ignore[misc]
        zone = intensity(o.code)
        assert o.pue == pue and o.intensity_g_per_kwh == zone.intensity_g_per_kwh
        assert o.co2e_g == pytest.approx(100 * pue * zone.intensity_g_per_kwh)
        assert o.co2e_low_g == pytest.approx(0.8 * o.co2e_g)
        assert o.co2e_high_g == pytest.approx(1.3 * o.co2e_g)
        assert o.intensity_year == zone.year and o.intensity_source and o.pue_source
    assert any(o.cfe_share is not None for o in options if o.provider == "gcp")


def test_near_keeps_the_same_geography() -> None:
    options = rank_regions(1, near="aws:eu-west-2")
    assert options and all(o.geography == "Europe" for o in options)
    assert "aws:eu-west-2" in {o.code for o in options}
    assert all(geography_of(intensity(o.code).country) == "Europe" for o in options)
    asia = rank_regions(1, near="gcp:asia-northeast1", clouds=["gcp"])
    assert (
        asia and {o.geography for o in asia} == {"Asia"} and {o.provider for o in asia} == {"gcp"}
    )


def test_bad_input() -> None:
    with pytest.raises(InputError, match="unknown cloud oracle"):
        rank_regions(1, clouds=["aws", "oracle"])
    with pytest.raises(InputError, match="kWh >= 0"):
        rank_regions(-1)
    with pytest.raises(InputError):
        rank_regions(1, near="nowhere-at-all")
