"""`diagnose run --timeout 2` against servers that misbehave (tests/servers/hostile.py): each run ends within
the budget plus a small constant, the hostile source is an `error` with a one-line reason, the rest of the
report is produced, and the process stays small whatever the server sends.

Each case is a real process: its wall-clock time is measured around it and its peak RSS is its own
(tests/measure.py: a small launcher waits for it with os.wait4, so the pytest process's own size is not
inherited into the figure).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import measure
import pytest
from servers.hostile import Hostile

REPO = Path(__file__).resolve().parents[2]
LOG = REPO / "fixtures" / "overload" / "logs" / "incident.log"
TIMEOUT = 2.0
SLACK = 1.5            # start-up, analysis and rendering on a busy 2-core machine: generous
MAX_RSS_MB = 300       # the 100 MB answer included: it is refused, never held whole

HTTP_MODES = ("silent", "drip", "huge", "reset", "redirect")
CASES = ([("prometheus", m) for m in HTTP_MODES] + [("kubernetes", m) for m in HTTP_MODES]
         + [("postgres", m) for m in ("silent", "drip", "reset")])


def kubeconfig(directory: Path, url: str) -> Path:
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "hostile",
           "clusters": [{"name": "hostile", "cluster": {"server": url}}],
           "contexts": [{"name": "hostile", "context": {"cluster": "hostile", "user": "u", "namespace": "production"}}],
           "users": [{"name": "u", "user": {"token": "not-a-secret"}}]}
    path = directory / "kubeconfig"
    path.write_text(json.dumps(doc))
    return path


def source_args(source: str, server: Hostile, tmp_path: Path) -> list[str]:
    if source == "prometheus":
        return ["--prometheus-url", server.url]
    if source == "kubernetes":
        return ["--kubeconfig", str(kubeconfig(tmp_path, server.url))]
    return ["--pg-dsn", f"host=127.0.0.1 port={server.port} dbname=app user=app connect_timeout=30"]


def run_measured(args: list[str], tmp_path: Path, kill_after: float = 30) -> tuple[int, float, float, str, str]:
    """(exit status, wall seconds, peak RSS in MB, stdout, stderr) of one `diagnose` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PROMETHEUS", "KUBE", "DIAGNOSE"))}
    env["HOME"] = str(tmp_path)             # no ~/.kube/config of whoever runs the tests
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    m = measure.run_measured([sys.executable, "-m", "diagnose", *args], cwd=REPO, env=env, stdout=out,
                             stderr=err, kill_after=kill_after)
    return m.code, m.wall, m.rss_mb, out.read_text(), err.read_text()


@pytest.mark.parametrize(("source", "mode"), CASES, ids=[f"{s}-{m}" for s, m in CASES])
def test_a_hostile_server_costs_its_source_and_the_budget_only(source: str, mode: str, tmp_path: Path) -> None:
    with Hostile(mode) as server:
        code, wall, rss_mb, out, err = run_measured(
            ["run", "--log", str(LOG), *source_args(source, server, tmp_path), "--timeout", f"{TIMEOUT:g}",
             "--format", "json"], tmp_path)
    print(f"{source}-{mode}: exit {code}, {wall:.2f} s wall, {rss_mb:.0f} MB peak RSS")
    assert code == 0, err[-2000:]
    assert "Traceback" not in err
    assert wall < TIMEOUT + SLACK, f"{source}-{mode}: the run took {wall:.1f} s with --timeout {TIMEOUT:g}"
    assert rss_mb < MAX_RSS_MB, f"{source}-{mode}: peak RSS {rss_mb:.0f} MB"
    report = json.loads(out)
    status = report["sources"][source]
    assert status["status"] == "error", status
    reason = status["error"]
    assert reason and "\n" not in reason and len(reason) <= 500, reason
    if mode == "huge":
        assert "larger than 32 MiB" in reason, reason
    # The rest of the report is there: the logs read, the other sources skipped, the causes ranked.
    assert report["sources"]["logs"]["status"] == "ok"
    assert {n for n, s in report["sources"].items() if s["status"] == "skipped"} == \
        set(report["sources"]) - {"logs", source}
    assert report["causes"], report
