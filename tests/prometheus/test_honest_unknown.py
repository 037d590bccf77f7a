"""A Prometheus that answers every query with no series (the metric names or labels differ here) leaves
the causes that need it `unknown` with the reason, never `unlikely` or healthy on no evidence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.build import prometheus as gen
from tests.servers.prometheus import start_or_skip

from .test_run_live import seed_log

pytestmark = pytest.mark.integration
# A TSDB holding only a series no query asks for: every family answers with an empty result.
UNRELATED = f"# TYPE unrelated_metric gauge\nunrelated_metric{{job=\"other\"}} 1 {gen.cast.ONSET.timestamp():.0f}\n"


def _run(tmp_path: Path) -> dict:
    log = tmp_path / "frontend-api.log"
    seed_log(log)
    server = start_or_skip(UNRELATED)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}      # no kubeconfig, no PG*: only Prometheus
    try:
        done = subprocess.run([sys.executable, "-m", "diagnose", "run", "--log", str(log),
                               "--prometheus-url", server.url, "--format", "json", "--timeout", "30"],
                              capture_output=True, text=True, env=env, timeout=300,
                              cwd=Path(__file__).resolve().parents[2])
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_prometheus_with_no_matching_series_leaves_its_causes_unknown_with_the_reason(tmp_path: Path) -> None:
    report = _run(tmp_path)
    assert report["sources"]["prometheus"]["status"] == "ok"
    by_id = {c["id"]: c for c in report["causes"]}
    # gc-pause rests on gc-metrics alone; overload, network and database on it and sources not given.
    for cid in ("gc-pause", "overload", "network", "database"):
        assert by_id[cid]["verdict"] == "unknown", (cid, by_id[cid]["verdict"])
        assert not by_id[cid]["evidence"], cid
    reason = by_id["gc-pause"]["unknown_reason"]
    assert "no series for any of the" in reason and "families asked" in reason, reason
    checks = {c["id"]: c for c in report["checks"]}
    for cid in ("resource-metrics", "gc-metrics", "network-metrics", "pool-metrics"):
        assert checks[cid]["status"] == "skipped", checks[cid]
        assert "no series" in checks[cid]["error"]


def test_a_bundle_whose_answers_hold_no_series_leaves_gc_pause_unknown(tmp_path: Path) -> None:
    # The same, offline: the gc-pause fixture's recorded answers with every result emptied.
    from bundle_edit import copy_fixture, reseal
    from cli.helpers import NO_SOURCES, diagnose

    root = copy_fixture("gc-pause", tmp_path)
    for path in (root / "prometheus").glob("*.json"):
        doc = json.loads(path.read_text())
        doc["response"]["data"]["result"] = []
        path.write_text(json.dumps(doc))
    reseal(root)
    p = diagnose("analyze", str(root), "--format", "json", env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    gc = next(c for c in json.loads(p.stdout)["causes"] if c["id"] == "gc-pause")
    assert gc["verdict"] == "unknown" and "no series for any of the" in gc["unknown_reason"]
