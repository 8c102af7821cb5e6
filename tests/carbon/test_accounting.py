"""PUE, market-based emissions, embodied carbon and equivalents."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.carbon import (
    EmbodiedDevice,
    Location,
    embodied_co2e_g,
    equivalents,
    intensity,
    market_co2e_g,
    provider_pue,
    reference_pue,
    resolve_pue,
    world_average,
)
from carbonledger.carbon.embodied import SECONDS_PER_YEAR
from carbonledger.errors import InputError
from carbonledger.units import J_PER_KWH

YEAR_S = SECONDS_PER_YEAR


def on(provider: str | None, code: str = "WORLD") -> Location:
    zone = intensity(code) if code != "WORLD" else world_average()
    region = "r" if provider else None
    return Location(zone, "cloud-metadata" if provider else "default", provider, region)


# ----------------------------------------------------------------------------- PUE


def test_explicit_pue_is_validated_and_wins() -> None:
    assert resolve_pue(1.3, on("aws")) == (1.3, "argument")
    for bad in (0.9, 3.5, math.nan, math.inf, "x"):
        with pytest.raises(InputError, match=r"1\.0 and 3\.0|between 1.0 and 3.0"):
            resolve_pue(bad, on(None))  # type: ignore[arg-type]


@pytest.mark.parametrize(("provider", "value"), [("aws", 1.135), ("gcp", 1.1), ("azure", 1.185)])
def test_cloud_providers_get_their_published_pue(provider: str, value: float) -> None:
    pue, source = resolve_pue(None, on(provider))
    assert pue == value
    assert provider in source and "Cloud Carbon Footprint" in source
    assert provider_pue(provider) is not None


def test_off_cloud_pue_is_assumed_and_says_so() -> None:
    pue, source = resolve_pue(None, on(None))
    assert pue == 1.0 and source.startswith("assumed 1.0")
    assert "1.56" in source and "CARBONLEDGER_PUE" in source
    assert reference_pue()[0] == 1.56


def test_a_cloud_without_a_published_pue_is_assumed_too() -> None:
    pue, source = resolve_pue(None, on("coreweave"))
    assert pue == 1.0 and "coreweave" in source and source.startswith("assumed")
    assert provider_pue("unknown") is None and provider_pue("coreweave") is None


# ----------------------------------------------------------------------------- market


def test_market_based_emissions() -> None:
    assert market_co2e_g(J_PER_KWH, 1.0, 100.0) == pytest.approx(100.0)
    assert market_co2e_g(2 * J_PER_KWH, 1.5, 0.0) == 0.0
    assert market_co2e_g(J_PER_KWH, 1.2, 250.0) == pytest.approx(300.0)


@pytest.mark.parametrize(
    ("energy", "pue", "factor"),
    [(-1, 1.0, 100), (math.nan, 1.0, 100), (1, 0.5, 100), (1, 1.0, -5), (1, 1.0, 5000)],
)
def test_market_inputs_are_validated(energy: float, pue: float, factor: float) -> None:
    with pytest.raises(InputError):
        market_co2e_g(energy, pue, factor)


@given(
    energy=st.floats(0, 1e15, allow_nan=False),
    pue=st.floats(1.0, 3.0),
    factor=st.floats(0, 2000),
)
def test_market_is_energy_times_pue_times_the_contract(
    energy: float, pue: float, factor: float
) -> None:
    assert market_co2e_g(energy, pue, factor) == pytest.approx(energy / J_PER_KWH * pue * factor)


# ----------------------------------------------------------------------------- embodied


def test_generic_server_over_its_lifetime() -> None:
    result = embodied_co2e_g([("server", "")], duration_s=4 * YEAR_S)
    assert result.co2e_g == pytest.approx(1_000_000.0)
    (item,) = result.devices
    assert item.kind == "server" and item.lifetime_years == 4 and item.method == "generic"
    assert "Cloud Carbon Footprint" in item.source and item.manufacturing_co2e_g == 1e6


def test_gpu_models_resolve_by_die_area_else_generic() -> None:
    one_year = embodied_co2e_g(
        [("gpu", "NVIDIA H100 80GB HBM3"), ("gpu", "NVIDIA A100-SXM4-80GB"), ("gpu", "Mystery X")],
        duration_s=YEAR_S,
    )
    h100, a100, other = one_year.devices
    assert h100.matched == "NVIDIA H100" and h100.method.startswith("die area 8.14")
    assert h100.manufacturing_co2e_g == pytest.approx((26.97 + 1.97 * 8.14) * 1000, rel=1e-3)
    assert a100.matched == "NVIDIA A100"
    assert other.matched == "" and other.manufacturing_co2e_g == 150_000.0
    assert one_year.co2e_g == pytest.approx(
        sum(d.manufacturing_co2e_g for d in one_year.devices) / 4
    )


def test_longest_gpu_name_wins() -> None:
    ti, plain, a10 = embodied_co2e_g(
        [
            ("gpu", "NVIDIA GeForce RTX 2080 Ti"),
            ("gpu", "GeForce RTX 2080"),
            ("gpu", "NVIDIA A10G"),
        ],
        duration_s=1,
    ).devices
    assert ti.matched == "NVIDIA GeForce RTX 2080 Ti" and plain.matched == "NVIDIA GeForce RTX 2080"
    assert a10.matched == "NVIDIA A10G"


def test_quantities_share_and_lifetime_override() -> None:
    result = embodied_co2e_g(
        [
            EmbodiedDevice("ram_gb", quantity=384),
            ("ssd_tb", "", 2.0),
            ("ram_gb", "16"),
            "cpu",
        ],
        duration_s=YEAR_S,
        share=0.5,
        lifetime_years=2,
    )
    ram, ssd, ram16, cpu = result.devices
    assert ram.manufacturing_co2e_g == pytest.approx(533_000, rel=1e-3)
    assert ssd.manufacturing_co2e_g == pytest.approx(36_000)
    assert ram16.quantity == 16
    assert cpu.manufacturing_co2e_g == 100_000
    assert all(d.lifetime_years == 2 for d in result.devices)
    expected = sum(d.manufacturing_co2e_g for d in result.devices) * 0.5 / 2
    assert result.co2e_g == pytest.approx(expected)
    assert result.share == 0.5 and "amortisation" in result.method
    assert result.to_dict()["devices"][0]["kind"] == "ram_gb"


@pytest.mark.parametrize(
    ("devices", "kwargs"),
    [
        ([("tpu", "v4")], {"duration_s": 1}),
        ([("gpu", "H100")], {"duration_s": -1}),
        ([("gpu", "H100")], {"duration_s": 1, "share": 0}),
        ([("gpu", "H100")], {"duration_s": 1, "share": 1.5}),
        ([("gpu", "H100")], {"duration_s": 1, "lifetime_years": 0}),
        ([("ram_gb", "", -3.0)], {"duration_s": 1}),
        ([42], {"duration_s": 1}),
    ],
)
def test_embodied_inputs_are_validated(devices: list[object], kwargs: dict[str, float]) -> None:
    with pytest.raises(InputError):
        embodied_co2e_g(devices, **kwargs)  # type: ignore[arg-type]


def test_no_devices_no_embodied() -> None:
    assert embodied_co2e_g([], duration_s=100).co2e_g == 0.0


# ----------------------------------------------------------------------------- equivalents


def test_equivalents_are_cited_and_proportional() -> None:
    eqs = {e.name: e for e in equivalents(17_500.0)}
    assert {
        "car_km_eu",
        "car_km_us",
        "smartphone_charges",
        "household_electricity_days_us",
        "tree_months",
    } <= set(eqs)
    assert eqs["car_km_eu"].value == pytest.approx(100.0)
    assert eqs["car_km_eu"].unit == "km" and eqs["car_km_eu"].factor == 175
    for e in eqs.values():
        assert e.source and e.value == pytest.approx(17_500.0 / e.factor)
    assert all(e.value == 0 for e in equivalents(0))


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_equivalents_reject_bad_amounts(bad: float) -> None:
    with pytest.raises(InputError):
        equivalents(bad)
