"""The shipped tables (``data/*.csv``): read on first use, then cached for the process.

``scripts/build_carbon_tables.py`` writes them from the public datasets; every row carries
its source, year and licence. Nothing here runs at import time.
"""

from __future__ import annotations

import os

from carbonledger._lite import cache

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
    # _csv is csv's own C reader: the csv module around it imports re (~5 ms) for its
    # Sniffer, which a tracker's start() would pay for the country table
    import _csv

    # a plain path beside this module (wheels install unpacked): importlib.resources
    # would cost ~20 ms of imports on the tracker's start() for the same bytes
    folder = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(folder, "data", name), encoding="utf-8") as fh:
        text = fh.read()
    rows = _csv.reader(text.splitlines())
    header = next(rows)
    width = len(header)
    out = []
    for row in rows:
        if not row:
            continue  # a blank line, as csv.DictReader skips it
        if len(row) != width:
            raise ValueError(
                f"shipped table {name}, line {rows.line_num}: {len(row)} fields where the "
                f"header has {width}; rebuild it with scripts/build_carbon_tables.py"
            )
        out.append(dict(zip(header, row, strict=True)))
    return tuple(out)
