"""Readable figures: scaled units, 3 significant figures, short CO2e line, brief sources."""

from __future__ import annotations

import pytest

from carbonledger.accounting import CarbonContext, RunFacts, account
from carbonledger.models import ComponentEnergy, RunSummary
from carbonledger.report import format as fmt
from carbonledger.report.text import (
    brief_source,
    format_energy_j,
    format_summary,
    meaningful_equivalents,
    unique_prefixes,
)

LONG_SOURCE = (
    "Our World in Data, carbon intensity of electricity generation, from Ember (2025) and "
    "Energy Institute Statistical Review of World Energy (2024), 2023 (FR, lifecycle)"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, "0"), (1234.0, "1230"), (0.012345, "0.0123"), (999.6, "1000"), (1.5, "1.50"),
     (-3.2, "-3.20")],
)  # fmt: skip
def test_sig3(value: float, expected: str) -> None:
    assert fmt.sig3(value) == expected


@pytest.mark.parametrize(
    ("energy_j", "expected"),
    [(0.0123, "12.3 mJ"), (1.0, "1.00 J"), (2500.0, "2.50 kJ"), (4.5e7, "12.5 kWh"),
     (3.6e3, "1.00 Wh"), (3.6e9, "1.00 MWh"), (0.0, "0 J")],
)  # fmt: skip
def test_energy_is_scaled(energy_j: float, expected: str) -> None:
    assert format_energy_j(energy_j) == expected


def test_units_of_every_kind() -> None:
    assert fmt.grams(0.0004) == "400 µg"
    assert fmt.grams(0.05) == "50.0 mg"
    assert fmt.grams(12_345.0) == "12.3 kg"
    assert fmt.grams(2.5e6) == "2.50 t"
    assert fmt.watt_hours(36.0) == "10.0 mWh"
    assert fmt.watts(0.004) == "4.00 mW"
    assert fmt.duration(90) == "1.50 min"
    assert fmt.percent(0.12345) == "12.3%"
    assert "e" not in fmt.sig3(1.24658e-05)


def test_brief_source_names_the_source_and_the_data_year() -> None:
    assert brief_source(LONG_SOURCE) == "Our World in Data 2023"
    assert brief_source("argument (grid_g_per_kwh)") == "argument"


def _summary(co2e_scale: float = 1.0, **extra: object) -> RunSummary:
    cpu = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 3.6e6 * co2e_scale, 3600.0)
    ram = ComponentEnergy("ram", "ram", "ram-model", False, 3.6e5, 3600.0, 1.8e5, 5.4e5)
    return account(
        RunFacts("0123456789abcdef0123456789abcdef", "vision", "base", "completed", 0.0, 3600.0),
        (cpu, ram), CarbonContext("FR", "argument", 56.0, LONG_SOURCE, 1.2, "argument"),
        extra=dict(extra),
    )  # fmt: skip


def test_summary_co2e_line_is_short_and_cites_briefly() -> None:
    text = format_summary(_summary())
    line = next(x for x in text.splitlines() if x.strip().startswith("CO2e"))
    assert len(line) < 110, line
    assert "Our World in Data 2023" in line and "73.9 g" in line and "PUE 1.2" in line
    assert "Ember" not in text  # the full citation only on request
    full = format_summary(_summary(), citations=True)
    assert LONG_SOURCE in full
    assert "1.10 kWh" in text and "90.9% measured" in text


def test_equivalents_only_when_meaningful() -> None:
    assert meaningful_equivalents(1e-6) == []  # a microgram is nothing anyone can picture
    items = meaningful_equivalents(1000.0)
    assert items and all(0.1 <= float(v) <= 1e6 for v, _ in items)
    no_energy = account(
        RunFacts("r", "vision", "base", "completed", 0.0, 3600.0), (),
        CarbonContext("FR", "argument", 56.0, LONG_SOURCE, 1.2, "argument"),
    )  # fmt: skip
    assert "about" not in format_summary(no_energy)


def test_metrics_are_printed() -> None:
    assert "metrics accuracy=0.93" in format_summary(_summary(metrics={"accuracy": 0.93}))


def test_unique_prefixes_never_collide() -> None:
    ids = ["abcdef0123456789aa", "abcdef0123456789bb", "ffff000011112222"]
    got = unique_prefixes(ids, min_len=8)
    assert got["ffff000011112222"] == "ffff0000"
    assert got["abcdef0123456789aa"] == "abcdef0123456789a"
    for rid, prefix in got.items():
        assert rid.startswith(prefix)
        assert [o for o in ids if o.startswith(prefix)] == [rid]
