"""The architecture, checked by a machine (as import-linter would): who may import what."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "diagnose"
DOC = PACKAGE.parent / "docs" / "architecture.md"
HEAVY = {"kubernetes", "prometheus_api_client", "psycopg", "psycopg_binary", "requests", "urllib3"}
LEAVES = {"errors", "redact"}          # leaf helpers: importable by every layer but model
# unit -> the units it may import besides itself: every package and module of diagnose/ is a unit, named by
# its folder or module (`diagnose` is diagnose/__init__.py, the version). docs/architecture.md's table
# "Packages, one role each" says the same (test_the_architecture_table_states_these_rules keeps it so).
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "logs": {"model", *LEAVES, "safe_yaml"},
    "sources": {"model", *LEAVES},
    "parsers": {"model", *LEAVES},
    "checks": {"model", *LEAVES},
    "bundle": {"model", *LEAVES, "diagnose"},
    "render": {"model", *LEAVES},
    "engine": {"model", "logs", "sources", "parsers", "checks", "bundle", *LEAVES, "safe_yaml"},
    "cli": {"model", "engine", "render", *LEAVES},
    "errors": set(),
    "redact": set(),
    "safe_yaml": {"errors"},
    "diagnose": set(),
    "__main__": {"cli"},
}


def unit(module: str) -> str:
    """The unit of a module of the package: diagnose.logs.scan -> logs, diagnose.cli -> cli, diagnose -> diagnose."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module(base: list[str], name: str) -> str:
    """`from base import name`: the module base.name when there is one (from .. import redact), else base."""
    here = PACKAGE.parent.joinpath(*base, name)
    return ".".join([*base, name]) if here.with_suffix(".py").exists() or here.is_dir() else ".".join(base)


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
                base += node.module.split(".") if node.module else []
            else:
                base = (node.module or "").split(".")
            out += [(_module(base, a.name), id(node) in top_level) for a in node.names]
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
        rel = f.relative_to(PACKAGE)
        layer = "diagnose" if rel.parts == ("__init__.py",) else rel.parts[0].removesuffix(".py")
        assert layer in ALLOWED, f"{rel}: a unit the layer rules do not name (add it to ALLOWED and the doc)"
        for name, _ in imports(f):
            if name != "diagnose" and not name.startswith("diagnose."):
                continue
            target = unit(name)
            if target != layer and target not in ALLOWED[layer]:
                bad.append(f"{rel} ({layer}) imports {name}")
    assert not bad, bad


def _doc_rules() -> dict[str, set[str]]:
    """The table under "Packages, one role each": first column a unit's path, last the units it may import
    (each in backquotes; none: stdlib only)."""
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("## Packages, one role each"):].split("\n\n")[1]
    rules = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        path = cells[0].strip("`").removeprefix("diagnose/").rstrip("/")
        name = {"__init__.py": "diagnose"}.get(path, path.removesuffix(".py"))
        rules[name] = set(re.findall(r"`([\w.]+)`", cells[-1]))
    return rules


def test_the_architecture_table_states_these_rules():
    assert _doc_rules() == ALLOWED


def test_every_unit_of_the_package_has_a_rule():
    units = {"diagnose" if p.name == "__init__.py" and p.parent == PACKAGE else p.relative_to(PACKAGE).parts[0]
             .removesuffix(".py") for p in files()}
    assert units == set(ALLOWED)
