"""Data provenance: NOTICE is current, and every shipped table row says source, year, licence."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLES = sorted((ROOT / "src" / "carbonledger").rglob("data/*.csv"))


def test_notice_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "build_notice", ROOT / "scripts" / "build_notice.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "NOTICE").read_text() == module.render(), (
        "NOTICE is stale: run .venv/bin/python scripts/build_notice.py"
    )


def test_there_are_tables() -> None:
    assert len(TABLES) >= 8


@pytest.mark.parametrize("table", TABLES, ids=lambda p: str(p.relative_to(ROOT / "src")))
def test_every_row_is_sourced(table: Path) -> None:
    with table.open(newline="") as fh:
        rows = list(csv.DictReader(row for row in fh if not row.startswith("#")))
    assert rows, f"{table} is empty"
    licence_col = "licence" if "licence" in rows[0] else "license"
    source_cols = [c for c in rows[0] if c == "source" or c.endswith("_source")]
    assert source_cols, f"{table.name}: no source column"
    for i, row in enumerate(rows, start=2):
        assert any(row[c].strip() for c in source_cols), f"{table.name} row {i}: no source"
        assert row.get(licence_col, "").strip(), f"{table.name} row {i}: no licence"
        assert "year" in row, f"{table.name}: no year column"
