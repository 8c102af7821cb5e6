"""Measure the house: carbonledger's own import graph, read from the source with ``ast``.

    python scripts/import_layers.py            # the numbers (layers, cycles, largest file...)
    python scripts/import_layers.py --graph    # plus every module and what it imports
    python scripts/import_layers.py --json     # all of it, for a script

Nothing is imported or executed: each file under ``src/carbonledger`` is parsed, and every
``import`` / ``from ... import`` naming one of our modules is an edge of one of four kinds:

* ``module``   -- runs when the module is imported (top level, class bodies, ``try``/``if``
  at top level);
* ``function`` -- inside a function: runs when the function is called (a lazy import);
* ``typing``   -- under ``if TYPE_CHECKING:``: never runs, seen by the type checker only;
* ``by name``  -- a string constant that is exactly one of our module names (the lazy
  tables of the package faces, the sensor registry): loaded with ``importlib`` on use.
  The package's own name (also the app's name) and logger names are not counted.

``from pkg import name`` is an edge to ``pkg.name`` when that is a module of ours, else to
``pkg``. The parent packages Python runs on the way to a module (``carbonledger/__init__``
for every module) are not edges: they are how Python finds a module, not a dependency the
module states.

Layers come from the ``module`` edges only: a module that imports nothing of ours at
module level is layer 1, every other one is one layer above the highest it imports (the
members of an import cycle share one layer). The layer count is the highest layer.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "carbonledger"
KINDS = ("module", "function", "typing", "by name")


@dataclass(frozen=True)
class Edge:
    """One import of one of our modules: where it is written and what it names."""

    source: str  # the importing module
    target: str  # the module the import loads: a lazy face's name resolved to its home
    kind: str  # one of KINDS
    line: int
    via: str  # the module as the import names it (``from via import names``)
    names: tuple[str, ...] = ()  # the names taken from ``via`` (empty: the module itself)


@dataclass(frozen=True)
class Function:
    module: str
    qualname: str
    line: int
    lines: int


@dataclass
class House:
    """The package as parsed: its modules, their files and sizes, and every edge."""

    files: dict[str, Path] = field(default_factory=dict)  # module -> file
    lines: dict[str, int] = field(default_factory=dict)  # module -> line count
    edges: list[Edge] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    face_imports: list[Edge] = field(default_factory=list)  # imports of the package face
    all_names: dict[str, tuple[str, ...] | None] = field(default_factory=dict)  # __all__
    # package face -> name -> (module it comes from, loaded lazily)
    binds: dict[str, dict[str, tuple[str, bool]]] = field(default_factory=dict)

    def submodules(self, face: str) -> set[str]:
        """The modules a package face lists in its ``__all__`` (a name the face takes from
        one of its modules is that name, even where a module has the same name)."""
        listed = self.all_names.get(face) or ()
        bound = self.binds.get(face, {})
        return {n for n in listed if f"{face}.{n}" in self.files and n not in bound}

    def public_modules(self) -> set[str]:
        """The public API, by the package's rule: the package face; every module at the
        top without a leading underscore; every package whose face lists names; and below
        those, the modules each face lists in its ``__all__``. Every other module is
        internal."""
        public = {PACKAGE}
        todo = []
        for module, path in self.files.items():
            parts = module.split(".")
            if len(parts) != 2 or parts[1].startswith("_"):
                continue
            if path.name != "__init__.py" or self.all_names.get(module):
                public.add(module)
                todo.append(module)
        while todo:
            face = todo.pop()
            for name in self.submodules(face):
                public.add(f"{face}.{name}")
                todo.append(f"{face}.{name}")
        return public

    def home(self, module: str, name: str) -> str:
        """The module that ``from module import name`` loads: a lazy face's name is
        followed to the module it comes from (the face loads it on first use)."""
        seen: set[str] = set()
        while module not in seen:
            seen.add(module)
            bound = self.binds.get(module, {}).get(name)
            if bound is None or not bound[1]:
                return module
            module = bound[0]
        return module

    def graph(self, kinds: Iterable[str] = ("module",)) -> dict[str, set[str]]:
        """module -> the modules of ours it imports with an edge of one of ``kinds``."""
        wanted = set(kinds)
        out: dict[str, set[str]] = {name: set() for name in self.files}
        for edge in self.edges:
            if edge.kind in wanted and edge.target != edge.source:
                out[edge.source].add(edge.target)
        return out


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, kind: str) -> Iterator[tuple[ast.AST, str]]:
    """Every node under ``node`` with the kind of import it would be."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inner = "typing" if kind == "typing" else "function"
            yield child, inner
            yield from _walk(child, inner)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            yield child, kind
            for stmt in child.body:
                yield stmt, "typing"
                yield from _walk(stmt, "typing")
            for stmt in child.orelse:
                yield stmt, kind
                yield from _walk(stmt, kind)
        else:
            yield child, kind
            yield from _walk(child, kind)


