"""What `pip install .` installs: the runbooks and the demo bundle travel inside the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_the_runbooks_and_the_demo_bundle(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(REPO)],
                           check=True, capture_output=True, text=True, timeout=300)
    wheel = next(tmp_path.glob("diagnose-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "diagnose/_runbooks/upstream-timeout.yaml" in names
    assert "diagnose/_fixtures/mesh-timeout/manifest.json" in names
    assert "diagnose/cli.py" in names
    assert not any(n.startswith(("tests/", "bench/", "diagnose/_fixtures/build/")) for n in names)
    assert not any("__pycache__" in n for n in names)
    # The licence and the data packages are declared as setuptools wants them: it warns about neither.
    assert "BuildBackendWarning" not in built.stdout + built.stderr
