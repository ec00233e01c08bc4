"""The engine's layout: one module per Argo controller file, and no import cycle among them.

Every import counts (module level, inside functions and under TYPE_CHECKING): a cycle a
type checker has to untangle is one a reader has to untangle too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupyter_argo.engine

_PACKAGE = "jupyter_argo.engine"
_ROOT = Path(jupyter_argo.engine.__file__).parent


def _module_name(path: Path) -> str:
    return _PACKAGE if path.stem == "__init__" else f"{_PACKAGE}.{path.stem}"


def _engine_imports(path: Path, modules: set[str]) -> set[str]:
    """The jupyter_argo.engine modules `path` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = f"{_PACKAGE}.{base}" if base else _PACKAGE
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    found.add(submodule)
                elif base in modules:
                    found.add(base)
    found.discard(_module_name(path))
    return found


def _graph() -> dict[str, set[str]]:
    paths = sorted(_ROOT.glob("*.py"))
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _engine_imports(p, modules) for p in paths}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, as the path that closes it, or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once explored
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        path.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycle_in_engine() -> None:
    graph = _graph()
    assert graph[f"{_PACKAGE}.operator"], "the graph must see the operator's imports"
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_pods_do_not_import_the_operator() -> None:
    graph = _graph()
    assert f"{_PACKAGE}.operator" not in graph[f"{_PACKAGE}.pods"]
    assert f"{_PACKAGE}.woc" not in graph[f"{_PACKAGE}.pods"]


def test_each_argo_controller_file_has_its_module() -> None:
    """A reader holding Argo's controller beside ours finds each file under its name,
    and each names the Argo file it follows."""
    for stem in ("operator", "steps", "dag", "hooks", "exit_handler"):
        module = _ROOT / f"{stem}.py"
        docstring = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8"))) or ""
        assert f"{stem}.go" in docstring, f"{module.name} does not name Argo's {stem}.go"


def test_the_memoization_cache_is_argos_controller_cache() -> None:
    """cache.py follows workflow/controller/cache/ and sits below the operator: it reaches
    the store, nothing that runs a workflow."""
    module = _ROOT / "cache.py"
    docstring = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8"))) or ""
    assert "controller/cache" in docstring
    for name in ("cache.go", "configmap_cache.go"):
        assert name in docstring, f"cache.py does not name Argo's {name}"
    graph = _graph()
    assert graph[f"{_PACKAGE}.cache"] <= {f"{_PACKAGE}.store"}
    assert f"{_PACKAGE}.cache" in graph[f"{_PACKAGE}.operator"]
