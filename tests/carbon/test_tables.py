"""Every row of every shipped table is sourced, dated, plausible and uniquely keyed."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from carbonledger.carbon._tables import TABLES, read_table

KEYS = {
    "countries.csv": "code",
    "subregions.csv": "code",
    "subregions_electricitymaps.csv": "code",
    "cloud_regions.csv": "code",
    "pue.csv": "provider",
    "wue.csv": "provider",
    "embodied.csv": None,  # (kind, match)
    "equivalents.csv": "name",
}
INTENSITY_TABLES = ("countries.csv", "subregions.csv", "subregions_electricitymaps.csv")


@pytest.mark.parametrize("name", TABLES)
def test_every_row_has_source_year_and_licence(name: str) -> None:
    rows = read_table(name)
    assert rows, name
    for row in rows:
        where = f"{name}: {row}"
        assert row["source"].strip(), where
        assert row["licence"].strip(), where
        year = int(row["year"])
        assert 1990 <= year <= 2026, where


@pytest.mark.parametrize("name", TABLES)
def test_keys_are_unique(name: str) -> None:
    rows = read_table(name)
    key = KEYS[name]
    keys = [row[key] for row in rows] if key else [(row["kind"], row["match"]) for row in rows]
    dupes = {k for k in keys if keys.count(k) > 1}
    assert not dupes, f"{name}: duplicate keys {dupes}"


def test_zone_codes_are_unique_across_tables() -> None:
    codes = [
        row["code"] for name in (*INTENSITY_TABLES, "cloud_regions.csv") for row in read_table(name)
    ]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("name", INTENSITY_TABLES)
def test_intensities_are_plausible(name: str) -> None:
    for row in read_table(name):
        value = float(row["intensity_g_per_kwh"])
        assert math.isfinite(value) and 0 <= value <= 1500, row
        assert row["basis"] in ("lifecycle", "direct"), row


def test_countries_cover_the_world_with_recent_figures() -> None:
    rows = [r for r in read_table("countries.csv") if r["code"] != "WORLD"]
    assert len(rows) >= 209
    recent = [r for r in rows if int(r["year"]) >= 2023]
    assert len(recent) / len(rows) >= 0.9
    for r in rows:
        assert re.fullmatch(r"[A-Z]{2}", r["code"]), r
        assert re.fullmatch(r"[A-Z]{3}", r["alpha3"]), r
    alpha3 = [r["alpha3"] for r in rows]
    assert len(alpha3) == len(set(alpha3))
    world = [r for r in read_table("countries.csv") if r["code"] == "WORLD"]
    assert len(world) == 1 and 300 < float(world[0]["intensity_g_per_kwh"]) < 600


def test_subnational_coverage() -> None:
    em = read_table("subregions_electricitymaps.csv")
    other = read_table("subregions.csv")
    assert len(em) + len(other) >= 220
    assert all(r["licence"] == "ODbL-1.0" and r["year"] == "2024" for r in em)
    codes = {r["code"] for r in (*em, *other)}
    for code in ("US-CAL-CISO", "SE-SE3", "IN-WE", "JP-TK", "AU-NSW", "US-CA", "US-TX", "CN-BJ"):
        assert code in codes, code
    countries = {r["code"] for r in read_table("countries.csv")}
    for r in (*em, *other):
        assert r["country"] in countries, r
        assert r["code"].startswith(r["country"] + "-"), r


def test_cloud_regions_map_to_known_grid_zones() -> None:
    rows = read_table("cloud_regions.csv")
    assert len(rows) >= 140
    providers = {r["provider"] for r in rows}
    assert {"aws", "gcp", "azure"} <= providers
    grid = {r["code"] for name in INTENSITY_TABLES for r in read_table(name)}
    for r in rows:
        assert r["code"] == f"{r['provider']}:{r['region']}", r
        assert r["grid_zone"] in grid, r
        if r["provider_intensity_g_per_kwh"]:
            assert 0 <= float(r["provider_intensity_g_per_kwh"]) <= 1500, r
        if r["cfe_share"]:
            assert 0 <= float(r["cfe_share"]) <= 1, r
    gcp = [r for r in rows if r["provider"] == "gcp"]
    assert all(r["cfe_share"] and r["provider_intensity_g_per_kwh"] for r in gcp)


def test_pue_embodied_and_equivalents_are_plausible() -> None:
    pue = {r["provider"]: float(r["pue"]) for r in read_table("pue.csv")}
    assert pue["aws"] == 1.135 and pue["gcp"] == 1.1 and pue["azure"] == 1.185
    assert pue["unknown"] == 1.56
    assert all(1.0 <= v <= 3.0 for v in pue.values())
    for r in read_table("embodied.csv"):
        assert 0 < float(r["co2e_kg"]) <= 5000, r
        assert 0 < float(r["lifetime_years"]) <= 15, r
        assert r["kind"] in ("server", "cpu", "gpu", "ram_gb", "ssd_tb"), r
    for r in read_table("equivalents.csv"):
        assert 0 < float(r["factor_g"]) < 1e7, r
        assert r["unit"], r


@pytest.mark.parametrize("name", TABLES)
def test_read_table_gives_what_csv_dictreader_gives(name: str) -> None:
    import csv

    from carbonledger.carbon import _tables

    with open(os.path.join(_tables._DATA, name), encoding="utf-8", newline="") as fh:
        expected = tuple(csv.DictReader(fh))
    assert read_table(name) == expected
    assert read_table(name) is read_table(name)  # read once per process


def test_a_damaged_table_names_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from carbonledger.carbon import _tables

    (tmp_path / "pue.csv").write_text(
        'provider,pue,source,year,licence\naws,1.1,"a, b",2024,CC0\ngcp,1.1,x,2024\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(_tables, "_DATA", str(tmp_path))
    read_table.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"pue.csv, line 3: .*header's 5"):
            read_table("pue.csv")
        with pytest.raises(KeyError, match="no shipped table"):
            read_table("other.csv")
    finally:
        read_table.cache_clear()
