"""The shipped tables (``data/*.csv``): read on first use, then cached for the process.

``scripts/build_carbon_tables.py`` writes them from the public datasets; every row carries
its source, year and licence. Nothing here runs at import time.
"""

from __future__ import annotations

import csv
import functools
import os

__all__ = ["TABLES", "read_table"]

#: the tables this package ships, by file name
TABLES = (
    "countries.csv",
    "subregions.csv",
    "subregions_electricitymaps.csv",
    "cloud_regions.csv",
    "pue.csv",
    "wue.csv",
    "embodied.csv",
    "equivalents.csv",
)

#: the folder of the shipped tables (os.path: pathlib would load re and urllib here)
_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


@functools.cache
def read_table(name: str) -> tuple[dict[str, str], ...]:
    """Every row of the shipped table ``name`` (e.g. ``"countries.csv"``) as a dict, read
    with :class:`csv.DictReader` once per process. A row whose field count differs from the
    header's raises :class:`ValueError` naming the line (a damaged or hand-edited table)."""
    if name not in TABLES:
        raise KeyError(f"no shipped table {name!r}; tables: {', '.join(TABLES)}")
    rows: list[dict[str, str]] = []
    with open(os.path.join(_DATA, name), encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, restkey="", restval=None)
        for row in reader:
            if "" in row or None in row.values():
                width = len(reader.fieldnames or ())
                raise ValueError(
                    f"shipped table {name}, line {reader.line_num}: the field count differs "
                    f"from the header's {width}; rebuild it with scripts/build_carbon_tables.py"
                )
            rows.append(row)
    return tuple(rows)
