"""Imports flow one way: no module imports, even indirectly, one that imports it; no package imports upward.

The project's packages are layered `instrumentation` <- `exporter` <- `query_api`. Inside
`instrumentation/` and `exporter/` no import cycle is allowed. (`query_api/` is left out for now:
`sql_api` and `sql_openapi` import each other there.)

The graph is read from the source with `ast`, so it counts every import statement wherever it
stands: at the top, inside a function (a lazy import is still a dependency) and under
`TYPE_CHECKING` (a cycle there is still two modules that cannot be read one without the other).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(package: str) -> dict[str, set[str]]:
    """Each module of `package` -> the modules of `package` it imports."""
    files = {module_name(path): path for path in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    # `from pkg import sub` imports the submodule; `from pkg.mod import name` the module.
                    submodule = f"{base}.{alias.name}"
                    if submodule in files:
                        targets.add(submodule)
                    elif not _compiled(submodule):  # a C extension has no imports of its own
                        targets.add(base)
        graph[name] = {_owner(target, files) for target in targets if _owner(target, files)} - {name}
    return graph


def _compiled(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".c").exists() or any(path.parent.glob(path.name + ".*.so"))


def _owner(target: str, files: dict[str, Path]) -> str:
    """The project module an imported name lives in ('' when it is outside the project)."""
    while target and target not in files:
        target = target.rpartition(".")[0]
    return target


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
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
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_graph_sees_every_kind_of_import() -> None:
    """The checker itself: top-level, relative, lazy and TYPE_CHECKING imports are all edges."""
    graph = import_graph("instrumentation")
    assert "instrumentation.options" in graph["instrumentation.core"]  # relative, at the top
    assert "instrumentation.attributes" in graph["instrumentation.core"]  # `from . import attributes`
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "exporter" in top_level_imports("query_api")  # the layering check sees imports downward


@pytest.mark.parametrize("package", ["instrumentation", "exporter"])
def test_no_import_cycle(package: str) -> None:
    assert cycles(import_graph(package)) == []


def top_level_imports(package: str) -> set[str]:
    """The top-level names every module of `package` imports, wherever the import stands."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module.partition(".")[0])
    return found


@pytest.mark.parametrize(
    ("package", "above"), [("instrumentation", {"exporter", "query_api"}), ("exporter", {"query_api"})]
)
def test_no_package_imports_one_above_it(package: str, above: set[str]) -> None:
    assert top_level_imports(package) & above == set()
