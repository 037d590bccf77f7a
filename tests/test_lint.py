"""The style guide's "ruff and mypy clean", kept true by the suite (both are in the `test` extra).

Run as the style guide runs them, from the repository top with pyproject.toml's settings, so a new
long line or a type error fails here and not only in review.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUFF_PATHS = ("diagnose", "tests", "bench", "fixtures/build")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True)


def _report(p: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(p.args[2:])} exited {p.returncode}\n{p.stdout}{p.stderr}"


def test_ruff_finds_nothing_in_the_code_tests_benches_and_fixture_writers() -> None:
    # --no-cache: the suite leaves no .ruff_cache behind
    p = _run("ruff", "check", "--no-cache", *RUFF_PATHS)
    assert p.returncode == 0, _report(p)


def test_mypy_strict_finds_no_type_errors_in_the_package() -> None:
    # --strict as well as pyproject.toml's `strict = true`: the guarantee does not rest on a setting one edit
    # can drop. mypy keeps its cache in .mypy_cache (git-ignored by the file mypy writes there): a warm run is
    # seconds.
    p = _run("mypy", "--strict", "diagnose")
    assert p.returncode == 0, _report(p)
