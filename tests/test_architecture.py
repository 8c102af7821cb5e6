"""The house keeps its rules: docs/architecture.md's tables, checked against every import.

The rules live in one place, the tables of docs/architecture.md ("What may import what");
this test reads them from there and the imports from the source with ``ast``
(scripts/import_layers.py, the same reader a person runs), so the document and the code
cannot drift apart. A broken rule fails with the file, the line and the rule.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
MAX_LAYERS = 10


def _load_reader() -> ModuleType:
    name = "carbonledger_import_layers"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "import_layers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


READER = _load_reader()


@dataclass(frozen=True)
class Row:
    """One row of the table: a unit of the house, its files and what it may import."""

    unit: str
    stage: str
    files: tuple[str, ...]
    may_import: dict[str, str]  # unit -> "any", "in functions" or "typing"
    line: int  # in docs/architecture.md


@dataclass(frozen=True)
class Rules:
    rows: list[Row]
    only_by: dict[str, tuple[str, ...]]  # unit -> the files that alone may import it

    def unit_of(self, path: str) -> str | None:
        """The unit a file (relative to src/carbonledger) belongs to."""
        for row in self.rows:
            for f in row.files:
                if path == f or (f.endswith("/") and path.startswith(f)):
                    return row.unit
        return None


def _section(text: str, title: str) -> list[tuple[int, str]]:
    lines = text.splitlines()
    start = lines.index(f"## {title}")
    out: list[tuple[int, str]] = []
    for number, line in enumerate(lines[start + 1 :], start + 2):
        if line.startswith("## "):
            break
        out.append((number, line))
    return out


def _tables(section: list[tuple[int, str]]) -> list[list[tuple[int, list[str]]]]:
    """The section's tables, each a list of (line number, cells) without header and rule."""
    tables: list[list[tuple[int, list[str]]]] = []
    current: list[tuple[int, list[str]]] | None = None
    for number, line in section:
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if current is None:
            current = []
            tables.append(current)
            continue  # the header
        if all(set(c) <= {"-", " ", ":"} for c in cells):
            continue
        current.append((number, cells))
    return tables


_TOKEN = re.compile(r"`([^`]+)`(?:\s*\(([^()]*)\))?")


def parse_rules(text: str) -> Rules:
    section = _section(text, "What may import what")
    tables = _tables(section)
    assert len(tables) == 2, "docs/architecture.md: 'What may import what' has two tables"
    rows: list[Row] = []
    for number, cells in tables[0]:
        stage, unit, files, allowed = cells
        rows.append(
            Row(
                unit=unit.strip("`"),
                stage=stage,
                files=tuple(m[0] for m in _TOKEN.findall(files)),
                may_import={},
                line=number,
            )
        )
    ground = [r.unit for r in rows if r.stage == "ground"]
    known = {r.unit for r in rows}
    parsed: list[Row] = []
    for row, (number, cells) in zip(rows, tables[0], strict=True):
        cell = cells[3]
        allowed: dict[str, str] = {}
        if "the ground" in cell:
            allowed.update(dict.fromkeys(ground, "any"))
        for unit, qualifier in _TOKEN.findall(cell):
            assert unit in known, f"docs/architecture.md:{number}: unknown unit `{unit}`"
            if not qualifier:
                allowed[unit] = "any"
            elif qualifier.startswith("in functions"):
                allowed[unit] = "in functions"
            elif qualifier.startswith("typing"):
                allowed[unit] = "typing"
            else:
                raise AssertionError(f"docs/architecture.md:{number}: qualifier ({qualifier})")
        allowed.pop(row.unit, None)
        parsed.append(Row(row.unit, row.stage, row.files, allowed, number))
    only_by = {
        cells[0].strip("`"): tuple(m[0] for m in _TOKEN.findall(cells[1])) for _, cells in tables[1]
    }
    return Rules(parsed, only_by)


