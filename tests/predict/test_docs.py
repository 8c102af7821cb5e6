"""docs/prediction.md shows the tables the code computes now, and names every constant."""

from __future__ import annotations

import importlib
from pathlib import Path

from carbonledger.predict import flops, priors
from carbonledger.predict.validation import (
    blind_tables,
    catalogue_table,
    prior_tables,
    reproduction_tables,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "prediction.md").read_text()


def test_generated_tables_are_current() -> None:
    for name, table in (
        ("catalogue", catalogue_table()),
        ("priors", prior_tables()),
        ("reproduction", reproduction_tables()),
        ("blind", blind_tables()),
    ):
        assert table in DOC, (
            f"docs/prediction.md: the {name} table is stale; "
            "print it with python scripts/build_predict_tables.py --validate"
        )


def test_every_constant_is_documented() -> None:
    # the package re-exports functions of the same names: take the modules themselves
    forecast = importlib.import_module("carbonledger.predict.forecast")
    inference = importlib.import_module("carbonledger.predict.inference")
    for text in (
        f"POWER_GENERATION_SIGMA = {priors.POWER_GENERATION_SIGMA:g}",
        f"ESTIMATED_TDP_SIGMA = {priors.ESTIMATED_TDP_SIGMA:g}",
        f"eta = {inference.BANDWIDTH_EFFICIENCY:g}",
        f"log-spread {inference.BANDWIDTH_EFFICIENCY_SIGMA:g}",
        f"cv0 = {forecast.PRIOR_CV:g}",
        f"nu0 = {forecast.PRIOR_WEIGHT:g}",
        f"x {flops.SELECTIVE_DEFAULT_FACTOR:g}",
        "6 N D",
        "Lifetime 5 years",
        "0.4 kgCO2e/GB",
        "828.07 kg",
    ):
        assert text in DOC, text


def test_every_accelerator_has_a_cited_row() -> None:
    from carbonledger.predict import list_accelerators

    for acc in list_accelerators():
        assert f"**{acc.name}**: {acc.spec_source}" in DOC
