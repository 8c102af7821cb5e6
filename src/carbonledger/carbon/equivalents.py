"""Everyday equivalents of an amount of CO2e, each factor cited (``equivalents.csv``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from carbonledger.carbon._tables import read_table
from carbonledger.errors import InputError

__all__ = ["Equivalent", "equivalents"]


@dataclass(frozen=True)
class Equivalent:
    """``value`` ``unit`` emit as much CO2e as the amount given; ``factor`` is grams
    CO2e per unit."""

    name: str
    value: float
    unit: str
    factor: float
    source: str
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "value": self.value,
            "unit": self.unit,
            "factor": self.factor,
            "source": self.source,
        }


@cache
def _factors() -> tuple[tuple[str, str, str, float, str], ...]:
    return tuple(
        (
            r["name"],
            r["description"],
            r["unit"],
            float(r["factor_g"]),
            f"{r['source']} ({r['year']}, {r['licence']})",
        )
        for r in read_table("equivalents.csv")
    )


def equivalents(co2e_g: float) -> list[Equivalent]:
    """``co2e_g`` grams CO2e as km driven (EU and US cars), train km, smartphone charges,
    days of a US household's electricity, tree-months and Paris-London flights."""
    try:
        grams = float(co2e_g)
    except (TypeError, ValueError):
        grams = math.nan
    if not math.isfinite(grams) or grams < 0:
        raise InputError(f"co2e_g must be a finite number >= 0, got {co2e_g!r}")
    return [
        Equivalent(name, grams / factor, unit, factor, source, description)
        for name, description, unit, factor, source in _factors()
    ]
