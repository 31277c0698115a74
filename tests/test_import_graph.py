"""The package's import graph: modules follow the pipeline, with no import cycles.

Every ``import``/``from ... import`` of a ``policycheck`` module counts, including imports made
inside functions (a lazy import still ties two modules together); imports under
``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "policycheck"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The policycheck modules ``path`` imports (resolved to modules that exist)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    out = set()
    for name in found:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != me and name.startswith("policycheck"):
            out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
    edges = {module_name(f): imports_of(f, modules) for f in files}
    # A package's __init__ being imported by its own submodules is the normal parent link, not a cycle.
    return {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in edges.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return out


def test_the_import_graph_walker_finds_a_cycle_it_is_shown() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_walker_sees_lazy_imports_and_skips_type_checking_ones(tmp_path: Path) -> None:
    mods = {"policycheck", "policycheck.x", "policycheck.y", "policycheck.z"}
    src = tmp_path / "m.py"
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import policycheck.z\n"
                   "def f():\n    from policycheck.x import thing\n    from policycheck import y\n")
    global SRC
    saved, SRC = SRC, tmp_path
    try:
        assert imports_of(src, mods) == {"policycheck.x", "policycheck.y"}
    finally:
        SRC = saved


def test_the_package_has_no_import_cycles() -> None:
    found = cycles(graph())
    assert not found, f"import cycles: {found}"


LAYERS = ["model", "io", "load", "facts", "compile", "engine", "evaluate", "review", "diff", "render", "ruletest",
          "api", "cli"]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


# Deliberate exceptions, each one edge: the rule loader asks the engine package (plain Python,
# the C extension is not imported; see docs/engine.md) which rules the engine cannot run, so
# those are refused when the pack loads; the case loader asks facts.timeline how much work a
# case makes (its dates and fact evaluations, ``workload``: pure functions of the case model),
# so a case over the limits is refused when it loads, located in its file (policycheck.limits).
EXCEPTIONS = {("policycheck.load.rules", "policycheck.engine"),
              ("policycheck.load.cases", "policycheck.facts.timeline")}



def test_stages_only_import_earlier_stages() -> None:
    """model < io < load < facts < compile < engine < evaluate < review/diff < render < ruletest < api < cli."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    bad = []
    for module, targets in graph().items():
        here = _layer(module)
        if here not in rank:
            continue
        for t in targets:
            if (module, t) in EXCEPTIONS:
                continue
            there = _layer(t)
            if there in rank and rank[there] > rank[here]:
                bad.append(f"{module} -> {t}")
    assert not bad, bad


def test_nothing_outside_engine_mentions_durable() -> None:
    offenders = [str(p.relative_to(SRC)) for p in PACKAGE.rglob("*.py")
                 if "durable" in p.read_text(encoding="utf-8") and "engine" not in p.relative_to(PACKAGE).parts[:1]]
    assert not offenders, offenders