def _functions(tree: ast.Module, module: str) -> Iterator[Function]:
    def visit(node: ast.AST, prefix: str) -> Iterator[Function]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                end = child.end_lineno or child.lineno
                # a decorated function starts at its first decorator
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                yield Function(module, name, start, end - start + 1)
                yield from visit(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.")
            else:
                yield from visit(child, prefix)

    yield from visit(tree, "")


def _logger_names(tree: ast.Module) -> set[int]:
    """The string constants given to ``getLogger``: a logger named like a module is not
    a reference to it."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if callee == "getLogger":
                found.update(id(arg) for arg in node.args if isinstance(arg, ast.Constant))
    return found


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module of a (possibly relative) ``from`` import."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def parse(src: Path = ROOT / "src") -> House:
    """Parse every module of the package under ``src``."""
    house = House()
    trees: dict[str, tuple[ast.Module, bool]] = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        name = module_name(path, src)
        text = path.read_text(encoding="utf-8")
        house.files[name] = path
        house.lines[name] = len(text.splitlines())
        tree = ast.parse(text, filename=str(path))
        trees[name] = (tree, path.name == "__init__.py")
        house.all_names[name] = _static_all(tree)
    ours = set(house.files)
    for name, (tree, is_package) in trees.items():
        if is_package:
            house.binds[name] = _face_bindings(tree, name)
    for name, (tree, is_package) in trees.items():
        house.functions.extend(_functions(tree, name))
        loggers = _logger_names(tree)
        for node, kind in _walk(tree, "module"):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    _add(house, ours, name, alias.name, alias.name, kind, node.lineno, ())
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module)
                if base != PACKAGE and not base.startswith(PACKAGE + "."):
                    continue
                grouped: dict[tuple[str, str], list[str]] = {}
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    if alias.name in house.binds.get(base, {}):
                        home = house.home(base, alias.name)
                        grouped.setdefault((home, base), []).append(alias.name)
                    elif sub in ours:
                        grouped.setdefault((sub, sub), [])
                    else:
                        grouped.setdefault((base, base), []).append(alias.name)
                for (target, via), names in grouped.items():
                    _add(house, ours, name, target, via, kind, node.lineno, tuple(names))
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in ours
                and node.value not in (name, PACKAGE)
                and id(node) not in loggers
            ):
                house.edges.append(Edge(name, node.value, "by name", node.lineno, node.value))
    return house


def _static_all(tree: ast.Module) -> tuple[str, ...] | None:
    """The module's ``__all__`` when it is written as a literal list or tuple of strings."""
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            continue
        if isinstance(value, ast.List | ast.Tuple):
            names = [e.value for e in value.elts if isinstance(e, ast.Constant)]
            if len(names) == len(value.elts) and all(isinstance(n, str) for n in names):
                return tuple(str(n) for n in names)
    return None


def _face_bindings(tree: ast.Module, face: str) -> dict[str, tuple[str, bool]]:
    """name -> (the module it comes from, whether it is loaded lazily) for the names a
    package face takes from its modules: eagerly (a module-level import) or lazily (an
    import under ``TYPE_CHECKING``, the runtime getting it by ``__getattr__``)."""
    found: dict[str, tuple[str, bool]] = {}
    for node, kind in _walk(tree, "module"):
        if not isinstance(node, ast.ImportFrom) or kind == "function":
            continue
        base = _resolve(face, True, node.level, node.module)
        if base == face or not base.startswith(PACKAGE + "."):
            continue  # ``from face import submodule`` binds a module, not a name
        for alias in node.names:
            found[alias.asname or alias.name] = (base, kind == "typing")
    return found


def _add(
    house: House,
    ours: set[str],
    source: str,
    target: str,
    via: str,
    kind: str,
    line: int,
    names: tuple[str, ...],
) -> None:
    if target != PACKAGE and not target.startswith(PACKAGE + "."):
        return
    # ``import carbonledger.x.y`` of a name that is not a module: the longest module prefix
    while target not in ours and "." in target:
        target = target.rpartition(".")[0]
    while via not in ours and "." in via:
        via = via.rpartition(".")[0]
    edge = Edge(source, target, kind, line, via, names)
    house.edges.append(edge)
    if via == PACKAGE and source != PACKAGE and kind != "by name":
        house.face_imports.append(edge)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def layers(graph: dict[str, set[str]]) -> dict[str, int]:
    """module -> its layer: 1 for a module importing nothing of ours, else one above the
    highest module it imports (the members of a cycle share a layer)."""
    group: dict[str, str] = {m: m for m in graph}
    for component in cycles(graph):
        for member in component:
            group[member] = component[0]
    members: dict[str, list[str]] = {}
    for module, head in group.items():
        members.setdefault(head, []).append(module)
    result: dict[str, int] = {}

    def layer_of(head: str) -> int:
        if head in result:
            return result[head]
        pending = [head]
        while pending:
            current = pending[-1]
            deps = {group[d] for m in members[current] for d in graph[m] if group[d] != current}
            missing = [d for d in sorted(deps) if d not in result]
            if missing:
                pending.extend(missing)
                continue
            pending.pop()
            result[current] = 1 + max((result[d] for d in deps), default=0)
        return result[head]

    return {m: layer_of(group[m]) for m in graph}


def tower(graph: dict[str, set[str]], layer: dict[str, int], top: str) -> list[str]:
    """One longest chain of module-level imports from ``top`` down to layer 1."""
    chain = [top]
    while layer[chain[-1]] > 1:
        below = [d for d in sorted(graph[chain[-1]]) if layer[d] == layer[chain[-1]] - 1]
        if not below:  # inside a cycle: step to a member of the cycle's own layer
            break
        chain.append(below[0])
    return chain


def measure(house: House) -> dict[str, object]:
    graph = house.graph(("module",))
    layer = layers(graph)
    count = max(layer.values(), default=0)
    top = sorted(m for m in layer if layer[m] == count)
    largest = max(house.lines.items(), key=lambda item: (item[1], item[0]))
    longest = max(house.functions, key=lambda f: (f.lines, f.module, f.qualname))
    return {
        "modules": len(house.files),
        "edges": {k: sum(1 for e in house.edges if e.kind == k) for k in KINDS},
        "layers": count,
        "top": top,
        "tower": tower(graph, layer, top[0]) if top else [],
        "cycles": cycles(graph),
        "cycles_with_lazy_imports": cycles(house.graph(("module", "function"))),
        "face_imports": [
            f"{house.files[e.source].relative_to(ROOT) if house.files[e.source].is_relative_to(ROOT) else house.files[e.source]}:{e.line} {e.source} ({e.kind})"
            for e in house.face_imports
        ],
        "largest_file": {"module": largest[0], "lines": largest[1]},
        "longest_function": {
            "function": f"{longest.module}.{longest.qualname}",
            "line": longest.line,
            "lines": longest.lines,
        },
        "layer_of": dict(sorted(layer.items())),
    }


def _print(house: House, numbers: dict[str, object], graph: bool) -> None:
    edges = numbers["edges"]
    assert isinstance(edges, dict)
    print(f"modules: {numbers['modules']}")
    print("imports of our modules: " + ", ".join(f"{n} {k}" for k, n in edges.items()))
    print(f"layers: {numbers['layers']} (module-level imports)")
    print(f"  top: {', '.join(numbers['top'])}")  # type: ignore[arg-type]
    print(f"  one tallest chain: {' -> '.join(numbers['tower'])}")  # type: ignore[arg-type]
    for label, key in (
        ("cycles (module-level imports)", "cycles"),
        ("cycles counting lazy imports inside functions", "cycles_with_lazy_imports"),
    ):
        found = numbers[key]
        assert isinstance(found, list)
        print(f"{label}: {len(found) or 'none'}")
        for component in found:
            print(f"  {' <-> '.join(component)}")
    face = numbers["face_imports"]
    assert isinstance(face, list)
    print(f"imports of the package face from inside: {len(face) or 'none'}")
    for where in face:
        print(f"  {where}")
    largest = numbers["largest_file"]
    longest = numbers["longest_function"]
    assert isinstance(largest, dict) and isinstance(longest, dict)
    print(f"largest file: {largest['module']} ({largest['lines']} lines)")
    print(
        f"longest function: {longest['function']} ({longest['lines']} lines, line {longest['line']})"
    )
    if not graph:
        return
    layer = numbers["layer_of"]
    assert isinstance(layer, dict)
    print("\nmodule [layer] -> what it imports of ours")
    for module in sorted(house.files, key=lambda m: (layer[m], m)):
        print(f"{module} [{layer[module]}]")
        for kind in KINDS:
            targets = sorted(
                {e.target for e in house.edges if e.source == module and e.kind == kind}
            )
            if targets:
                print(f"    {kind}: {', '.join(targets)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the src folder")
    parser.add_argument("--graph", action="store_true", help="also print the whole graph")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    house = parse(args.src)
    numbers = measure(house)
    if args.json:
        numbers["graph"] = {
            kind: {m: sorted(t) for m, t in house.graph((kind,)).items() if t} for kind in KINDS
        }
        json.dump(numbers, sys.stdout, indent=2)
        print()
    else:
        _print(house, numbers, args.graph)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
