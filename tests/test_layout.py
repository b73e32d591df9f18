"""The shape of the code: imports flow one way with no cycles, and the service side keeps its rooms small.

The import graph is read from the source (`ast`), counting every import, also the ones inside a
function (a cycle dodged by importing late is still a cycle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("instrumentation", "exporter", "query_api")  # each may import only those before it
# Packages checked for cycles. `instrumentation` joins once its request-capture circle is broken.
ACYCLIC = ("exporter", "query_api")
ROOMS = ("query_api",)  # no directory with more than MAX_MODULES modules, none longer than MAX_LINES
MAX_MODULES = 20
MAX_LINES = 300


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for the three packages under `root`."""
    found = {}
    for package in LAYERS:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the three packages it imports."""
    known = modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name in known)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in known:
                        targets.add(submodule)
                    elif not _compiled(root, submodule) and base in known:
                        targets.add(base)
        targets.discard(name)
        graph[name] = targets
    return graph


def _compiled(root: Path, dotted: str) -> bool:
    # `from exporter import _speedups`: a C extension, not a module of the graph.
    path = root.joinpath(*dotted.split("."))
    return any(path.parent.glob(path.name + ".*")) and not path.with_suffix(".py").exists()


def cycles(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> Iterator[list[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                yield from visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                yield sorted(component)

    for node in sorted(graph):
        if node not in index:
            yield from visit(node)


def test_imports_flow_one_way() -> None:
    upward = [
        f"{source} imports {target}"
        for source, targets in import_graph(ROOT).items()
        for target in targets
        if LAYERS.index(target.split(".")[0]) > LAYERS.index(source.split(".")[0])
    ]
    assert upward == []


@pytest.mark.parametrize("package", ACYCLIC)
def test_no_import_cycles(package: str) -> None:
    graph = import_graph(ROOT)
    inside = {name: {t for t in targets if t.split(".")[0] == package} for name, targets in graph.items()}
    found = [component for component in cycles(inside) if component[0].split(".")[0] == package]
    assert found == []


def test_the_checker_sees_a_cycle_through_a_late_import(tmp_path: Path) -> None:
    # The shape issue 13 removed: `sql_openapi` imported `sql_api` inside a function.
    for package in LAYERS:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "query_api" / "api.py").write_text("from . import doc\n")
    (tmp_path / "query_api" / "doc.py").write_text("def register():\n    from .api import PATH\n")
    assert list(cycles(import_graph(tmp_path))) == [["query_api.api", "query_api.doc"]]


@pytest.mark.parametrize("package", ROOMS)
def test_rooms_stay_small(package: str) -> None:
    directories = {path.parent for path in (ROOT / package).rglob("*.py")}
    crowded = {str(d.relative_to(ROOT)): n for d in directories if (n := len(list(d.glob("*.py")))) > MAX_MODULES}
    long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / package).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert (crowded, long) == ({}, {})
