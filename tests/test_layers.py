"""The architecture, checked by a machine (as import-linter would): who may import what."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "diagnose"
HEAVY = {"kubernetes", "prometheus_api_client", "psycopg", "psycopg_binary", "requests", "urllib3"}
# layer -> the project layers it may import (beyond itself and diagnose.errors)
ALLOWED = {
    "model": set(),
    "logs": {"model"},
    "parsers": {"model"},
    "checks": {"model"},
    "sources": {"model", "parsers"},
    "bundle": {"model"},
    "render": {"model", "logs.scan"},          # the scan result is what render.logs shows
}


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at module level?) for every import in a file, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    out = []
    top_level = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level + (1 if path.name == "__init__.py" else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((name, id(node) in top_level))
    return out


def files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "_fixtures" not in p.parts and "_runbooks" not in p.parts)


def test_heavy_clients_are_imported_only_inside_functions_of_the_sources_package():
    bad = []
    for f in files():
        for name, top in imports(f):
            if name.split(".")[0] in HEAVY:
                layer = f.relative_to(PACKAGE).parts[0]
                if layer != "sources" or top:
                    bad.append(f"{f.relative_to(PACKAGE)} imports {name}{' at module level' if top else ''}")
    assert not bad, bad


def test_each_layer_imports_only_the_layers_below_it():
    bad = []
    for f in files():
        layer = f.relative_to(PACKAGE).parts[0]
        if layer not in ALLOWED:
            continue
        for name, _ in imports(f):
            if not name.startswith("diagnose."):
                continue
            target = name.removeprefix("diagnose.")
            if target.split(".")[0] in (layer, "errors", "redact") or target == "":
                continue
            if not any(target == a or target.startswith(a + ".") for a in ALLOWED[layer]):
                bad.append(f"{f.relative_to(PACKAGE)} ({layer}) imports {name}")
    assert not bad, bad
