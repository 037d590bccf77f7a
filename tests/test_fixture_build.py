"""`python -m fixtures.build` reproduces the committed bundles byte for byte.

A lint clean-up once removed an import the builder needed (ruff took it for unused), and nothing in the
suite ran the builder; this does, into a temporary folder, so the committed bundles are never touched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import fixtures.build.__main__ as builder
from fixtures.build import scenario as cast

REPO = Path(__file__).resolve().parents[1]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", list(cast.SCENARIOS))
def test_rebuilding_a_scenario_gives_the_committed_bundle(name: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builder, "FIXTURES", tmp_path)
    built = _tree(builder.build(name))
    committed = _tree(REPO / "fixtures" / name)
    assert sorted(built) == sorted(committed)
    changed = [path for path in built if built[path] != committed[path]]
    assert not changed, f"{name}: rebuilt files differ from the committed ones: {changed}"
