"""--exec-thread-dumps end to end: `diagnose run` against the local API server, exec answered over WebSocket.

The server (tests/servers/kube_api.py) speaks v4.channel.k8s.io to the official client and answers each
(pod, container, command) from a table; the dumps it serves are the deadlock fixture's own.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from diagnose.sources import kube_exec
from diagnose.sources.base import SourceOptions
from diagnose.sources.kubernetes import _api_client
from fixtures.build import kubernetes as fk
from fixtures.build import scenario as sc
from tests.kubernetes.test_kube_run_live import (
    _log,
)
from tests.servers.kube_api import ExecTable, KubeAPI

ROOT = Path(__file__).resolve().parents[2]
DIAGNOSE = [sys.executable, "-m", "diagnose"]
DUMPS = ROOT / "fixtures" / "deadlock" / "thread-dumps"
PODS_PATH = f"/api/v1/namespaces/{sc.NAMESPACE}/pods"
JCMD = ("jcmd", "1", "Thread.print")
JSTACK = ("jstack", "1")
APP = sc.UPSTREAM                      # the JVM container is named after the service
SIDECAR = "istio-proxy"


def _pods() -> list[str]:
    return sorted(d.name for d in DUMPS.iterdir() if d.is_dir())


def _dump(pod: str) -> bytes:
    return (DUMPS / pod / "1.txt").read_bytes()


def _jcmd_answers() -> ExecTable:
    # jcmd prints the pid it attached to on a line of its own before the dump.
    return {(pod, APP, JCMD): (b"1:\n" + _dump(pod), b"", 0) for pod in _pods()}


def _with_sidecar(docs: dict[str, Any]) -> dict[str, Any]:
    """The deadlock cluster with an Envoy sidecar, running, in every upstream pod (not a JVM: never exec'd)."""
    docs = copy.deepcopy(docs)
    for pod in docs[PODS_PATH]["items"]:
        if pod["metadata"]["name"] not in _pods():
            continue
        pod["spec"]["containers"].append({
            "name": SIDECAR, "image": "docker.io/istio/proxyv2:1.19.3",
            "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"]})
        pod["status"]["containerStatuses"].append({
            "name": SIDECAR, "ready": True, "restartCount": 0, "image": "docker.io/istio/proxyv2:1.19.3",
            "imageID": "docker.io/istio/proxyv2@sha256:"
                       "1b7b6f4a5c2d0e3f8a9b4c7d6e5f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f",
            "containerID": "containerd://9a8b7c6d5e4f", "started": True,
            "state": {"running": {"startedAt": "2023-10-25T08:00:12Z"}}})
    return docs


def _forbidden(pod: str) -> dict[str, Any]:
    return fk.status_doc(403, f'pods "{pod}" is forbidden: User "system:serviceaccount:ops:diagnose" cannot create '
                         f'resource "pods/exec" in API group "" in the namespace "{sc.NAMESPACE}"',
                         reason="Forbidden", kind="pods")


def _run(api: KubeAPI, tmp_path: Path, *extra: str, timeout: str = "30") -> tuple[dict[str, Any], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PROMETHEUS", "KUBE"))}
    env["HOME"] = str(tmp_path)
    bundle = tmp_path / "bundle"
    cmd = DIAGNOSE + ["run", "--log", str(_log(tmp_path / "app.log")), "--kubeconfig", str(api.kubeconfig(tmp_path)),
                      "--namespace", sc.NAMESPACE, "--timeout", timeout, "--bundle-out", str(bundle),
                      "--format", "json", *extra]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), bundle


def _ranking(report: dict[str, Any]) -> list[tuple[str, float]]:
    return [(c["id"], c["confidence"]) for c in report["causes"]]


def _execs(api: KubeAPI) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(r.path.split("/")[-2], r.query.get("container", ""), r.command) for r in api.execs()]


def test_exec_dumps_from_jcmd_rank_deadlock_first(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("deadlock"), exec_results=_jcmd_answers()) as api:
        report, bundle = _run(api, tmp_path, "--exec-thread-dumps")
    assert report["causes"][0]["id"] == "deadlock", _ranking(report)
    assert report["sources"]["thread-dumps"]["status"] == "ok", report["sources"]["thread-dumps"]
    assert report["sources"]["kubernetes"]["status"] == "ok", report["sources"]["kubernetes"]
    texts = " ".join(e["summary"] for e in report["causes"][0]["evidence"])
    assert "SessionCache" in texts or "TokenStore" in texts or "deadlock" in texts.lower(), texts


def test_exec_runs_only_jcmd_in_the_jvm_container_of_each_upstream_pod_once(tmp_path: Path) -> None:
    with KubeAPI(_with_sidecar(fk.cluster("deadlock")), exec_results=_jcmd_answers()) as api:
        report, _ = _run(api, tmp_path, "--exec-thread-dumps")
    assert report["causes"][0]["id"] == "deadlock", _ranking(report)
    assert sorted(_execs(api)) == [(pod, APP, JCMD) for pod in _pods()]
    for r in api.execs():
        assert r.path == f"/api/v1/namespaces/{sc.NAMESPACE}/pods/{r.path.split('/')[-2]}/exec"
        assert (r.query.get("stdout"), r.query.get("stderr"), r.query.get("stdin"), r.query.get("tty")) == \
            ("true", "true", "false", "false"), r.query
        assert r.authorization.startswith("Bearer ")


