"""The modules of server/ import one another without circles, and without hiding one.

Every import counts, those inside functions too; relative imports are resolved. A name imported
from a package (`from ..models import Area`) is an import of the module the package's __init__
takes it from (models/areas.py), when it takes it from one. A package's __init__ that assembles its
own submodules (registering the API's blueprints, the OpenRosa routes, the models for Alembic) is
not a module here: its imports of modules inside its own package are its assembly, not a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

from server.config import PROJECT_ROOT

SERVER = PROJECT_ROOT / "server"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SERVER.rglob("*.py")):
        parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _base(module: str, level: int, named: str | None) -> str:
    """The absolute name `from <level dots><named>` means inside `module`."""
    if not level:
        return named or ""
    package = module if _is_package(module) else module.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{named}" if named else package


def _imports(module: str) -> list[tuple[ast.stmt, str, str | None, bool]]:
    """(statement, module imported from, name imported or None, inside a function) of every import
    in the module."""
    found = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((child, alias.name, None, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _base(module, child.level, child.module)
                found.extend((child, base, alias.name, in_function) for alias in child.names)
            walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    walk(ast.parse(MODULES[module].read_text(encoding="utf-8")), False)
    return found


def _target(base: str, name: str | None) -> str | None:
    """The server module an import depends on, or None for one outside server/."""
    if name is not None and f"{base}.{name}" in MODULES:
        return f"{base}.{name}"  # a submodule
    if base not in MODULES:
        return None
    if name is not None and _is_package(base):
        for node, source, imported, _ in _imports(base):  # a name the package re-exports from a submodule
            if isinstance(node, ast.ImportFrom) and imported == name and source.startswith(base + "."):
                return _target(source, name) or source
    return base


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module in MODULES:
        edges = {_target(base, name) for _, base, name, _ in _imports(module)} - {None, module}
        if _is_package(module):
            edges = {edge for edge in edges if not edge.startswith(module + ".")}  # its assembly
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_imports_inside_functions_and_through_packages():
    graph = _graph()
    assert "server.services.checks" in graph["server.services.checking"]  # from .checks import ...
    assert "server.models.areas" in graph["server.services.areas"]  # from ..models import Area
    assert "server.services.audit" in graph["server.services.review"]  # from . import audit
    assert "server.api.areas" not in graph["server.api"]  # the blueprints' registration
    assert "server.api" in graph["server.api.areas"]  # from . import Schema
    assert "server.cli" not in graph["server"]  # the app factory assembles the package
    assert ("server.cli", "register_cli", True) in [(base, name, inside) for _, base, name, inside in _imports("server")]
    assert _base("server.services.checks", 1, "xforms") == "server.services.xforms"
    assert _base("server.services.checks", 2, "models") == "server.models"
    assert _base("server.api", 1, None) == "server.api"
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_server_imports_one_that_imports_it_back():
    assert _cycles(_graph()) == []


def test_no_import_of_a_server_module_hides_inside_a_function():
    """An import inside a function hides a circle from the reader; a package's __init__ that
    assembles its submodules (the app factory, the API's blueprints) is the one exception."""
    hidden = [f"{module}:{node.lineno} {base} {name or ''}".strip()
              for module in MODULES if not _is_package(module)
              for node, base, name, in_function in _imports(module)
              if in_function and _target(base, name) is not None]
    assert hidden == []
