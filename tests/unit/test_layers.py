"""The import rule of the layout: imports point down the layers only, and never in a circle.

Layers, top to bottom (README "Layout")::

    fleet, fleet.__main__  →  cli  →  verbs  →  engine  →  remote  →  transport
      →  plan, halt  →  inventory  →  config  →  runlog  →  results, errors, events

A module may import a module of a lower layer, or of its own layer; the
imports among all modules (``TYPE_CHECKING`` ones included) must not make a
circle. Read from the source with ``ast``: nothing is imported to check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "fleet"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("fleet.results", "fleet.errors", "fleet.events"),
    ("fleet.runlog",),
    ("fleet.config",),
    ("fleet.inventory",),
    ("fleet.plan", "fleet.halt"),
    ("fleet.transport",),
    ("fleet.remote",),
    ("fleet.engine", "fleet.distributed"),
    ("fleet.verbs",),
    ("fleet.cli",),
    ("fleet", "fleet.__main__"),
)


def module_name(path: Path) -> str:
    """Return the dotted name of a module file under ``fleet/``."""
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def layer_of(module: str) -> int:
    """Return the index of the layer a module belongs to (its longest matching prefix)."""
    best, best_len = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or (prefix != "fleet" and module.startswith(prefix + "."))
            if matches and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best < 0:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS and the README")
    return best


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """Yield every fleet module that ``module`` imports, with the line of the import."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full if full in MODULES else base), node.lineno


def edges() -> dict[str, dict[str, int]]:
    """Return, for every fleet module, the fleet modules it imports (with a line each)."""
    graph: dict[str, dict[str, int]] = {}
    for module in MODULES:
        targets = graph.setdefault(module, {})
        for target, line in imports_of(module):
            if target == "fleet" or target.startswith("fleet."):
                targets.setdefault(target, line)
    return graph


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def upward_imports() -> list[str]:
    """Return one line per import that points up the layers (or to no module)."""
    upward = []
    for module, targets in edges().items():
        for target, line in targets.items():
            if target not in MODULES:
                upward.append(f"{module}:{line} imports {target}, which does not exist")
            elif layer_of(target) > layer_of(module):
                upward.append(f"{module}:{line} imports {target}, a higher layer")
    return upward


def circles_of(graph: dict[str, dict[str, int]]) -> list[str]:
    """Return every circle of imports found, as ``a -> b -> a``."""
    circles: list[str] = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circles.append(" -> ".join([*path[path.index(module):], module]))
            return
        if module in done:
            return
        for target in graph.get(module, {}):
            visit(target, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])
    return circles


def test_every_import_points_down_or_sideways() -> None:
    assert upward_imports() == []


def test_no_import_makes_a_circle() -> None:
    assert circles_of(edges()) == []


def test_a_circle_is_caught() -> None:
    graph = {"fleet.a": {"fleet.b": 1}, "fleet.b": {"fleet.c": 1}, "fleet.c": {"fleet.a": 1}}
    assert circles_of(graph) == ["fleet.a -> fleet.b -> fleet.c -> fleet.a"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from fleet.cli.report import summary\n", "fleet.cli.report"),
        ("import fleet.engine.pipeline\n", "fleet.engine.pipeline"),
        ("from fleet.remote import probe\n", "fleet.remote.probe"),
        ("from fleet.errors import FleetError\n", "fleet.errors"),
    ],
)
def test_imports_are_read_as_modules(source: str, expected: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "errors.py"
    fake.write_text(source, encoding="utf-8")
    monkeypatch.setitem(MODULES, "fleet.errors", fake)
    assert [name for name, _ in imports_of("fleet.errors")] == [expected]


def test_an_upward_import_is_caught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "errors.py"
    fake.write_text("from fleet.cli.report import summary\n", encoding="utf-8")
    monkeypatch.setitem(MODULES, "fleet.errors", fake)
    assert "fleet.errors:1 imports fleet.cli.report, a higher layer" in upward_imports()
