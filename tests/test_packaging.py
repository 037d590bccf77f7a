"""What `pip install .` installs: the runbooks and the demo bundle travel inside the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_the_runbooks_and_the_demo_bundle(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("diagnose-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "diagnose/_runbooks/upstream-timeout.yaml" in names
    assert "diagnose/_fixtures/mesh-timeout/manifest.json" in names
    assert "diagnose/cli.py" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
