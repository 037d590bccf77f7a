"""Run the installed CLI as a user would: a real process, real arguments, real exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# No live source from the environment of whoever runs the tests: empty values count as unset.
NO_SOURCES = {"KUBECONFIG": "", "PROMETHEUS_URL": "", "PGHOST": "", "PGDATABASE": "", "PGSERVICE": "",
              "HOME": "/nonexistent-home"}


def diagnose(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "160", **(env or {})}
    full_env.pop("DIAGNOSE_DEBUG", None)
    p = subprocess.run([sys.executable, "-m", "diagnose", *args], input=stdin, capture_output=True,
                       env=full_env, timeout=timeout, cwd=REPO)
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode("utf-8", "replace"),
                                       p.stderr.decode("utf-8", "replace"))


def assert_clean_error(p: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """One line on stderr, the expected exit status, and no traceback anywhere."""
    assert p.returncode == code, (p.returncode, p.stdout[-500:], p.stderr[-500:])
    assert "Traceback" not in p.stderr + p.stdout
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]
