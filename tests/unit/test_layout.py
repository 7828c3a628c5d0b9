"""The layout of ``transforms/``: stages import each other's public names only, and never in a circle.

The import graph is read from the source (every import statement, those inside functions too);
importing ``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``, so those count as imports
of it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TRANSFORMS = REPO / "transforms"
STAGES = ("cleaning", "identity", "learning", "syndication")


def _modules() -> dict[str, Path]:
    found = {}
    for path in TRANSFORMS.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, str | None]]:
    """(module, imported name or None) of every import in a module, relative ones resolved."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            found += [(module, a.name) for a in node.names]
    return [(m, n) for m, n in found if m == "transforms" or m.startswith("transforms.")]


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name in MODULES:
        edges = set()
        for module, imported in _imports(name):
            target = f"{module}.{imported}" if imported and f"{module}.{imported}" in MODULES else module
            parts = target.split(".")
            edges |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        own = name.split(".")
        graph[name] = edges - {".".join(own[:i]) for i in range(1, len(own) + 1)}
    return graph


def _unit_of(module: str) -> str:
    """A stage package, or a shared module."""
    return ".".join(module.split(".")[:2])


def test_every_stage_is_a_package_with_its_beam_wrappers_in_dofns():
    for stage in STAGES:
        assert f"transforms.{stage}" in MODULES and f"transforms.{stage}.dofns" in MODULES


def test_no_import_circle():
    graph = _graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        for target in sorted(graph.get(name, ())):
            visit(target, path + [name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_no_private_name_is_imported_from_another_stage():
    crossing = [(name, module, imported) for name in MODULES for module, imported in _imports(name)
                if imported and imported.startswith("_") and not imported.startswith("__")
                and _unit_of(module) != _unit_of(name)]
    assert not crossing


def test_the_stages_pure_functions_load_without_beam():
    # Pollers import cleaning's URL and date functions; Beam is only for the wrappers in dofns.py.
    code = ("import sys; import transforms.cleaning, transforms.identity, transforms.learning, "
            "transforms.syndication; print('apache_beam' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
