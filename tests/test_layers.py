"""The house's layering, read from the source: the bottom rooms import nothing from above, no import cycle."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "noise2stack"
BOTTOM = {"io", "data", "noise", "nets", "metrics", "errors"}


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def _imports(tree: ast.Module, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("noise2stack"):
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)  # `from noise2stack import api`
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("noise2stack"))
    return names


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_bottom_rooms_import_nothing_from_above():
    for name, tree in _modules().items():
        if _room(name) in BOTTOM:
            above = {m for m in _imports(tree, top_level_only=False) if _room(m) not in BOTTOM}
            assert not above, f"{name} imports {sorted(above)}"


def test_the_module_import_graph_has_no_cycle():
    modules = _modules()

    def ancestors(module: str) -> set[str]:
        parts = module.split(".")
        return {".".join(parts[:i]) for i in range(2, len(parts))}

    graph: dict[str, set[str]] = {}
    for name, tree in modules.items():
        targets = {m for m in _imports(tree, top_level_only=True) if m in modules}
        # importing a.b.c runs the packages a.b first, except those the importer sits in (already running)
        targets |= {p for t in targets for p in ancestors(t) - ancestors(name) - {name}}
        graph[name] = targets
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if nxt == node:
                continue
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join([*path, node, nxt])
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])
