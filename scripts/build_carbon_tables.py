#!/usr/bin/env python3
"""Build carbonledger's shipped carbon tables from the public datasets.

Reads the reference files under ``--data`` (default ``/work/shared/data``, the layout
described in its README.md and SOURCES.tsv) and writes the CSV tables under
``src/carbonledger/carbon/data/``: countries, subregions, subregions_electricitymaps,
cloud_regions, pue, embodied and equivalents. Every row carries its source, year and
licence. Figures carry over from the datasets; the code and prose here are our own.

Run it again when a dataset is refreshed; it prints what each table reached::

    python scripts/build_carbon_tables.py [--data DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "carbonledger" / "carbon" / "data"

LB_PER_MWH_TO_G_PER_KWH = 0.45359237  # same constant as carbonledger.units

# ----------------------------------------------------------------------------- sources

OWID_SOURCE = (
    "Our World in Data, carbon intensity of electricity generation, from Ember (2025) and "
    "Energy Institute Statistical Review of World Energy (2024)"
)
OWID_LICENCE = "CC-BY-4.0"
EM_SOURCE = (
    "Electricity Maps (2025), {country} 2024 yearly carbon intensity data (version January "
    "27, 2025), via Green Algorithms data; https://www.electricitymaps.com"
)
EM_LICENCE = "ODbL-1.0"
EGRID_SOURCE = (
    "US EPA eGRID2023, state annual CO2e total output emission rate (STC2ERTA), via "
    "CodeCarbon private_infra/2023/usa_emissions.json"
)
EGRID_LICENCE = "public domain (US EPA)"
MEE_SOURCE = (
    "China Ministry of Ecology and Environment and National Bureau of Statistics, "
    "announcement 2025 No. 47, provincial average electricity CO2 emission factors 2023, "
    "via CodeCarbon private_infra/2023/china_provincial_emissions.json"
)
MEE_LICENCE = "government data (PRC MEE); CodeCarbon wrapper MIT"

# ISO 3166-1 codes the OWID file carries but the mapping files lack (facts, not expression)
ISO_EXTRA = {
    "OWID_KOS": ("XK", "XKX"),  # Kosovo: user-assigned code used by the EU and Electricity Maps
    "NAM": ("NA", "NAM"),
    "BMU": ("BM", "BMU"),
    "TLS": ("TL", "TLS"),
    "GIB": ("GI", "GIB"),
    "SHN": ("SH", "SHN"),
    "ESH": ("EH", "ESH"),
}
# Electricity Maps country-level zones missing from OWID: ISO alpha-3 for each
EM_ONLY_ALPHA3 = {
    "AX": "ALA",
    "CW": "CUW",
    "FM": "FSM",
    "GS": "SGS",
    "PW": "PLW",
    "YT": "MYT",
}


def read_csv(path: Path, skip: int = 0) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for _ in range(skip):
            fh.readline()
        return list(csv.DictReader(fh))


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _fmt(row.get(c, "")) for c in columns})


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


# ----------------------------------------------------------------------------- countries


def iso_map(data: Path) -> dict[str, tuple[str, str]]:
    """OWID code -> (alpha-2, alpha-3), from CarbonTracker's and eco2AI's tables."""
    out: dict[str, tuple[str, str]] = {}
    for r in read_csv(data / "eco2ai" / "carbon_index.csv"):
        if r["region"] == "Whole country" and r["alpha_2_code"] and r["alpha_3_code"]:
            out[r["alpha_3_code"]] = (r["alpha_2_code"], r["alpha_3_code"])
    for r in read_csv(data / "carbontracker" / "carbon-intensities.csv"):
        if r["Code"] and r["alpha-2"]:
            out[r["Code"]] = (r["alpha-2"], r["Code"])
    out.update(ISO_EXTRA)
    return out


def electricity_maps(data: Path) -> dict[str, dict[str, str]]:
    path = data / "green-algorithms-data" / "electricitymap" / "CI-electricitymap-yearly_2024.csv"
    return {r["Zone id"]: r for r in read_csv(path)}


def em_row(zone: dict[str, str], code: str, kind: str) -> dict[str, Any]:
    lifecycle = float(zone["Carbon intensity gCO₂eq/kWh (Life cycle)"])
    direct = float(zone["Carbon intensity gCO₂eq/kWh (direct)"])
    year = int(zone["Datetime (UTC)"][:4])
    return {
        "code": code,
        "name": zone["Zone name"],
        "intensity_g_per_kwh": lifecycle,
        "direct_g_per_kwh": direct,
        "year": year,
        "basis": "lifecycle",
        "source": EM_SOURCE.format(country=zone["Country"]),
        "licence": EM_LICENCE,
        "kind": kind,
    }


def build_countries(data: Path, em: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    iso = iso_map(data)
    latest: dict[str, dict[str, str]] = {}
    for r in read_csv(data / "owid" / "carbon-intensity-electricity.csv"):
        code = r["Code"]
        if not code:
            continue  # aggregates such as "Africa (Ember)"
        if code not in latest or int(r["Year"]) > int(latest[code]["Year"]):
            latest[code] = r
    rows: list[dict[str, Any]] = []
    for code, r in sorted(latest.items(), key=lambda kv: kv[1]["Entity"]):
        value = float(r["Carbon intensity of electricity - gCO2/kWh"])
        if code == "OWID_WRL":
            world = {
                "code": "WORLD",
                "alpha3": "",
                "name": "World",
                "intensity_g_per_kwh": value,
                "year": int(r["Year"]),
                "basis": "lifecycle",
                "source": OWID_SOURCE,
                "licence": OWID_LICENCE,
                "note": "world average; the default when the location is unknown",
            }
            continue
        alpha2, alpha3 = iso[code]
        row = {
            "code": alpha2,
            "alpha3": alpha3,
            "name": r["Entity"],
            "intensity_g_per_kwh": value,
            "year": int(r["Year"]),
            "basis": "lifecycle",
            "source": OWID_SOURCE,
            "licence": OWID_LICENCE,
            "note": "",
        }
        zone = em.get(alpha2)
        if row["year"] < 2023 and zone is not None:
            # Ember stops at 2022 here; Electricity Maps has the 2024 yearly figure.
            fresh = em_row(zone, alpha2, "country")
            row.update(
                intensity_g_per_kwh=fresh["intensity_g_per_kwh"],
                year=fresh["year"],
                source=fresh["source"],
                licence=EM_LICENCE,
                note=f"Ember/OWID latest is {r['Year']}: {value:.1f} g/kWh",
            )
        rows.append(row)
    for alpha2, alpha3 in sorted(EM_ONLY_ALPHA3.items()):
        fresh = em_row(em[alpha2], alpha2, "country")
        rows.append(
            {
                "code": alpha2,
                "alpha3": alpha3,
                "name": fresh["name"],
                "intensity_g_per_kwh": fresh["intensity_g_per_kwh"],
                "year": fresh["year"],
                "basis": "lifecycle",
                "source": fresh["source"],
                "licence": EM_LICENCE,
                "note": "not in the OWID/Ember table",
            }
        )
    rows.sort(key=lambda r: r["name"])
    rows.append(world)
    return rows


# ----------------------------------------------------------------------------- subregions


def build_em_subregions(em: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    rows = []
    for code, zone in sorted(em.items()):
        if "-" not in code:
            continue  # countries (and GLOBAL) live in countries.csv
        row = em_row(zone, code, "subregion")
        row["country"] = code.split("-")[0]
        row["cfe_share"] = round(float(zone["Carbon-free energy percentage (CFE%)"]) / 100, 4)
        rows.append(row)
    return rows


def build_subregions(data: Path, taken: set[str]) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    dropped: list[str] = []
    usa = json.loads((data / "codecarbon/private_infra/2023/usa_emissions.json").read_text())
    year = int(usa["_source"]["year"])
    for name, entry in usa.items():
        if name.startswith("_") or len(entry["regionCode"]) != 2:
            continue  # metadata and the national total
        code = "US-" + entry["regionCode"]
        if code in taken:
            dropped.append(f"{code} (eGRID; Electricity Maps 2024 zone of that code kept)")
            continue
        rows.append(
            {
                "code": code,
                "name": name.title().replace(" Of ", " of "),
                "country": "US",
                "intensity_g_per_kwh": entry["emissions"] * LB_PER_MWH_TO_G_PER_KWH,
                "year": year,
                "basis": "direct",
                "source": EGRID_SOURCE,
                "licence": EGRID_LICENCE,
            }
        )
    china = json.loads(
        (data / "codecarbon/private_infra/2023/china_provincial_emissions.json").read_text()
    )
    for code, entry in china["data"].items():
        rows.append(
            {
                "code": code,
                "name": entry["description"],
                "country": "CN",
                "intensity_g_per_kwh": float(entry["emission_factor"]),
                "year": int(entry["year"]),
                "basis": "direct",
                "source": MEE_SOURCE,
                "licence": MEE_LICENCE,
            }
        )
    nordic = json.loads((data / "codecarbon/private_infra/nordic_emissions.json").read_text())
    for key in nordic["data"]:
        code = key if len(key) == 2 else f"{key[:2]}-{key}"
        if code in taken:
            dropped.append(f"{code} (CodeCarbon Nordic; Electricity Maps 2024 zone kept)")
    rows.sort(key=lambda r: r["code"])
    return rows, dropped


# ----------------------------------------------------------------------------- cloud regions

# (provider, region, display name, location, grid zone). The grid zone is the most specific
# zone of our tables that holds the region's location; locations come from the files named
# in LOCATION_SOURCES, or from the providers' public region lists (PROVIDER_DOCS).
CLOUD: list[tuple[str, str, str, str, str]] = [
    # --- AWS
    ("aws", "us-east-1", "US East (N. Virginia)", "Ashburn, Virginia, US", "US-VA"),
    ("aws", "us-east-2", "US East (Ohio)", "Columbus, Ohio, US", "US-OH"),
    ("aws", "us-west-1", "US West (N. California)", "San Francisco, California, US", "US-CA"),
    ("aws", "us-west-2", "US West (Oregon)", "Oregon, US", "US-OR"),
    ("aws", "us-gov-east-1", "AWS GovCloud (US-East)", "Ohio, US", "US-OH"),
    ("aws", "us-gov-west-1", "AWS GovCloud (US-West)", "Seattle, Washington, US", "US-WA"),
    ("aws", "af-south-1", "Africa (Cape Town)", "Cape Town, South Africa", "ZA"),
    ("aws", "ap-east-1", "Asia Pacific (Hong Kong)", "Hong Kong", "HK"),
    ("aws", "ap-south-1", "Asia Pacific (Mumbai)", "Mumbai, India", "IN-WE"),
    ("aws", "ap-south-2", "Asia Pacific (Hyderabad)", "Hyderabad, India", "IN-SO"),
    ("aws", "ap-northeast-1", "Asia Pacific (Tokyo)", "Tokyo, Japan", "JP-TK"),
    ("aws", "ap-northeast-2", "Asia Pacific (Seoul)", "Seoul, South Korea", "KR"),
    ("aws", "ap-northeast-3", "Asia Pacific (Osaka)", "Osaka, Japan", "JP-KN"),
    ("aws", "ap-southeast-1", "Asia Pacific (Singapore)", "Singapore", "SG"),
    ("aws", "ap-southeast-2", "Asia Pacific (Sydney)", "Sydney, Australia", "AU-NSW"),
    ("aws", "ap-southeast-3", "Asia Pacific (Jakarta)", "Jakarta, Indonesia", "ID"),
    ("aws", "ap-southeast-4", "Asia Pacific (Melbourne)", "Melbourne, Australia", "AU-VIC"),
    ("aws", "ap-southeast-5", "Asia Pacific (Malaysia)", "Kuala Lumpur, Malaysia", "MY-WM"),
    ("aws", "ap-southeast-7", "Asia Pacific (Thailand)", "Bangkok, Thailand", "TH"),
    ("aws", "ca-central-1", "Canada (Central)", "Montreal, Quebec, Canada", "CA-QC"),
    ("aws", "ca-west-1", "Canada West (Calgary)", "Calgary, Alberta, Canada", "CA-AB"),
    ("aws", "cn-north-1", "China (Beijing)", "Beijing, China", "CN-BJ"),
    ("aws", "cn-northwest-1", "China (Ningxia)", "Zhongwei, Ningxia, China", "CN-NX"),
    ("aws", "eu-central-1", "Europe (Frankfurt)", "Frankfurt, Germany", "DE"),
    ("aws", "eu-central-2", "Europe (Zurich)", "Zurich, Switzerland", "CH"),
    ("aws", "eu-west-1", "Europe (Ireland)", "Dublin, Ireland", "IE"),
    ("aws", "eu-west-2", "Europe (London)", "London, United Kingdom", "GB"),
    ("aws", "eu-west-3", "Europe (Paris)", "Paris, France", "FR"),
    ("aws", "eu-south-1", "Europe (Milan)", "Milan, Italy", "IT-NO"),
    ("aws", "eu-south-2", "Europe (Spain)", "Aragon, Spain", "ES"),
    ("aws", "eu-north-1", "Europe (Stockholm)", "Stockholm, Sweden", "SE-SE3"),
    ("aws", "il-central-1", "Israel (Tel Aviv)", "Tel Aviv, Israel", "IL"),
    ("aws", "me-south-1", "Middle East (Bahrain)", "Bahrain", "BH"),
    ("aws", "me-central-1", "Middle East (UAE)", "United Arab Emirates", "AE"),
    ("aws", "mx-central-1", "Mexico (Central)", "Queretaro, Mexico", "MX"),
    ("aws", "sa-east-1", "South America (Sao Paulo)", "Sao Paulo, Brazil", "BR-CS"),
    # --- Google Cloud
    ("gcp", "africa-south1", "Johannesburg", "Johannesburg, South Africa", "ZA"),
    ("gcp", "asia-east1", "Taiwan", "Changhua County, Taiwan", "TW"),
    ("gcp", "asia-east2", "Hong Kong", "Hong Kong", "HK"),
    ("gcp", "asia-northeast1", "Tokyo", "Tokyo, Japan", "JP-TK"),
    ("gcp", "asia-northeast2", "Osaka", "Osaka, Japan", "JP-KN"),
    ("gcp", "asia-northeast3", "Seoul", "Seoul, South Korea", "KR"),
    ("gcp", "asia-south1", "Mumbai", "Mumbai, India", "IN-WE"),
    ("gcp", "asia-south2", "Delhi", "Delhi, India", "IN-NO"),
    ("gcp", "asia-southeast1", "Singapore", "Jurong West, Singapore", "SG"),
    ("gcp", "asia-southeast2", "Jakarta", "Jakarta, Indonesia", "ID"),
    ("gcp", "australia-southeast1", "Sydney", "Sydney, Australia", "AU-NSW"),
    ("gcp", "australia-southeast2", "Melbourne", "Melbourne, Australia", "AU-VIC"),
    ("gcp", "europe-central2", "Warsaw", "Warsaw, Poland", "PL"),
    ("gcp", "europe-north1", "Finland", "Hamina, Finland", "FI"),
    ("gcp", "europe-north2", "Stockholm", "Stockholm, Sweden", "SE-SE3"),
    ("gcp", "europe-southwest1", "Madrid", "Madrid, Spain", "ES"),
    ("gcp", "europe-west1", "Belgium", "St. Ghislain, Belgium", "BE"),
    ("gcp", "europe-west2", "London", "London, United Kingdom", "GB"),
    ("gcp", "europe-west3", "Frankfurt", "Frankfurt, Germany", "DE"),
    ("gcp", "europe-west4", "Netherlands", "Eemshaven, Netherlands", "NL"),
    ("gcp", "europe-west6", "Zurich", "Zurich, Switzerland", "CH"),
    ("gcp", "europe-west8", "Milan", "Milan, Italy", "IT-NO"),
    ("gcp", "europe-west9", "Paris", "Paris, France", "FR"),
    ("gcp", "europe-west10", "Berlin", "Berlin, Germany", "DE"),
    ("gcp", "europe-west12", "Turin", "Turin, Italy", "IT-NO"),
    ("gcp", "me-central1", "Doha", "Doha, Qatar", "QA"),
    ("gcp", "me-central2", "Dammam", "Dammam, Saudi Arabia", "SA"),
    ("gcp", "me-west1", "Tel Aviv", "Tel Aviv, Israel", "IL"),
    ("gcp", "northamerica-northeast1", "Montreal", "Montreal, Quebec, Canada", "CA-QC"),
    ("gcp", "northamerica-northeast2", "Toronto", "Toronto, Ontario, Canada", "CA-ON"),
    ("gcp", "northamerica-south1", "Mexico", "Queretaro, Mexico", "MX"),
    ("gcp", "southamerica-east1", "Sao Paulo", "Sao Paulo, Brazil", "BR-CS"),
    ("gcp", "southamerica-west1", "Santiago", "Santiago, Chile", "CL-SEN"),
    ("gcp", "us-central1", "Iowa", "Council Bluffs, Iowa, US", "US-IA"),
    ("gcp", "us-central2", "Oklahoma", "Oklahoma, US", "US-OK"),
    ("gcp", "us-east1", "South Carolina", "Berkeley County, South Carolina, US", "US-SC"),
    ("gcp", "us-east2", "Georgia", "Georgia, US", "US-GA"),
    ("gcp", "us-east4", "Northern Virginia", "Loudoun County, Virginia, US", "US-VA"),
    ("gcp", "us-east5", "Columbus", "Columbus, Ohio, US", "US-OH"),
    ("gcp", "us-south1", "Dallas", "Dallas, Texas, US", "US-TX"),
    ("gcp", "us-west1", "Oregon", "The Dalles, Oregon, US", "US-OR"),
    ("gcp", "us-west2", "Los Angeles", "Los Angeles, California, US", "US-CA"),
    ("gcp", "us-west3", "Salt Lake City", "Salt Lake City, Utah, US", "US-UT"),
    ("gcp", "us-west4", "Las Vegas", "Las Vegas, Nevada, US", "US-NV"),
    # --- Microsoft Azure (programmatic names)
    ("azure", "southafricanorth", "South Africa North", "Johannesburg, South Africa", "ZA"),
    ("azure", "southafricawest", "South Africa West", "Cape Town, South Africa", "ZA"),
    ("azure", "eastasia", "East Asia", "Hong Kong", "HK"),
    ("azure", "southeastasia", "Southeast Asia", "Singapore", "SG"),
    ("azure", "australiacentral", "Australia Central", "Canberra, Australia", "AU-NSW"),
    ("azure", "australiacentral2", "Australia Central 2", "Canberra, Australia", "AU-NSW"),
    ("azure", "australiaeast", "Australia East", "Sydney, New South Wales, Australia", "AU-NSW"),
    ("azure", "australiasoutheast", "Australia Southeast", "Melbourne, Victoria", "AU-VIC"),
    ("azure", "brazilsouth", "Brazil South", "Sao Paulo, Brazil", "BR-CS"),
    ("azure", "canadacentral", "Canada Central", "Toronto, Ontario, Canada", "CA-ON"),
    ("azure", "canadaeast", "Canada East", "Quebec City, Quebec, Canada", "CA-QC"),
    ("azure", "chinaeast", "China East", "Shanghai, China", "CN-SH"),
    ("azure", "chinaeast2", "China East 2", "Shanghai, China", "CN-SH"),
    ("azure", "chinanorth", "China North", "Beijing, China", "CN-BJ"),
    ("azure", "chinanorth2", "China North 2", "Beijing, China", "CN-BJ"),
    ("azure", "northeurope", "North Europe", "Dublin, Ireland", "IE"),
    ("azure", "westeurope", "West Europe", "Amsterdam, Netherlands", "NL"),
    ("azure", "francecentral", "France Central", "Paris, France", "FR"),
    ("azure", "francesouth", "France South", "Marseille, France", "FR"),
    ("azure", "germanycentral", "Germany Central (Sovereign)", "Frankfurt, Germany", "DE"),
    ("azure", "germanynorth", "Germany North", "Berlin, Germany", "DE"),
    ("azure", "germanynortheast", "Germany Northeast (Sovereign)", "Magdeburg, Germany", "DE"),
    ("azure", "germanywestcentral", "Germany West Central", "Frankfurt, Germany", "DE"),
    ("azure", "centralindia", "Central India", "Pune, India", "IN-WE"),
    ("azure", "southindia", "South India", "Chennai, India", "IN-SO"),
    ("azure", "westindia", "West India", "Mumbai, India", "IN-WE"),
    ("azure", "israelcentral", "Israel Central", "Israel", "IL"),
    ("azure", "italynorth", "Italy North", "Milan, Italy", "IT-NO"),
    ("azure", "japaneast", "Japan East", "Tokyo, Saitama, Japan", "JP-TK"),
    ("azure", "japanwest", "Japan West", "Osaka, Japan", "JP-KN"),
    ("azure", "koreacentral", "Korea Central", "Seoul, South Korea", "KR"),
    ("azure", "koreasouth", "Korea South", "Busan, South Korea", "KR"),
    ("azure", "mexicocentral", "Mexico Central", "Queretaro, Mexico", "MX"),
    ("azure", "newzealandnorth", "New Zealand North", "Auckland, New Zealand", "NZ"),
    ("azure", "norwayeast", "Norway East", "Oslo, Norway", "NO-NO1"),
    ("azure", "norwaywest", "Norway West", "Stavanger, Norway", "NO-NO2"),
    ("azure", "polandcentral", "Poland Central", "Warsaw, Poland", "PL"),
    ("azure", "qatarcentral", "Qatar Central", "Doha, Qatar", "QA"),
    ("azure", "spaincentral", "Spain Central", "Madrid, Spain", "ES"),
    ("azure", "switzerlandnorth", "Switzerland North", "Zurich, Switzerland", "CH"),
    ("azure", "switzerlandwest", "Switzerland West", "Geneva, Switzerland", "CH"),
    ("azure", "uaecentral", "UAE Central", "Abu Dhabi, United Arab Emirates", "AE"),
    ("azure", "uaenorth", "UAE North", "Dubai, United Arab Emirates", "AE"),
    ("azure", "uksouth", "UK South", "London, United Kingdom", "GB"),
    ("azure", "ukwest", "UK West", "Cardiff, United Kingdom", "GB"),
    ("azure", "centralus", "Central US", "Iowa, US", "US-IA"),
    ("azure", "eastus", "East US", "Virginia, US", "US-VA"),
    ("azure", "eastus2", "East US 2", "Virginia, US", "US-VA"),
    ("azure", "eastus3", "East US 3", "Georgia, US", "US-GA"),
    ("azure", "northcentralus", "North Central US", "Illinois, US", "US-IL"),
    ("azure", "southcentralus", "South Central US", "Texas, US", "US-TX"),
    ("azure", "westcentralus", "West Central US", "Wyoming, US", "US-WY"),
    ("azure", "westus", "West US", "California, US", "US-CA"),
    ("azure", "westus2", "West US 2", "Washington, US", "US-WA"),
    ("azure", "westus3", "West US 3", "Arizona, US", "US-AZ"),
    ("azure", "finlandcentral", "Finland Central", "Helsinki, Finland", "FI"),
    ("azure", "belgiumcentral", "Belgium Central", "Brussels, Belgium", "BE"),
    ("azure", "swedencentral", "Sweden Central", "Gavle, Sweden", "SE-SE3"),
    # --- other providers listed by mlco2/impact
    ("ovh", "gra", "Gravelines", "Gravelines, France", "FR"),
    ("ovh", "bhs", "Beauharnois", "Beauharnois, Quebec, Canada", "CA-QC"),
    ("scaleway", "fr-par", "Paris", "Paris, France", "FR"),
    ("coreweave", "lga1", "US East", "Weehawken, New Jersey, US", "US-NJ"),
    ("coreweave", "ord1", "US Central", "Chicago, Illinois, US", "US-IL"),
    ("coreweave", "las1", "US West", "Las Vegas, Nevada, US", "US-NV"),
    ("seeweb", "fro2", "Frosinone 2", "Frosinone, Italy", "IT-CSO"),
]

LOCATION_SOURCES = {
    "google": ("Google Cloud region-carbon-info 2024 (Apache-2.0)", 2024, "Apache-2.0"),
    "ga": (
        "Green Algorithms cloudProviders_datacenters.csv (CC-BY-4.0)",
        2023,
        "CC-BY-4.0",
    ),
    "mlco2": ("mlco2/impact impact.csv (MIT)", 2020, "MIT"),
    "ccf": (
        "Cloud Carbon Footprint ccf-coefficients grid-emissions-factors (Apache-2.0)",
        2023,
        "Apache-2.0",
    ),
}
PROVIDER_DOCS = {
    "aws": "AWS Regions and Availability Zones documentation (region list, 2025)",
    "azure": "Microsoft Azure geographies documentation (region list, 2025)",
    "gcp": "Google Cloud locations documentation (region list, 2025)",
}


def azure_code(display: str) -> str:
    base = display.split("(")[0].strip().replace("Northeastt", "Northeast")
    return base.lower().replace(" ", "")


def cloud_listings(data: Path) -> dict[tuple[str, str], list[str]]:
    """(provider, region) -> which source files list the region."""
    seen: dict[tuple[str, str], list[str]] = {}

    def add(provider: str, region: str, key: str) -> None:
        seen.setdefault((provider, region.strip().lower()), []).append(key)

    for r in read_csv(data / "google-region-carbon-info" / "2024.csv"):
        add("gcp", r["Google Cloud Region"], "google")
    for r in read_csv(data / "green-algorithms-tool" / "cloudProviders_datacenters.csv", skip=1):
        region = azure_code(r["Name"]) if r["provider"] == "azure" else r["Name"]
        add(r["provider"], region, "ga")
    for r in read_csv(data / "mlco2-impact" / "impact.csv"):
        region = r["region"] or ("fr-par" if r["provider"] == "scaleway" else "")
        add(r["provider"], region, "mlco2")
    for provider in ("aws", "azure", "gcp"):
        path = data / "ccf-coefficients" / "data" / f"grid-emissions-factors-{provider}.csv"
        for r in read_csv(path):
            region = azure_code(r["Region"]) if provider == "azure" else r["Region"]
            add(provider, region, "ccf")
    return seen


def build_cloud(data: Path, zones: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    listings = cloud_listings(data)
    google = {
        r["Google Cloud Region"]: r for r in read_csv(data / "google-region-carbon-info/2024.csv")
    }
    ours = {(p, r) for p, r, *_ in CLOUD}
    missing = sorted(k for k in listings if k not in ours)
    if missing:
        raise SystemExit(f"cloud regions listed by the sources but not mapped here: {missing}")
    rows = []
    for provider, region, display, location, grid in CLOUD:
        if grid not in zones:
            raise SystemExit(f"{provider}:{region}: grid zone {grid} is not in the tables")
        keys = listings.get((provider, region), [])
        if keys:
            primary = "google" if "google" in keys else keys[0]
            text, year, licence = LOCATION_SOURCES[primary]
            others = [LOCATION_SOURCES[k][0] for k in dict.fromkeys(keys) if k != primary]
            source = "region location: " + "; ".join([text, *others])
        else:
            source = "region location: " + PROVIDER_DOCS[provider]
            year, licence = 2025, "facts from the provider's public region list"
        g = google.get(region) if provider == "gcp" else None
        rows.append(
            {
                "code": f"{provider}:{region}",
                "provider": provider,
                "region": region,
                "name": display,
                "location": location,
                "grid_zone": grid,
                "provider_intensity_g_per_kwh": (
                    float(g["Grid carbon intensity (gCO2eq / kWh)"]) if g else ""
                ),
                "cfe_share": float(g["Google CFE"]) if g else "",
                "source": source,
                "year": year,
                "licence": licence,
            }
        )
    return rows


# ----------------------------------------------------------------------------- PUE

CCF_METHOD = (
    "Cloud Carbon Footprint methodology (cloudcarbonfootprint.org/docs/methodology), Apache-2.0"
)


def build_pue(data: Path) -> list[dict[str, Any]]:
    defaults = read_csv(data / "green-algorithms-data/data-centres/default-PUE_2024.csv", skip=1)
    by_provider = {r["provider"]: r for r in defaults}
    unknown = by_provider["Unknown"]
    ovh = by_provider["OVHcloud"]
    return [
        {
            "provider": "aws",
            "pue": 1.135,
            "source": CCF_METHOD + ": AWS average PUE",
            "year": 2021,
            "licence": "Apache-2.0",
        },
        {
            "provider": "gcp",
            "pue": 1.1,
            "source": CCF_METHOD + ": GCP average PUE (Google publishes its fleet PUE)",
            "year": 2021,
            "licence": "Apache-2.0",
        },
        {
            "provider": "azure",
            "pue": 1.185,
            "source": CCF_METHOD + ": Azure fleet-wide trailing 12-month PUE (Microsoft)",
            "year": 2021,
            "licence": "Apache-2.0",
        },
        {
            "provider": "ovh",
            "pue": float(ovh["PUE"]),
            "source": f"Green Algorithms default-PUE_2024.csv, citing {ovh['source']}",
            "year": 2023,
            "licence": "CC-BY-4.0",
        },
        {
            "provider": "unknown",
            "pue": float(unknown["PUE"]),
            "source": (
                "Uptime Institute Global Data Center Survey 2024 (industry average), via "
                "Green Algorithms default-PUE_2024.csv; reference only: carbonledger assumes "
                "1.0 off-cloud unless told"
            ),
            "year": 2024,
            "licence": "CC-BY-4.0",
        },
    ]


# ----------------------------------------------------------------------------- water

#: (provider, WUE L/kWh, year, source): fleet-wide water usage effectiveness as each provider
#: published it (The Green Grid's metric: site water per kWh of IT energy). Providers that
#: publish none (Google reports litres, not a WUE) have no row: the user gives one.
PUBLISHED_WUE = (
    (
        "aws",
        0.12,
        2025,
        "Amazon: AWS global data centre water usage effectiveness for 2025, as announced by "
        "Amazon News (2026); see sustainability.aboutamazon.com (AWS Cloud: water usage "
        "effectiveness)",
    ),
    (
        "azure",
        0.27,
        2025,
        "Microsoft: average water usage effectiveness of its owned datacenter fleet in 2025, "
        "announced 24 June 2026; see datacenters.microsoft.com/sustainability/efficiency",
    ),
)


def build_wue() -> list[dict[str, Any]]:
    return [
        {
            "provider": provider,
            "wue_l_per_kwh": wue,
            "source": source,
            "year": year,
            "licence": "figure published by the provider (a fact)",
        }
        for provider, wue, year, source in PUBLISHED_WUE
    ]


# ----------------------------------------------------------------------------- embodied

TEADS_CCF = (
    "Cloud Carbon Footprint embodied-emissions model (Teads / Dell PowerEdge R740 LCA); "
    "constants as in ccf-coefficients output/coefficients-*-embodied.csv"
)
GA_GPU = (
    "Green Algorithms hardware-impacts.csv: 26.97 kgCO2e per card (Loubet et al. 2023) + "
    "1.97 kgCO2e per cm2 of die (Groeger et al. 2021, Umweltbundesamt); die area: {area}"
)
# GPUs absent from Green Algorithms' GPUs-manual.csv: die areas from the vendors' whitepapers
EXTRA_GPU_DIE_CM2 = {
    "H100": (8.14, "NVIDIA H100 Tensor Core GPU architecture whitepaper (GH100, 814 mm2)"),
    "H200": (8.14, "NVIDIA H200 uses the GH100 die (814 mm2)"),
    "L4": (2.94, "NVIDIA Ada Lovelace architecture whitepaper (AD104, 294 mm2)"),
    "L40S": (6.09, "NVIDIA Ada Lovelace architecture whitepaper (AD102, 609 mm2)"),
    "A10": (6.28, "NVIDIA Ampere GA102 whitepaper (GA102, 628 mm2)"),
    "A10G": (6.28, "AWS G5 A10G uses the GA102 die (628 mm2)"),
}
# GPU family keys (matched as whole tokens in a device name) for Green Algorithms' model rows
GPU_FAMILY = {
    "NVIDIA Jetson AGX Xavier": "jetson agx xavier",
    "NVIDIA Tesla T4": "t4",
    "AMD Radeon RX 580": "rx 580",
    "NVIDIA GeForce RTX 2080": "rtx 2080",
    "NVIDIA GeForce RTX 2080 Ti": "rtx 2080 ti",
    "NVIDIA Quadro RTX 5000": "quadro rtx 5000",
    "NVIDIA GeForce GTX 1080": "gtx 1080",
    "NVIDIA GeForce GTX 1080 Ti": "gtx 1080 ti",
    "NVIDIA Titan V": "titan v",
    "NVIDIA GTX TITAN X": "gtx titan x",
    "NVIDIA TITAN X Pascal": "titan x pascal",
    "NVIDIA Tesla P100": "p100",
    "NVIDIA A100": "a100",
    "NVIDIA Tesla P4": "p4",
    "NVIDIA Tesla K80": "k80",
    "NVIDIA Tesla V100": "v100",
    "NVIDIA Quadro RTX 6000": "quadro rtx 6000",
    "NVIDIA H100 PCIe": "h100",
}


def _ga_value(rows: list[dict[str, str]], name: str) -> float:
    for r in rows:
        if r["variable"] == name:
            return float(r["value"])
    raise KeyError(name)


def build_embodied(data: Path) -> list[dict[str, Any]]:
    ga = read_csv(data / "green-algorithms-data" / "hardware-impacts.csv")
    gpu_base_kg = _ga_value(ga, "gpu_base_impact_gwp") / 1000
    gpu_die_kg_per_cm2 = _ga_value(ga, "gpu_die_impact_gwp") / 1000
    llm = {r["hardware"]: r for r in read_csv(data / "llmcarbon" / "hardware.csv")}
    ssd_kg_per_gb = float(llm["SSD"]["CPA (kgCO2/cm2 or GB)"])
    # CCF: check the constants against its published per-instance coefficients
    coeff = {
        r["type"]: r
        for r in read_csv(data / "ccf-coefficients/output/coefficients-aws-embodied.csv")
    }
    p4d = coeff["p4d.24xlarge"]  # 8 GPUs, 2 CPUs, 1152 GB, 8 SSD drives
    assert abs(float(p4d["additional_gpus"]) - 8 * 150) < 1e-6
    assert abs(float(p4d["additional_cpus"]) - 100) < 1e-6
    ram_kg_per_gb = float(p4d["additional_memory"]) / (1152 - 16)
    rows: list[dict[str, Any]] = [
        {
            "kind": "server",
            "model": "",
            "match": "",
            "co2e_kg": 1000.0,
            "per": "server (chassis, 1 CPU, 16 GB RAM)",
            "lifetime_years": 4,
            "method": "generic",
            "source": TEADS_CCF + ": 1,000 kgCO2e base server; 4-year life",
            "year": 2021,
            "licence": "Apache-2.0",
        },
        {
            "kind": "cpu",
            "model": "",
            "match": "",
            "co2e_kg": 100.0,
            "per": "CPU (beyond the server's first)",
            "lifetime_years": 4,
            "method": "generic",
            "source": TEADS_CCF + ": 100 kgCO2e per additional CPU",
            "year": 2021,
            "licence": "Apache-2.0",
        },
        {
            "kind": "gpu",
            "model": "",
            "match": "",
            "co2e_kg": 150.0,
            "per": "GPU",
            "lifetime_years": 4,
            "method": "generic",
            "source": TEADS_CCF + ": 150 kgCO2e per GPU",
            "year": 2021,
            "licence": "Apache-2.0",
        },
        {
            "kind": "ram_gb",
            "model": "",
            "match": "",
            "co2e_kg": round(ram_kg_per_gb, 5),
            "per": "GB of DRAM",
            "lifetime_years": 4,
            "method": "generic",
            "source": TEADS_CCF + ": 533 kgCO2e per 384 GB of DRAM",
            "year": 2021,
            "licence": "Apache-2.0",
        },
        {
            "kind": "ssd_tb",
            "model": "",
            "match": "",
            "co2e_kg": round(ssd_kg_per_gb * 1000, 3),
            "per": "TB of SSD",
            "lifetime_years": 4,
            "method": "generic",
            "source": (
                f"LLMCarbon hardware.csv (Faiz et al., ICLR 2024): {ssd_kg_per_gb} kgCO2e per "
                "GB of SSD (Samsung 20 nm); lifetime as the CCF server model"
            ),
            "year": 2024,
            "licence": "figures from the LLMCarbon paper",
        },
    ]
    gpus = read_csv(data / "green-algorithms-data" / "chips" / "GPUs-manual.csv", skip=1)
    seen: dict[str, tuple[str, float, str]] = {}
    for r in gpus:
        name = r["model"].strip()
        match = [(p, k) for p, k in GPU_FAMILY.items() if name.startswith(p)]
        if not match or not r["die_area"]:
            continue
        prefix, family = max(match, key=lambda pk: len(pk[0]))
        display = prefix.replace(" PCIe", "")
        seen.setdefault(family, (display, float(r["die_area"]), r["source"]))
    for key, (area, cite) in EXTRA_GPU_DIE_CM2.items():
        seen[key.lower()] = (f"NVIDIA {key}", area, cite)
    for family, (display, area, cite) in sorted(seen.items()):
        rows.append(
            {
                "kind": "gpu",
                "model": display,
                "match": family,
                "co2e_kg": round(gpu_base_kg + gpu_die_kg_per_cm2 * area, 2),
                "per": "GPU card",
                "lifetime_years": 4,
                "method": f"die area {area} cm2",
                "source": GA_GPU.format(area=f"{area} cm2 ({cite})"),
                "year": 2023,
                "licence": "CC-BY-4.0",
            }
        )
    return rows


# ----------------------------------------------------------------------------- equivalents

EPA_CALC = (
    "US EPA Greenhouse Gas Equivalencies Calculator, calculations and references (2022 revision)"
)


def build_equivalents(data: Path) -> list[dict[str, Any]]:
    ref = read_csv(data / "green-algorithms-tool" / "referenceValues.csv", skip=1)
    v = {r["variable"]: r for r in ref}

    def ga(key: str) -> tuple[float, str]:
        return float(v[key]["value"]), "Green Algorithms referenceValues.csv: " + v[key]["source"]

    car_eu, car_eu_src = ga("passengerCar_EU_perkm")
    car_us, car_us_src = ga("passengerCar_US_perkm")
    train, train_src = ga("train_perkm")
    tree_month, tree_src = ga("tree_month")
    flight, flight_src = ga("flight_PAR-LON")
    home_t_per_year = 11880 * 884.2 / (1 - 0.073) / 1000 / 2204.6
    return [
        {
            "name": "car_km_eu",
            "description": "km driven by an average EU passenger car",
            "unit": "km",
            "factor_g": car_eu,
            "source": car_eu_src,
            "year": 2019,
            "licence": "CC-BY-4.0",
        },
        {
            "name": "car_km_us",
            "description": "km driven by an average US passenger vehicle",
            "unit": "km",
            "factor_g": car_us,
            "source": car_us_src,
            "year": 2019,
            "licence": "CC-BY-4.0",
        },
        {
            "name": "train_km",
            "description": "km travelled by train (UK national rail average)",
            "unit": "km",
            "factor_g": train,
            "source": train_src,
            "year": 2020,
            "licence": "CC-BY-4.0",
        },
        {
            "name": "smartphone_charges",
            "description": "full smartphone charges",
            "unit": "charges",
            "factor_g": 8.22,
            "source": EPA_CALC + ": 8.22e-6 metric tons CO2 per smartphone charged",
            "year": 2022,
            "licence": "public domain (US EPA)",
        },
        {
            "name": "household_electricity_days_us",
            "description": "days of an average US household's electricity",
            "unit": "days",
            "factor_g": round(home_t_per_year * 1e6 / 365, 1),
            "source": (
                EPA_CALC + ": 11,880 kWh per home per year x 884.2 lb CO2/MWh / (1 - 7.3% "
                f"losses) = {home_t_per_year:.3f} t CO2 per home per year (2019 data), / 365"
            ),
            "year": 2019,
            "licence": "public domain (US EPA)",
        },
        {
            "name": "tree_months",
            "description": "months of CO2 uptake by a mature tree",
            "unit": "tree-months",
            "factor_g": tree_month,
            "source": tree_src + " (11 kgCO2 per tree per year / 12)",
            "year": 2002,
            "licence": "CC-BY-4.0",
        },
        {
            "name": "flights_paris_london",
            "description": "one-way economy flights Paris-London",
            "unit": "flights",
            "factor_g": flight,
            "source": flight_src,
            "year": 2021,
            "licence": "CC-BY-4.0",
        },
    ]


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    data: Path = args.data
    out: Path = args.out
    if not (data / "SOURCES.tsv").is_file():
        print(f"error: {data} does not hold the reference data (no SOURCES.tsv)", file=sys.stderr)
        return 2

    em = electricity_maps(data)
    countries = build_countries(data, em)
    em_sub = build_em_subregions(em)
    sub, dropped = build_subregions(data, {r["code"] for r in em_sub})
    zones = {r["code"]: r for r in [*countries, *em_sub, *sub]}
    codes = Counter(r["code"] for r in [*countries, *em_sub, *sub])
    dupes = [c for c, n in codes.items() if n > 1]
    if dupes:
        raise SystemExit(f"duplicate zone codes: {dupes}")
    cloud = build_cloud(data, zones)

    write_csv(
        out / "countries.csv",
        [
            "code",
            "alpha3",
            "name",
            "intensity_g_per_kwh",
            "year",
            "basis",
            "source",
            "licence",
            "note",
        ],
        countries,
    )
    write_csv(
        out / "subregions_electricitymaps.csv",
        [
            "code",
            "name",
            "country",
            "intensity_g_per_kwh",
            "direct_g_per_kwh",
            "cfe_share",
            "year",
            "basis",
            "source",
            "licence",
        ],
        em_sub,
    )
    write_csv(
        out / "subregions.csv",
        ["code", "name", "country", "intensity_g_per_kwh", "year", "basis", "source", "licence"],
        sub,
    )
    write_csv(
        out / "cloud_regions.csv",
        [
            "code",
            "provider",
            "region",
            "name",
            "location",
            "grid_zone",
            "provider_intensity_g_per_kwh",
            "cfe_share",
            "source",
            "year",
            "licence",
        ],
        cloud,
    )
    write_csv(out / "pue.csv", ["provider", "pue", "source", "year", "licence"], build_pue(data))
    write_csv(
        out / "wue.csv", ["provider", "wue_l_per_kwh", "source", "year", "licence"], build_wue()
    )
    embodied = build_embodied(data)
    write_csv(
        out / "embodied.csv",
        [
            "kind",
            "model",
            "match",
            "co2e_kg",
            "per",
            "lifetime_years",
            "method",
            "source",
            "year",
            "licence",
        ],
        embodied,
    )
    equivalents = build_equivalents(data)
    write_csv(
        out / "equivalents.csv",
        ["name", "description", "unit", "factor_g", "source", "year", "licence"],
        equivalents,
    )

    real = [r for r in countries if r["code"] != "WORLD"]
    recent = sum(1 for r in real if r["year"] >= 2023)
    from_em = sum(1 for r in real if r["licence"] == EM_LICENCE)
    print(
        f"countries.csv: {len(real)} countries + WORLD; {recent} ({recent / len(real):.1%}) "
        f"dated 2023 or later; {from_em} from Electricity Maps 2024 (Ember stops earlier)"
    )
    print(f"  years: {dict(sorted(Counter(r['year'] for r in real).items()))}")
    print(f"subregions_electricitymaps.csv: {len(em_sub)} Electricity Maps 2024 zones")
    by_country = Counter(r["country"] for r in sub)
    print(f"subregions.csv: {len(sub)} rows {dict(by_country)}")
    print(f"  sub-national zones in all: {len(sub) + len(em_sub)}")
    for d in dropped:
        print(f"  dropped {d}")
    by_provider = Counter(r["provider"] for r in cloud)
    print(f"cloud_regions.csv: {len(cloud)} regions {dict(by_provider)}")
    print(f"embodied.csv: {len(embodied)} rows; equivalents.csv: {len(equivalents)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
