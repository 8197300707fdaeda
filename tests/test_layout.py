"""The package's shape holds: route modules never import each other, and modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "inspector"
# Shared helpers of the views: no routes of their own, importable by every route module.
VIEW_HELPERS = {"inspector.views.common", "inspector.views.pages.context", "inspector.views.pages.forms"}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_view_module_imports_another_view_module():
    views = {module_name(path): path for path in (PACKAGE / "views").rglob("*.py")}
    routes = {name for name in views if name not in VIEW_HELPERS and name != "inspector.views"}
    assert {"inspector.views.api", "inspector.views.pages", "inspector.views.capture"} <= routes
    for name in routes:
        others = (imported_modules(views[name]) & routes) - {name}
        assert not others, f"{name} imports {sorted(others)}"


def test_no_module_is_over_400_lines():
    long = {
        module_name(path): count
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_module_opens_with_a_docstring():
    missing = [
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if "versions" not in path.parts and ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert missing == []
