"""The shape of the code: small files, imports one way, no circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "custom_components" / "ttn_mqtt"
# A file past this is probably two (docs/architecture.md).
MAX_LINES = 400


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def _imports() -> dict[str, set[str]]:
    """Return, for each module of the package, the modules of it that it imports."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module(path)
        package = name.rsplit(".", 1)[0] if "." in name else ""
        if path.name == "__init__.py":
            package = name.removesuffix(".__init__").removesuffix("__init__")
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, *([node.module] if node.module else [])])
            if (PACKAGE / f"{target.replace('.', '/')}.py").exists():
                imported.add(target)
            else:
                imported |= {
                    f"{target}.{alias.name}".lstrip(".") for alias in node.names
                }
        graph[name] = {module for module in imported if module != name}
    return graph


def test_no_file_is_too_long() -> None:
    """Every file reads in one sitting; a table of data may be a file of its own."""
    long = {
        _module(path): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long


def test_no_import_circle() -> None:
    """Imports run one way: no module reaches itself through what it imports."""
    graph = _imports()
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        for imported in sorted(graph.get(module, ())):
            if imported in path:
                circles.append([*path[path.index(imported) :], imported])
            elif imported not in done:
                visit(imported, [*path, imported])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert not circles


def test_the_protocol_layer_imports_only_itself() -> None:
    """protocol/ never imports the Home Assistant layer."""
    graph = _imports()
    outside = {
        module: sorted(imported - {m for m in graph if m.startswith("protocol")})
        for module, imported in graph.items()
        if module.startswith("protocol")
    }
    assert not {module: found for module, found in outside.items() if found}
