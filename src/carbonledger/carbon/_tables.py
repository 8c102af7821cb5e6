"""The shipped tables (``data/*.csv``): read on first use, then cached for the process.

``scripts/build_carbon_tables.py`` writes them from the public datasets; every row carries
its source, year and licence. Nothing here runs at import time.
"""

from __future__ import annotations

import os

from carbonledger._lite import cache

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["TABLES", "parse_line", "read_table", "table_header", "table_lines", "table_row"]

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


#: tables up to this many characters are parsed in Python; larger ones by _csv (C)
_SMALL_TABLE = 16_384


@cache
def _text(name: str) -> str:
    if name not in TABLES:
        raise KeyError(f"no shipped table {name!r}; tables: {', '.join(TABLES)}")
    # a plain path beside this module (wheels install unpacked): importlib.resources
    # would cost ~20 ms of imports on the tracker's start() for the same bytes
    folder = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(folder, "data", name), encoding="utf-8") as fh:
        return fh.read()


@cache
def _lines(name: str) -> tuple[str, ...]:
    return tuple(_text(name).splitlines())


def table_lines(name: str) -> tuple[str, ...]:
    """The data lines of the shipped table ``name``, unparsed (blank lines left out), for a
    lookup that parses only the row it finds (:func:`table_row`). The shipped tables have
    no line break inside a field (tests check it), so a line is a row."""
    return tuple(line for line in _lines(name)[1:] if line)


def parse_line(line: str) -> list[str]:
    """The fields of one CSV line (RFC 4180 quoting: ``"a, b"``, ``""`` inside quotes), as
    the csv module reads it."""
    if '"' not in line:
        return line.split(",")
    fields: list[str] = []
    field: list[str] = []
    i, n = 0, len(line)
    quoted = False
    while i < n:
        ch = line[i]
        if quoted:
            if ch == '"':
                if i + 1 < n and line[i + 1] == '"':
                    field.append('"')
                    i += 1
                else:
                    quoted = False
            else:
                field.append(ch)
        elif ch == ",":
            fields.append("".join(field))
            field = []
        elif ch == '"' and not field:
            quoted = True
        else:
            field.append(ch)
        i += 1
    fields.append("".join(field))
    return fields


def table_row(name: str, line: str) -> dict[str, str]:
    """One line of ``table_lines(name)`` as the dict :func:`read_table` gives for it."""
    return dict(zip(table_header(name), parse_line(line), strict=True))


def table_header(name: str) -> list[str]:
    """The column names of the shipped table ``name``."""
    return parse_line(_lines(name)[0])


@cache
def read_table(name: str) -> tuple[dict[str, str], ...]:
    """Every row of the shipped table ``name`` (e.g. ``"countries.csv"``) as a dict."""
    lines = _lines(name)
    rows: Iterator[list[str]]
    if len(_text(name)) > _SMALL_TABLE:
        # _csv is csv's own C reader: the csv module around it imports re (~5 ms) for its
        # Sniffer, which a tracker's start() would pay for the country table
        import _csv

        rows = _csv.reader(lines)
    else:  # a few rows (pue.csv, read by every start()): no extension module to load
        rows = map(parse_line, lines)
    header = next(rows)
    width = len(header)
    out = []
    for line_number, row in enumerate(rows, start=2):  # no field spans lines (tests check)
        if not row or row == [""]:
            continue  # a blank line, as csv.DictReader skips it
        if len(row) != width:
            raise ValueError(
                f"shipped table {name}, line {line_number}: {len(row)} fields where the "
                f"header has {width}; rebuild it with scripts/build_carbon_tables.py"
            )
        out.append(dict(zip(header, row, strict=True)))
    return tuple(out)