RULES = parse_rules(DOC.read_text(encoding="utf-8"))
# what each kind of import needs from a rule
_SATISFIES = {
    "module": {"any"},
    "function": {"any", "in functions"},
    "by name": {"any", "in functions"},
    "typing": {"any", "in functions", "typing"},
}


def _relative(house: Any, module: str, src: Path) -> str:
    return house.files[module].relative_to(src / "carbonledger").as_posix()


def violations(house: Any, rules: Rules, src: Path) -> list[str]:
    """Every import from one unit into another that its row does not allow, as
    ``file:line: what (the rule)``."""
    found: list[str] = []
    by_unit = {r.unit: r for r in rules.rows}
    for edge in house.edges:
        here = _relative(house, edge.source, src)
        there = _relative(house, edge.via, src)
        a, b = rules.unit_of(here), rules.unit_of(there)
        if a is None or b is None or a == b:
            continue
        where = f"src/carbonledger/{here}:{edge.line}"
        lazy = "" if edge.kind == "module" else f" ({edge.kind})"
        allowed = by_unit[a].may_import.get(b)
        if allowed is None or allowed not in _SATISFIES[edge.kind]:
            rule = ", ".join(
                u if q == "any" else f"{u} ({q})" for u, q in by_unit[a].may_import.items()
            )
            found.append(
                f"{where}: {edge.source} imports {edge.via}{lazy}, but `{a}` may import "
                f"only: {rule or 'nothing of ours'} (docs/architecture.md:{by_unit[a].line})"
            )
        only = rules.only_by.get(b)
        if only is not None and not any(
            here == f or (f.endswith("/") and here.startswith(f)) for f in only
        ):
            found.append(
                f"{where}: {edge.source} imports {edge.via}{lazy}, but only "
                f"{', '.join(only)} may import `{b}` (docs/architecture.md, 'imported only by')"
            )
    return found


@pytest.fixture(scope="module")
def house() -> Any:
    return READER.parse(ROOT / "src")


def test_every_module_belongs_to_one_row(house: Any) -> None:
    """A new package or top-level module gets its row (and its rules) in the document."""
    src = ROOT / "src"
    homeless = [m for m in house.files if RULES.unit_of(_relative(house, m, src)) is None]
    assert not homeless, f"add a row to docs/architecture.md for: {homeless}"
    for row in RULES.rows:
        for f in row.files:
            assert (src / "carbonledger" / f).exists(), f"docs/architecture.md:{row.line}: {f}"


def test_the_table_is_layered() -> None:
    """A row imports, at module level, only rows above it; nobody may import the package
    face or the command line; only the face may import the fakes."""
    order = [r.unit for r in RULES.rows]
    for index, row in enumerate(RULES.rows):
        for unit, qualifier in row.may_import.items():
            assert unit not in ("carbonledger", "cli"), f"docs/architecture.md:{row.line}"
            if unit == "testing":
                assert row.unit == "carbonledger", f"docs/architecture.md:{row.line}"
            if qualifier == "any":
                assert order.index(unit) < index, (
                    f"docs/architecture.md:{row.line}: `{row.unit}` imports `{unit}`, a row "
                    "below it, at module level"
                )


def test_every_import_follows_the_table(house: Any) -> None:
    """Module-level imports, imports inside functions, under TYPE_CHECKING and by name."""
    found = violations(house, RULES, ROOT / "src")
    assert not found, "\n".join(found)


