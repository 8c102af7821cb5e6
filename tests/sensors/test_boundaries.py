"""``sensors`` reads hardware, nothing else: it imports only the ground (errors, units,
models) and its own modules, and no two of its modules import each other, directly or
through others. Every import counts, also one inside a function or under TYPE_CHECKING."""

from __future__ import annotations

import ast
from pathlib import Path

import carbonledger.sensors

SENSORS = Path(carbonledger.sensors.__file__).parent
#: the ground: values, units, errors, and the standard helpers for files and folders
GROUND = {
    "carbonledger.errors",
    "carbonledger.units",
    "carbonledger.models",
    "carbonledger._files",
    "carbonledger._dirs",
    "carbonledger._lazy",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SENSORS.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("carbonledger", *parts))


def _imports(path: Path) -> set[str]:
    """Every carbonledger module ``path`` imports (``from a import b`` counts ``a.b`` when
    ``a.b`` is a module of ours, else ``a``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("carbonledger"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("carbonledger"):
            assert node.level == 0, f"{path}: use absolute imports"
            base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                out.add(candidate if candidate in MODULES else base)
    return out


MODULES = {_module_name(p): p for p in SENSORS.rglob("*.py")}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def test_sensors_import_only_the_ground_and_themselves() -> None:
    outside = {
        (name, target)
        for name, targets in GRAPH.items()
        for target in targets
        if target not in GROUND
        and target != "carbonledger.sensors"
        and not target.startswith("carbonledger.sensors.")
    }
    assert outside == set()


def _cycle_from(start: str) -> list[str] | None:
    """A path start -> ... -> start through the sensors' imports, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for target in GRAPH.get(node, ()):
            if target == start:
                return [*path, start]
            if target in GRAPH and target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def test_no_import_cycle_inside_sensors() -> None:
    cycles = [c for name in sorted(GRAPH) if (c := _cycle_from(name)) is not None]
    assert cycles == []


def test_the_cycle_check_would_see_one() -> None:
    """The checker itself: an edge back from _procstat to _linux would be a cycle."""
    GRAPH["carbonledger.sensors._procstat"].add("carbonledger.sensors._linux")
    try:
        assert _cycle_from("carbonledger.sensors._linux") is not None
    finally:
        GRAPH["carbonledger.sensors._procstat"].discard("carbonledger.sensors._linux")
