"""`diagnose run --from deploy/NAME`: the pods' logs read through pods/log of the local API server (every
container, the sidecar and the previous container of a restarted one included), bounded in bytes per pod,
diagnosed with no log file at all, and kept in the bundle so that `analyze` sees the same incident."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from fixtures.build import kubernetes as fk
from fixtures.build import scenario as sc
from tests.servers.kube_api import KubeAPI, Request

ROOT = Path(__file__).resolve().parents[2]
DIAGNOSE = [sys.executable, "-m", "diagnose"]
NS = sc.NAMESPACE
# Pod names as a ReplicaSet makes them (the suffixes use the API's vowel-less alphabet).
PODS = ("frontend-api-5c8d7f9b4-x2x4z", "frontend-api-5c8d7f9b4-k7n2p")
SIDECAR = "istio-proxy"


def _cluster() -> dict[str, Any]:
    """The overload scenario's cluster; the caller's pods renamed, each with an Envoy sidecar (a native
    sidecar on the first pod, a plain second container on the other), the first restarted once."""
    docs = copy.deepcopy(fk.cluster("overload"))
    pods = docs[f"/api/v1/namespaces/{NS}/pods"]["items"]
    callers = [p for p in pods if p["metadata"]["labels"].get("app") == sc.CALLER]
    sidecar = {"name": SIDECAR, "image": "docker.io/istio/proxyv2:1.22.1"}
    for pod, name in zip(callers, PODS, strict=True):
        pod["metadata"]["name"] = name
    callers[0]["spec"]["initContainers"] = [dict(sidecar, restartPolicy="Always")]
    callers[1]["spec"]["containers"].append(sidecar)
    callers[0]["status"]["containerStatuses"][0]["restartCount"] = 1
    return docs


def _app_line(t: datetime) -> str:
    # No caller field: the pod (its kubectl prefix) names the caller.
    return json.dumps({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "level": "ERROR",
                       "message": "request failed: upstream response timeout", "upstream_service": sc.UPSTREAM,
                       "duration_ms": 15000, "timeout_ms": 10000})


def _envoy_line(t: datetime) -> str:
    return (f'[{t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}Z] "GET /v1/verify HTTP/1.1" 504 UT 0 24 15001 - "-" '
            f'"okhttp/4.12.0" "5f0e6c1a-8d5b-4a4e-9f0a-2b8f1c3d9e11" "{sc.UPSTREAM}:8080" "10.0.2.31:8080" '
            f'outbound|8080||{sc.UPSTREAM}.{NS}.svc.cluster.local 10.0.1.60:51234 10.96.14.7:8080 '
            f'10.0.1.60:40112 - default')


def _logs(now: datetime) -> dict[tuple[str, str, bool], list[tuple[datetime, str]]]:
    """12 timeouts in each app container (10 minutes ago onwards), 5 in the restarted one's previous
    container, an hour-old timeout --since 30m leaves out, and the sidecars' access lines of the calls."""
    start = now - timedelta(minutes=10)
    app = [(start + timedelta(seconds=20 * i), _app_line(start + timedelta(seconds=20 * i))) for i in range(12)]
    old = now - timedelta(hours=1)
    envoy = [(t, _envoy_line(t)) for t, _ in app]
    before = [(start - timedelta(minutes=3, seconds=i), _app_line(start - timedelta(minutes=3, seconds=i)))
              for i in range(5, 0, -1)]
    return {(PODS[0], sc.CALLER, False): [(old, _app_line(old)), *app],
            (PODS[0], sc.CALLER, True): before,
            (PODS[1], sc.CALLER, False): app,
            (PODS[0], SIDECAR, False): envoy,
            (PODS[1], SIDECAR, False): envoy}


