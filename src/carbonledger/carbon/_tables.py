"""The shipped tables (``data/*.csv``): read on first use, then cached for the process.

``scripts/build_carbon_tables.py`` writes them from the public datasets; every row carries
its source, year and licence. Nothing here runs at import time.
"""

from __future__ import annotations

import os
from functools import cache

__all__ = ["TABLES", "read_table"]

#: the tables this package ships, by file name
TABLES = (
    "countries.csv",
    "subregions.csv",
    "subregions_electricitymaps.csv",
    "cloud_regions.csv",
    "pue.csv",
    "embodied.csv",
    "equivalents.csv",
)


@cache
def read_table(name: str) -> tuple[dict[str, str], ...]:
    """Every row of the shipped table ``name`` (e.g. ``"countries.csv"``) as a dict."""
    if name not in TABLES:
        raise KeyError(f"no shipped table {name!r}; tables: {', '.join(TABLES)}")
    import csv  # imported here: the package stays light until a table is needed
    import io

    # a plain path beside this module (wheels install unpacked): importlib.resources
    # would cost ~20 ms of imports on the tracker's start() for the same bytes
    folder = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(folder, "data", name), encoding="utf-8") as fh:
        text = fh.read()
    return tuple(csv.DictReader(io.StringIO(text)))
