"""End to end: `diagnose run --log LOG --prometheus-url URL --format json` against a real Prometheus
holding each scenario's backfilled metrics ranks the scenario's true cause first."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fixtures.build import prometheus as gen
from tests.servers.prometheus import start_or_skip

from .helpers import RANKING_CASES, story_for

pytestmark = pytest.mark.integration
cast = gen.cast
DIAGNOSE = Path(sys.executable).parent / "diagnose"


def seed_log(path: Path) -> None:
    """The seed's timeout line every 5 s from the first to the last timeout; the caller's own 10 s
    deadline ends each request."""
    lines, t, n = [], cast.ONSET, 0
    while t <= cast.LAST:
        lines.append(json.dumps({
            "timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "level": "ERROR",
            "message": "request failed: upstream response timeout", "service": cast.CALLER,
            "upstream_service": cast.UPSTREAM, "duration_ms": cast.CALLER_TIMEOUT_MS + (n * 7) % 40,
            "timeout_ms": cast.CALLER_TIMEOUT_MS,
            "kubernetes": {"namespace_name": cast.NAMESPACE, "pod_name": cast.CALLER_PODS[n % 2]}}))
        t += timedelta(seconds=5)
        n += 1
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("scenario, flavour, expected", RANKING_CASES)
def test_diagnose_run_ranks_the_true_cause_first(tmp_path: Path, scenario: str, flavour: str | None,
                                                 expected: str) -> None:
    if not DIAGNOSE.exists():
        pytest.skip(f"{DIAGNOSE} not installed (pip install -e .)")
    story = story_for(scenario, flavour)
    log = tmp_path / "frontend-api.log"
    seed_log(log)
    server = start_or_skip(gen.openmetrics(story))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}      # no kubeconfig, no PG*: only Prometheus
    try:
        done = subprocess.run([str(DIAGNOSE), "run", "--log", str(log), "--prometheus-url", server.url,
                               "--format", "json", "--timeout", "30"],
                              capture_output=True, text=True, env=env, timeout=300)
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    ranked = [c["id"] for c in report["causes"]]
    assert ranked[0] == expected, [(c["id"], c["confidence"]) for c in report["causes"]]
    if scenario == "gc-misleading-cpu":
        assert ranked.index("gc-pause") < ranked.index("overload")
    checks = {c["id"]: c["status"] for c in report["checks"]}
    assert checks.get("resource-metrics") in ("ok", "finding") and checks.get("gc-metrics") in ("ok", "finding")
