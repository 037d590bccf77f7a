"""End to end: `diagnose run --log LOG --kubeconfig K --format json` against the local API server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from fixtures.build import kubernetes as fk
from fixtures.build import scenario as sc
from tests.servers.kube_api import KubeAPI

ROOT = Path(__file__).resolve().parents[2]
DIAGNOSE = [sys.executable, "-m", "diagnose"]
HPA_PATH = f"/apis/autoscaling/v2/namespaces/{sc.NAMESPACE}/horizontalpodautoscalers"


def _log(path: Path) -> Path:
    lines = []
    for i in range(40):
        ts = sc.ONSET + timedelta(seconds=15 * i)
        lines.append(json.dumps({"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "level": "ERROR",
                                 "message": "request failed: upstream response timeout", "service": sc.CALLER,
                                 "upstream_service": sc.UPSTREAM, "duration_ms": 15000, "timeout_ms": 10000}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(api: KubeAPI, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PROMETHEUS", "KUBE"))}
    env["HOME"] = str(tmp_path)
    cmd = DIAGNOSE + ["run", "--log", str(_log(tmp_path / "app.log")), "--kubeconfig", str(api.kubeconfig(tmp_path)),
                      "--namespace", sc.NAMESPACE, "--timeout", "30", "--format", "json"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _cause(report: dict, cid: str) -> dict:
    return next(c for c in report["causes"] if c["id"] == cid)


def test_run_ranks_overload_first_for_throttled_pods_with_the_hpa_at_max(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("overload")) as api:
        report = _run(api, tmp_path)
    assert report["causes"][0]["id"] == "overload", [(c["id"], c["confidence"]) for c in report["causes"]]
    texts = [e["summary"] for e in report["causes"][0]["evidence"]]
    assert any("HPA production/user-auth-service at its maximum: 3/3" in t for t in texts)
    assert api.lists()


def test_run_ranks_mesh_timeout_first_and_explains_the_15s_duration(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("mesh-timeout")) as api:
        report = _run(api, tmp_path)
    assert report["causes"][0]["id"] == "mesh-timeout", [(c["id"], c["confidence"]) for c in report["causes"]]
    texts = [e["summary"] for e in report["causes"][0]["evidence"]]
    assert any("3 tries (attempts 2 + the first) x perTryTimeout 5s (+ up to 100ms back-off), capped by timeout "
               "15s: at most 15s > frontend-api's 10s deadline" in t for t in texts), texts
    # the timeout chain names the timer whose value the 15000 ms durations match
    assert any(t.startswith("timeouts on the path frontend-api -> VirtualService production/user-auth-service")
               and "Requests end at 15000 ms (p50): the timer that fired is VirtualService "
                   "production/user-auth-service (route default), 3 tries" in t for t in texts), texts


def test_run_with_hpas_forbidden_still_diagnoses_and_names_the_verb(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("overload"), statuses={HPA_PATH: fk.forbidden("horizontalpodautoscalers",
                                                                          "autoscaling")}) as api:
        report = _run(api, tmp_path)
    assert report["causes"][0]["id"] == "overload"
    blob = json.dumps(report)
    assert "cannot list horizontalpodautoscalers.autoscaling in namespace production" in blob
