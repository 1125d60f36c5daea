"""No import circles in retaillab/: every ``retaillab.*`` import, at module level or inside a
function (and under ``if TYPE_CHECKING``), read from the source with ``ast``.

An import of ``a.b.c`` runs the packages ``a.b`` first, so it counts as an edge to each of
them too (but not to the importing module's own packages, which are already loading).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "retaillab"



def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted name -> file of every module and package under ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path) -> set[str]:
    """Dotted names of the ``retaillab`` modules ``name`` imports anywhere in its source."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)  # submodules
    return {n for n in out if n == "retaillab" or n.startswith("retaillab.")}


def graph(found: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules importing it runs (the named one and its packages)."""
    edges: dict[str, set[str]] = {name: set() for name in found}
    for name, path in found.items():
        for target in imported(name, path):
            while target and target not in found:  # `from a import attr`: the module a
                target = target.rpartition(".")[0]
            while target and target != "retaillab":  # retaillab/__init__ imports lazily
                if target != name and not name.startswith(target + "."):
                    edges[name].add(target)
                target = target.rpartition(".")[0]
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def describe(component: list[str], edges: dict[str, set[str]]) -> str:
    inside = set(component)
    return "; ".join(f"{m} -> {', '.join(sorted(edges[m] & inside))}" for m in component)


def test_the_graph_sees_function_level_type_checking_and_relative_imports(tmp_path):
    """The reader is real: a circle hidden in a function, a TYPE_CHECKING block or a
    relative import is found, and an import of a package's attribute is an edge to it."""
    pkg = tmp_path / "retaillab"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from retaillab.sub.b import thing\n")
    (pkg / "a.py").write_text("def f():\n    from retaillab import sub\n")
    (pkg / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                      "    from retaillab.c import x\nthing = 1\n")
    (pkg / "c.py").write_text("from retaillab import a\n")
    (pkg / "d.py").write_text("from .sub import b\n")
    found = modules(pkg)
    edges = graph(found)
    assert edges["retaillab.d"] == {"retaillab.sub", "retaillab.sub.b"}
    assert edges["retaillab.sub"] == {"retaillab.sub.b"}  # its own submodule
    assert cycles(edges) == [["retaillab.a", "retaillab.c", "retaillab.sub",
                              "retaillab.sub.b"]]


def test_no_import_cycle_in_retaillab():
    edges = graph(modules())
    assert len(edges) > 40 and "retaillab.quickstart" in edges["retaillab.cli"]  # all read
    found = cycles(edges)
    assert not found, "import cycles: " + " | ".join(describe(c, edges) for c in found)