@pytest.mark.parametrize("jcmd", ["exits 127 with jcmd: not found", "is not in the image"])
def test_exec_falls_back_to_jstack_when_jcmd_fails(tmp_path: Path, jcmd: str) -> None:
    table: ExecTable = {(pod, APP, JSTACK): (_dump(pod), b"", 0) for pod in _pods()}
    if jcmd.startswith("exits"):
        table.update({(pod, APP, JCMD): (b"", b"sh: 1: jcmd: not found\n", 127) for pod in _pods()})
    # else: no answer for jcmd, and the server says what containerd says: executable file not found
    with KubeAPI(fk.cluster("deadlock"), exec_results=table) as api:
        report, bundle = _run(api, tmp_path, "--exec-thread-dumps")
    assert report["causes"][0]["id"] == "deadlock", _ranking(report)
    assert report["sources"]["thread-dumps"]["status"] == "ok"
    assert sorted(_execs(api)) == sorted([(pod, APP, c) for pod in _pods() for c in (JCMD, JSTACK)])
    for pod in _pods():                               # each pod: jcmd first, jstack only after it failed
        assert [c for p, _, c in _execs(api) if p == pod] == [JCMD, JSTACK]
    assert sorted(p.name for p in (bundle / "exec-thread-dumps").glob("*/*.txt")) == [f"{APP}-1.txt"] * 3


def test_no_exec_request_without_the_flag(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("deadlock"), exec_results=_jcmd_answers()) as api:
        report, bundle = _run(api, tmp_path)
    assert api.lists(), "the run made no API call at all"
    assert api.execs() == []
    assert not (bundle / "kubernetes" / "exec").exists() and not (bundle / "exec-thread-dumps").exists()
    assert report["sources"]["thread-dumps"]["status"] != "ok"


def test_exec_forbidden_is_noted_once_and_the_run_completes(tmp_path: Path) -> None:
    statuses = {f"{PODS_PATH}/{pod}/exec": _forbidden(pod) for pod in _pods()}
    with KubeAPI(fk.cluster("deadlock"), statuses=statuses, exec_results=_jcmd_answers()) as api:
        report, bundle = _run(api, tmp_path, "--exec-thread-dumps")
    assert report["sources"]["kubernetes"]["status"] == "ok", report["sources"]["kubernetes"]
    assert report["causes"], "no ranking"
    # RBAC is per namespace: one refusal says it for every pod, and jstack is not tried after it.
    assert len(api.execs()) == 1 and api.execs()[0].command == JCMD
    errors = json.loads((bundle / "exec-thread-dumps" / "errors.json").read_text())
    first = _pods()[0]
    assert errors[f"{first}/{APP}"] == (
        f'exec refused (HTTP 403): pods "{first}" is forbidden: User "system:serviceaccount:ops:diagnose" cannot '
        f'create resource "pods/exec" in API group "" in the namespace "{sc.NAMESPACE}"')
    assert all(v.startswith("not tried: exec refused (HTTP 403)") for k, v in errors.items() if k != f"{first}/{APP}")
    assert len(errors) == 3


def test_exec_forbidden_message_reaches_the_report(tmp_path: Path) -> None:
    statuses = {f"{PODS_PATH}/{pod}/exec": _forbidden(pod) for pod in _pods()}
    with KubeAPI(fk.cluster("deadlock"), statuses=statuses) as api:
        report, _ = _run(api, tmp_path, "--exec-thread-dumps")
    blob = json.dumps(report)
    assert 'cannot create resource \\"pods/exec\\"' in blob
    assert "errors.json: not a thread dump" not in blob


def test_exec_output_is_stored_byte_for_byte_across_frames(tmp_path: Path) -> None:
    """A UTF-8 character split between two WebSocket frames survives (the client decodes frame by frame
    unless asked for bytes). 32 KiB frames: 'é' straddles the first boundary."""
    pod = _pods()[0]
    name = ("\"http-nio-8080-exec-1 café\" #41 daemon prio=5 os_prio=0 tid=0x1 nid=0x2 runnable\n").encode()
    out = b"1:\n" + b"x" * (32 * 1024 - 4) + "é\n".encode() + name * 200
    with KubeAPI(fk.cluster("deadlock"), exec_results={(pod, APP, JCMD): (out, b"", 0)}) as api:
        client, _ = _api_client(SourceOptions(kubeconfig=str(api.kubeconfig(tmp_path))))
        try:
            files = kube_exec.thread_dumps(client, sc.NAMESPACE, json.dumps(api.docs[PODS_PATH]).encode(),
                                           time.monotonic() + 30)
        finally:
            client.close()
    assert files[f"{pod}/{APP}-1.txt"] == out
    errors = json.loads(files["errors.json"])      # the other two pods: no jcmd, no jstack in the table
    assert sorted(errors) == [f"{p}/{APP}" for p in _pods()[1:]]
    assert all("executable file not found" in v and v.count(";") == 1 for v in errors.values()), errors


def test_exec_that_never_answers_the_upgrade_costs_only_the_dumps(tmp_path: Path) -> None:
    slow = {f"{PODS_PATH}/{pod}/exec": 600.0 for pod in _pods()}
    with KubeAPI(fk.cluster("deadlock"), slow=slow, exec_results=_jcmd_answers()) as api:
        report, bundle = _run(api, tmp_path, "--exec-thread-dumps", timeout="3")
    assert report["sources"]["kubernetes"]["status"] == "ok", report["sources"]["kubernetes"]
    errors = json.loads((bundle / "exec-thread-dumps" / "errors.json").read_text())
    assert any("no answer before the --timeout budget was spent" in v for v in errors.values()), errors