def test_a_broken_rule_is_reported_with_its_file_and_line(tmp_path: Path) -> None:
    """The check itself: a sensor module that reads the ledger, a meter that loads a
    vendor module at import, a provider-free module calling the network, are all caught."""
    pkg = tmp_path / "src" / "carbonledger"
    files = {
        "__init__.py": "",
        "errors.py": "",
        "_http.py": "",
        "ledger/__init__.py": "",
        "sensors/__init__.py": "",
        "sensors/gpu/__init__.py": "",
        "sensors/gpu/nvidia.py": "from carbonledger.errors import X\n",
        "sensors/bad.py": "import os\n\ndef f():\n    from carbonledger.ledger import open_ledger\n",
        "meter/__init__.py": "",
        "meter/core.py": "from carbonledger.sensors.gpu import nvidia\n",
        "carbon/__init__.py": "",
        "carbon/zones.py": "def g():\n    from carbonledger._http import fetch\n",
        "carbon/providers/__init__.py": "",
        "carbon/providers/uk.py": "def h():\n    from carbonledger._http import fetch\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    tiny = READER.parse(tmp_path / "src")
    found = violations(tiny, RULES, tmp_path / "src")
    assert len(found) == 3, found
    zones, meter, bad = sorted(found)
    assert bad.startswith("src/carbonledger/sensors/bad.py:4: ") and "`sensors` may import" in bad
    assert meter.startswith("src/carbonledger/meter/core.py:1: ") and "(typing)" in meter
    assert zones.startswith("src/carbonledger/carbon/zones.py:2: ") and "only" in zones


def test_no_cycle_among_module_level_imports(house: Any) -> None:
    found = READER.cycles(house.graph(("module",)))
    assert not found, f"import cycles at module level: {found}"


def test_the_house_has_at_most_ten_layers(house: Any) -> None:
    """Each module one layer above everything it imports at module level (a lazy face's
    name counted where it comes from)."""
    graph = house.graph(("module",))
    layer = READER.layers(graph)
    count = max(layer.values())
    top = max(layer, key=lambda m: (layer[m], m))
    assert count <= MAX_LAYERS, " -> ".join(READER.tower(graph, layer, top))


def test_nothing_imports_the_package_face(house: Any) -> None:
    found = [
        f"{_relative(house, e.source, ROOT / 'src')}:{e.line} ({e.kind})"
        for e in house.face_imports
    ]
    assert not found, f"import from the module you need, not from `carbonledger`: {found}"


def test_the_layer_reader_counts_a_chain_and_finds_a_cycle() -> None:
    """The measure itself, on a small graph: a chain of three, and a cycle of two."""
    chain = {"a": {"b"}, "b": {"c"}, "c": set(), "d": set()}
    assert READER.layers(chain) == {"a": 3, "b": 2, "c": 1, "d": 1}
    assert READER.cycles(chain) == []
    loop = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert READER.cycles(loop) == [["a", "b"]]
    assert READER.layers(loop) == {"a": 1, "b": 1, "c": 2}


def test_the_script_reads_every_kind_of_import(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "carbonledger"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("")
    (pkg / "b.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from carbonledger.sub.c import thing\n"
        "_LAZY = {'thing': 'carbonledger.sub.c'}\n"
    )
    (pkg / "sub" / "c.py").write_text("thing = 1\n")
    (pkg / "d.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import a\n"
        "if TYPE_CHECKING:\n    import carbonledger.b\n"
        "def f():\n    from carbonledger.sub import thing\n"
        "import logging\nlog = logging.getLogger('carbonledger.a')\n"
    )
    tiny = READER.parse(tmp_path / "src")
    kinds = {(e.source, e.target, e.via, e.kind) for e in tiny.edges}
    assert ("carbonledger.d", "carbonledger.a", "carbonledger.a", "module") in kinds
    assert ("carbonledger.d", "carbonledger.b", "carbonledger.b", "typing") in kinds
    # a lazy face's name is counted where it comes from, and noted as taken from the face
    assert ("carbonledger.d", "carbonledger.sub.c", "carbonledger.sub", "function") in kinds
    assert ("carbonledger.sub", "carbonledger.sub.c", "carbonledger.sub.c", "by name") in kinds
    # a logger named like a module is not an import of it
    assert not [e for e in tiny.edges if e.source == "carbonledger.d" and e.kind == "by name"]
