"""One bad row never breaks every reader: each column of each table of a ledger, set for one
run (B) to a wrong type, a huge or non-finite number, malformed or deep JSON. The readers
(``runs``, ``show``, ``export``, ``report``, ``compare``, the Python API) still list the other
runs with their figures and mark B (``damaged``) when they cannot read it; ``verify``
reports every change that alters what a reader says of B; nothing crashes."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .conftest import Sandbox, count, make_ledger, watchdog

RUNS = ["aaaa1111run00001", "bbbb2222run00002", "cccc3333run00003"]
A, B, C = RUNS

DEEP = "[" * 20_000 + "]" * 20_000
#: what a column is set to, by the column's kind
NUMBERS: tuple[Any, ...] = ("x", b"\x00\xff", 1e300, float("inf"), -1e308)
JSON_TEXT: tuple[Any, ...] = ("{", "null", '{"x":1}', '[{"x":1}]', DEEP)
TEXT: tuple[Any, ...] = (b"\xff\xfe", 5, "x" * 5000, "\x1b[2J\x00")
#: the JSON columns of each table
JSON_COLUMNS = {"tags", "meta", "components", "errors", "metrics", "canonical", "value"}
#: which rows of a table are B's
WHERE = {
    "samples": f"device_ref IN (SELECT device_ref FROM devices WHERE run_id = '{B}')",
    "carbonledger_meta": "key = 'head'",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger of the three runs, checkpointed into one file."""
    folder = tmp_path_factory.mktemp("rows")
    box = Sandbox(folder)
    path = folder / "template.sqlite"
    with box.environment():
        make_ledger(str(path), RUNS)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    return path


def _template_columns() -> list[tuple[str, str, str]]:
    """(table, column, declared type) of every column readers read, from the ledger's own
    schema."""
    from carbonledger.ledger.schema import SCHEMA_VERSION, migration_statements

    conn = sqlite3.connect(":memory:")
    for v in range(SCHEMA_VERSION):
        for statement in migration_statements(v, "sqlite"):
            conn.execute(statement)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    out = []
    for table in tables:
        if table == "leases":  # liveness only: no reader lists it
            continue
        for _cid, name, kind, *_ in conn.execute(f"PRAGMA table_info({table})"):
            if table == "carbonledger_meta" and name == "key":
                continue
            out.append((table, name, str(kind).upper()))
    conn.close()
    return out


COLUMNS = _template_columns()


def _values(table: str, column: str, kind: str) -> tuple[Any, ...]:
    if column in JSON_COLUMNS:
        return JSON_TEXT
    if "REAL" in kind or "INT" in kind:
        return NUMBERS
    return TEXT


def _figures(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record["status"], record["energy_j"], record["co2e_g"], record["duration_s"],
            record["windows"])  # fmt: skip


@pytest.fixture(scope="module")
def before(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the readers say of the untouched ledger."""
    box = Sandbox(tmp_path_factory.mktemp("before"))
    Path(box.ledger).parent.mkdir(parents=True)
    shutil.copy(template, box.ledger)
    answer = box.cli(["export", "--jsonl", "-"], kind="ledger row")
    return {r["run_id"]: r for r in map(json.loads, answer.out.splitlines())}


@pytest.mark.parametrize(
    ("table", "column", "kind"), COLUMNS, ids=[f"{t}.{c}" for t, c, _ in COLUMNS]
)
def test_one_bad_column_of_one_run(
    template: Path, before: dict[str, Any], tmp_path: Path, table: str, column: str, kind: str
) -> None:
    box = Sandbox(tmp_path)
    Path(box.ledger).parent.mkdir(parents=True)
    where = WHERE.get(table, f"run_id = '{B}'")
    for value in _values(table, column, kind):
        shutil.copy(template, box.ledger)
        conn = sqlite3.connect(box.ledger, isolation_level=None)
        try:
            changed = conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (value,))
        except sqlite3.IntegrityError:  # a NOT NULL or UNIQUE column refuses it: nothing to read
            continue
        finally:
            conn.close()
        assert changed.rowcount >= 0
        _readers_survive(box, before, f"{table}.{column} = {value!r:.40}")


def _readers_survive(box: Sandbox, before: dict[str, Any], what: str) -> None:
    count("ledger row", 1)
    export = box.cli(["export", "--jsonl", "-"], kind="ledger row check")
    listed = {r["run_id"]: r for r in map(json.loads, export.out.splitlines())}
    for run in (A, C):  # the other runs, as they were
        assert run in listed, f"{what}: run {run} not listed"
        assert _figures(listed[run]) == _figures(before[run]), f"{what}: run {run} changed"
    b_changed = B not in listed or _figures(listed[B]) != _figures(before[B])
    text = box.cli(["runs", "--limit", "0"], kind="ledger row check")
    assert A[:4] in text.out and C[:4] in text.out, what
    assert "nan" not in text.out.lower(), f"{what}: runs printed NaN: {text.out}"
    for line in text.out.splitlines():
        if " damaged " in line:  # its figures are not known: said, never 0 J
            assert line.split()[-2:] == ["-", "-"], f"{what}: {line}"
    csv = box.cli(["export", "--csv", "-"], kind="ledger row check")
    assert A in csv.out and C in csv.out, what
    show = box.cli(["show", B, "--json"], kind="ledger row check", codes=(0, 1, 2))
    if show.code != 2:  # valid JSON (no NaN), whatever B holds
        assert show.out.strip(), f"{what}: show printed nothing: {show.err}"
        json.loads(show.out)
    box.cli(["report", A, "--json"], kind="ledger row check", codes=(0, 1))
    box.cli(["compare", A, B, "--json"], kind="ledger row check", codes=(0, 1, 2))
    verify = box.cli(["verify", "--json"], kind="ledger row check", codes=(0, 1))
    if b_changed:
        assert verify.code == 1, f"{what}: B reads differently and verify says intact"
    from carbonledger.errors import InputError
    from carbonledger.ledger import open_ledger

    with watchdog():
        led = open_ledger(box.ledger, create=False, read_only=True)
        try:
            assert len(led.list_runs()) == 3, what
            for run in RUNS:
                try:
                    led.windows(run)
                    led.samples(run)
                except InputError:  # B's id edited: an unknown run, said so
                    assert run == B, what
        finally:
            led.close()
