"""Fixture bundles copied to tmp for a test to edit, and their manifest's checksums sealed again after."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def copy_fixture(name: str, tmp_path: Path) -> Path:
    """fixtures/<name> copied to <tmp_path>/<name>, ours to edit."""
    root = tmp_path / name
    shutil.copytree(REPO / "fixtures" / name, root)
    return root


def reseal(root: Path) -> None:
    """After editing recorded files, the manifest's checksums must match them again."""
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    for rel in manifest["checksums"]:
        manifest["checksums"][rel] = "sha256:" + hashlib.sha256((root / rel).read_bytes()).hexdigest()
    path.write_text(json.dumps(manifest, indent=2))