def _diagnose(api: KubeAPI, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PROMETHEUS", "KUBE"))}
    env["HOME"] = str(tmp_path)
    return subprocess.run(DIAGNOSE + [*args, "--kubeconfig", str(api.kubeconfig(tmp_path)), "--timeout", "30"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _log_calls(api: KubeAPI) -> list[Request]:
    return [r for r in api.requests if r.path.endswith("/log")]


def test_run_from_a_deployment_diagnoses_the_incident_from_the_pods_logs_alone(tmp_path: Path) -> None:
    with KubeAPI(_cluster(), logs=_logs(datetime.now(timezone.utc))) as api:
        done = _diagnose(api, tmp_path, "run", "--from", f"deploy/{sc.CALLER}", "-n", NS, "--since", "30m",
                         "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    incident = report["incident"]
    # 12 + 12 app timeouts and 5 of the restarted container; the hour-old one is outside --since; the
    # sidecars' 24 access lines are the same calls, seen by the proxy: one incident of the pods' workload,
    # the calls counted once.
    assert (incident["service"], incident["upstream"]) == (sc.CALLER, sc.UPSTREAM)
    assert incident["events"] == 29 and incident["timeout_ms"] == 10000
    assert [(v["log"], v["events"]) for v in incident["seen_by"]] == [("app", 29), ("envoy", 24)]
    assert report["sources"]["pod-logs"]["status"] == "ok"
    assert report["sources"]["kubernetes"]["status"] == "ok"
    asked = {(r.path.split("/")[-2], r.query.get("container"), r.query.get("previous")) for r in _log_calls(api)}
    assert asked == {(PODS[0], sc.CALLER, None), (PODS[0], sc.CALLER, "true"), (PODS[0], SIDECAR, None),
                     (PODS[1], sc.CALLER, None), (PODS[1], SIDECAR, None)}
    for r in _log_calls(api):
        assert r.query["timestamps"] == "true" and r.query["sinceSeconds"] == "1800"
        assert 0 < int(r.query["limitBytes"]) <= 4 << 20


def test_collect_from_keeps_the_pods_logs_in_the_bundle_and_analyze_sees_the_same_incident(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    with KubeAPI(_cluster(), logs=_logs(datetime.now(timezone.utc))) as api:
        done = _diagnose(api, tmp_path, "collect", "--from", f"deploy/{sc.CALLER}", "-n", NS, "--out", str(out))
    assert done.returncode == 0, done.stderr
    kept = sorted(p.relative_to(out / "pod-logs").as_posix() for p in (out / "pod-logs").rglob("*.log"))
    assert kept == sorted([f"{PODS[0]}/{SIDECAR}.log", f"{PODS[0]}/{sc.CALLER}.log",
                           f"{PODS[0]}/{sc.CALLER}.previous.log", f"{PODS[1]}/{SIDECAR}.log",
                           f"{PODS[1]}/{sc.CALLER}.log"])
    first = (out / "pod-logs" / PODS[1] / f"{sc.CALLER}.log").read_text().splitlines()[0]
    assert first.startswith(f"[pod/{PODS[1]}/{sc.CALLER}] 20")          # kubectl logs --prefix --timestamps
    manifest = json.loads((out / "manifest.json").read_text())
    analyzed = subprocess.run(DIAGNOSE + ["analyze", str(out), "--format", "json"], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    assert analyzed.returncode == 0, analyzed.stderr
    report = json.loads(analyzed.stdout)
    assert report["incident"]["events"] == manifest["incident"]["events"] >= 29
    assert report["incident"]["service"] == sc.CALLER
    assert report["sources"]["pod-logs"]["status"] == "ok"


def test_pod_log_bytes_bounds_what_each_pod_gives_and_says_what_was_cut(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    with KubeAPI(_cluster(), logs=_logs(datetime.now(timezone.utc))) as api:
        done = _diagnose(api, tmp_path, "collect", "--from", f"deploy/{sc.CALLER}", "-n", NS,
                         "--pod-log-bytes", "2KiB", "--out", str(out))
    assert done.returncode == 0, done.stderr
    for pod in PODS:
        kept = sum(p.stat().st_size - p.read_bytes().count(b"\n") * len(f"[pod/{pod}/{sc.CALLER}] ")
                   for p in (out / "pod-logs" / pod).glob("*.log"))
        assert kept <= 2048
    for r in _log_calls(api):
        assert int(r.query["limitBytes"]) <= 2048
    collection = json.loads((out / "pod-logs" / "collection.json").read_text())
    assert f"{PODS[0]}/{sc.CALLER}" in collection["truncated"]
    # A line cut by limitBytes is not kept half.
    for p in (out / "pod-logs").rglob("*.log"):
        for line in p.read_text().splitlines():
            if sc.CALLER + "]" in line.split(" ", 1)[0]:
                json.loads(line.split(" ", 2)[2])


def test_a_previous_container_the_api_does_not_have_is_a_note_and_the_other_logs_are_read(tmp_path: Path) -> None:
    logs = _logs(datetime.now(timezone.utc))
    del logs[(PODS[0], sc.CALLER, True)]          # restartCount 1, but the runtime kept no previous container
    out = tmp_path / "bundle"
    with KubeAPI(_cluster(), logs=logs) as api:
        done = _diagnose(api, tmp_path, "collect", "--from", f"deploy/{sc.CALLER}", "-n", NS, "--out", str(out))
    assert done.returncode == 0, done.stderr
    errors = json.loads((out / "pod-logs" / "collection.json").read_text())["errors"]
    assert errors == {f"{PODS[0]}/{sc.CALLER} (previous)":
                      f'400 Bad Request: previous terminated container "{sc.CALLER}" in pod "{PODS[0]}" not found'}
    assert (out / "pod-logs" / PODS[0] / f"{sc.CALLER}.log").is_file()


def test_run_from_one_pod_reads_that_pod_only(tmp_path: Path) -> None:
    with KubeAPI(_cluster(), logs=_logs(datetime.now(timezone.utc))) as api:
        done = _diagnose(api, tmp_path, "run", "--from", f"pod/{PODS[1]}", "-n", NS, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert {r.path.split("/")[-2] for r in _log_calls(api)} == {PODS[1]}
    assert json.loads(done.stdout)["incident"]["service"] == sc.CALLER


def test_run_with_a_label_selector_reads_the_pods_it_selects(tmp_path: Path) -> None:
    with KubeAPI(_cluster(), logs=_logs(datetime.now(timezone.utc))) as api:
        done = _diagnose(api, tmp_path, "run", "-l", f"app={sc.CALLER}", "-n", NS, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert {r.path.split("/")[-2] for r in _log_calls(api)} == set(PODS)
    pod_lists = [r for r in api.requests if r.path == f"/api/v1/namespaces/{NS}/pods" and "labelSelector" in r.query]
    assert pod_lists[0].query["labelSelector"] == f"app={sc.CALLER}"


@pytest.mark.parametrize("args", [
    ["--from", "deploy/Front_End"],                  # not an object name
    ["--from", "deploy/a/../../secrets"],            # a path in a name
    ["--from", "cronjob/frontend-api"],              # a kind it does not read
    ["-l", "app=frontend api"],                      # not a label value
    ["--from", f"deploy/{sc.CALLER}", "--since", "half an hour"],
])
def test_names_that_are_not_names_never_reach_a_url_and_exit_2(tmp_path: Path, args: list[str]) -> None:
    with KubeAPI(_cluster(), logs=_logs(datetime.now(timezone.utc))) as api:
        done = _diagnose(api, tmp_path, "run", *args, "-n", NS)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("diagnose: error: pod-logs: no logs: ") and done.stderr.count("\n") == 1
    assert not _log_calls(api) and not api.requests


def test_run_without_a_log_or_pods_to_read_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(DIAGNOSE + ["run"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "give a log (--log PATH) or the pods to read logs from" in done.stderr
