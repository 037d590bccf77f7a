"""Where the recorded incidents live: fixtures/ in a checkout, diagnose._fixtures when installed."""

from __future__ import annotations

from pathlib import Path

# The bundle `diagnose demo` analyses: the seed's incident (duration_ms 15000 against timeout_ms 10000).
DEMO_BUNDLE = "mesh-timeout"


def fixtures_dir() -> Path:
    repo = Path(__file__).resolve().parents[2] / "fixtures"
    if (repo / DEMO_BUNDLE / "manifest.json").is_file():
        return repo
    return Path(__file__).resolve().parents[1] / "_fixtures"      # installed: shipped in the wheel


def demo_bundle() -> Path:
    return fixtures_dir() / DEMO_BUNDLE
