"""Pod health as evidence, end to end: a fixture bundle copied to tmp, its upstream's pods, events or nodes
changed to one health state as the API would show it, analysed by the CLI (`diagnose analyze --format json`).
Each state gives its finding, for the cause it supports (checks/podhealth.py, docs/ranking.md "Pod health").

The fixtures' incident: first timeout 10:30Z, window 10:00Z .. 10:45Z, pods on ip-10-0-1-17, ip-10-0-2-33 and
ip-10-0-3-41."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from engine.test_verdicts_match_evidence import analyze, cause

from tests.bundle_edit import copy_fixture, reseal

POD = "user-auth-service-7d9f8b6c5-9hq7m"           # the second pod, on ip-10-0-2-33.ec2.internal
NODE = "ip-10-0-2-33.ec2.internal"
EVICTION = ("The node was low on resource: memory. Threshold quantity: 100Mi, available: 91204Ki. Container "
            "user-auth-service was using 1843Mi, request is 1Gi, has larger consumption of memory. ")


def edit(root: Path, kind: str, change: Callable[[list[dict[str, Any]]], None]) -> None:
    path = root / "kubernetes" / f"{kind}.json"
    doc = json.loads(path.read_text())
    change(doc["items"])
    path.write_text(json.dumps(doc))
    reseal(root)


def bundle(tmp_path: Path, name: str, *changes: tuple[str, Callable[[list[dict[str, Any]]], None]],
           fixture: str = "healthy") -> Path:
    root = copy_fixture(fixture, tmp_path / name)
    for kind, change in changes:
        edit(root, kind, change)
    return root


def evicted(at: str | None) -> Callable[[list[dict[str, Any]]], None]:
    """The second pod evicted by the kubelet for node memory pressure at `at` (None: an older kubelet that
    records no time)."""
    def change(pods: list[dict[str, Any]]) -> None:
        status = next(p for p in pods if p["metadata"]["name"] == POD)["status"]
        conditions = [{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                       "message": EVICTION, "lastProbeTime": None, "lastTransitionTime": at},
                      {"type": "Ready", "status": "False", "reason": "PodFailed", "lastProbeTime": None,
                       "lastTransitionTime": at}] if at else []
        status.update(phase="Failed", reason="Evicted", message=EVICTION, conditions=conditions)
        status.pop("containerStatuses", None)
    return change


def waiting(reason: str, message: str, *, last: dict[str, Any] | None = None,
            restarts: int = 0) -> Callable[[list[dict[str, Any]]], None]:
    """Every pod's container waiting with `reason` (CrashLoopBackOff, ImagePullBackOff), not ready."""
    def change(pods: list[dict[str, Any]]) -> None:
        for pod in pods:
            status = pod["status"]
            for c in status["conditions"]:
                if c["type"] in ("Ready", "ContainersReady"):
                    c.update(status="False", reason="ContainersNotReady")
            cs = status["containerStatuses"][0]
            cs.update(ready=False, started=False, restartCount=restarts,
                      state={"waiting": {"reason": reason, "message": message}},
                      lastState={"terminated": last} if last else {})
    return change


def oom_looping(finished: str) -> Callable[[list[dict[str, Any]]], None]:
    """The second pod in CrashLoopBackOff, OOMKilled for the fifth time at `finished`."""
    def change(pods: list[dict[str, Any]]) -> None:
        pod = next(p for p in pods if p["metadata"]["name"] == POD)
        waiting("CrashLoopBackOff", f"back-off 2m40s restarting failed container=user-auth-service pod={POD}"
                                    "_production(a78d6623-bb05-5b04-ac43-3cf88278e230)",
                last={"exitCode": 137, "reason": "OOMKilled", "startedAt": "2023-10-20T08:00:00Z",
                      "finishedAt": finished}, restarts=5)([pod])
    return change


def oom_once(finished: str) -> Callable[[list[dict[str, Any]]], None]:
    """The second pod ready and running again after one OOMKill at `finished`."""
    def change(pods: list[dict[str, Any]]) -> None:
        cs = next(p for p in pods if p["metadata"]["name"] == POD)["status"]["containerStatuses"][0]
        cs.update(restartCount=1, lastState={"terminated": {
            "exitCode": 137, "reason": "OOMKilled", "startedAt": "2023-10-20T08:00:00Z", "finishedAt": finished}})
    return change


def event(obj: str, reason: str, message: str, at: str, count: int = 1, kind: str = "Pod") -> dict[str, Any]:
    return {"metadata": {"name": f"{obj}.17a2b3c4d5e6f789", "namespace": "production",
                         "creationTimestamp": at},
            "involvedObject": {"kind": kind, "namespace": "production", "name": obj, "apiVersion": "v1"},
            "reason": reason, "message": message, "source": {"component": "kubelet"}, "firstTimestamp": at,
            "lastTimestamp": at, "count": count, "type": "Warning", "eventTime": None,
            "reportingComponent": "kubelet", "reportingInstance": "", "apiVersion": "v1", "kind": "Event"}


def node_condition(node: str, kind: str, status: str, since: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(nodes: list[dict[str, Any]]) -> None:
        conds = next(n for n in nodes if n["metadata"]["name"] == node)["status"]["conditions"]
        c = next(c for c in conds if c["type"] == kind)
        c.update(status=status, lastTransitionTime=since)
    return change


def findings(report: dict[str, Any], cid: str, direction: str = "for", source: str = "kubernetes") -> list[dict]:
    return [e for e in cause(report, cid)["evidence"] if e["direction"] == direction and e["source"] == source]


def commands(report: dict[str, Any], cid: str) -> list[str]:
    return [cmd for fix in cause(report, cid)["fixes"] for cmd in fix["commands"]]


def test_the_healthy_fixture_says_its_nodes_are_clear_and_its_pods_ready(tmp_path: Path) -> None:
    report = analyze(bundle(tmp_path, "healthy"))
    against = findings(report, "node-pressure", "against")
    assert [e["summary"] for e in against] == [
        "3/3 nodes under user-auth-service's pods Ready, with no memory, disk or PID pressure"]
    assert cause(report, "node-pressure")["verdict"] in ("unlikely", "ruled_out")
    ready = analyze(bundle(tmp_path, "healthy-unavailable"), "--runbook", "upstream-unavailable")
    assert [e["summary"] for e in findings(ready, "upstream-down", "against")] == [
        "3/3 pods of user-auth-service ready, none crash-looping or waiting to start"]


def test_a_pod_evicted_in_the_window_is_node_pressure_with_the_commands_to_look(tmp_path: Path) -> None:
    report = analyze(bundle(tmp_path, "evicted", ("pods", evicted("2023-10-27T10:31:12Z"))))
    (finding,) = findings(report, "node-pressure")
    assert finding["summary"] == (f"1/3 pods of user-auth-service evicted by the kubelet on node {NODE} from "
                                  f"10:31Z ({POD}): the node was low on memory")
    assert "stale" not in finding and finding["onset"] == "2023-10-27T10:31:12Z"
    assert cause(report, "node-pressure")["verdict"] in ("possible", "likely")
    assert f"kubectl describe pod {POD} -n production" in commands(report, "node-pressure")
    assert f"kubectl describe node {NODE}" in commands(report, "node-pressure")
    # its node is clear now: said, but an eviction in the window outweighs it
    assert not findings(report, "node-pressure", "against")


def test_a_pod_evicted_days_before_the_incident_is_stale_history(tmp_path: Path) -> None:
    fresh = findings(analyze(bundle(tmp_path, "fresh", ("pods", evicted("2023-10-27T10:31:12Z")))),
                     "node-pressure")[0]
    old_report = analyze(bundle(tmp_path, "old", ("pods", evicted("2023-10-24T10:31:12Z"))))
    (old,) = findings(old_report, "node-pressure")
    assert old["stale"] == "evicted 3 days before the incident"
    assert "the latest at 2023-10-24 10:31Z" in old["summary"] and "onset" not in old
    assert old["weight"] == fresh["weight"] * 0.5         # the runbook's stale_discount
    # history does not silence what the nodes say now
    assert findings(old_report, "node-pressure", "against")


def test_an_eviction_an_older_kubelet_did_not_date_on_a_pod_days_old_is_history(tmp_path: Path) -> None:
    (finding,) = findings(analyze(bundle(tmp_path, "undated", ("pods", evicted(None)))), "node-pressure")
    assert finding["stale"] == "evicted at a time its status does not say, after it started 2 days before the incident"


def test_memory_pressure_on_a_node_under_the_upstreams_pods_is_node_pressure(tmp_path: Path) -> None:
    report = analyze(bundle(tmp_path, "pressure",
                            ("nodes", node_condition(NODE, "MemoryPressure", "True", "2023-10-27T10:12:00Z"))))
    (finding,) = findings(report, "node-pressure")
    assert finding["summary"] == (f"1/3 nodes under user-auth-service's pods in trouble: {NODE}: "
                                  "MemoryPressure since 10:12Z")
    assert finding["onset"] == "2023-10-27T10:12:00Z"
    assert cause(report, "node-pressure")["verdict"] in ("possible", "likely")
    fixes = cause(report, "node-pressure")["fixes"]
    assert any(f["summary"] == f"Look at node {NODE} (MemoryPressure since 10:12Z) and what runs on it"
               for f in fixes)
    assert f"kubectl cordon {NODE}" in commands(report, "node-pressure")


def test_a_not_ready_node_is_node_pressure(tmp_path: Path) -> None:
    report = analyze(bundle(tmp_path, "not-ready",
                            ("nodes", node_condition(NODE, "Ready", "Unknown", "2023-10-27T10:27:00Z"))))
    (finding,) = findings(report, "node-pressure")
    assert finding["summary"].endswith(f"{NODE}: NotReady since 10:27Z")


def test_pods_pending_for_lack_of_cpu_are_overload(tmp_path: Path) -> None:
    pending = "user-auth-service-7d9f8b6c5-p8f4d"
    said = ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption "
            "victims found for incoming pod..")

    def add_pod(pods: list[dict[str, Any]]) -> None:
        pod = json.loads(json.dumps(pods[0]))
        pod["metadata"].update(name=pending, creationTimestamp="2023-10-27T10:26:00Z")
        pod["spec"].pop("nodeName")
        pod["status"] = {"phase": "Pending", "qosClass": "Burstable", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": said,
             "lastProbeTime": None, "lastTransitionTime": "2023-10-27T10:26:00Z"}]}
        pods.append(pod)

    report = analyze(bundle(tmp_path, "pending", ("pods", add_pod), ("events", lambda events: events.append(
        event(pending, "FailedScheduling", said, "2023-10-27T10:36:00Z", count=9)))))
    (finding,) = [e for e in findings(report, "overload") if "pending" in e["summary"]]
    assert finding["summary"] == (f"1/4 pods of user-auth-service pending, the scheduler cannot place them "
                                  f"({pending}): 0/3 nodes are available: 3 Insufficient cpu: no node has the cpu "
                                  f"they request, so the load stays on fewer pods")


def test_a_pod_pending_on_a_memory_pressure_taint_is_node_pressure(tmp_path: Path) -> None:
    said = ("0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/memory-pressure: }, "
            "2 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: 1 Preemption "
            "is not helpful for scheduling, 2 No preemption victims found for incoming pod..")

    def pending(pods: list[dict[str, Any]]) -> None:
        pod = next(p for p in pods if p["metadata"]["name"] == POD)
        pod["spec"].pop("nodeName")
        pod["status"] = {"phase": "Pending", "qosClass": "Burstable"}

    report = analyze(bundle(tmp_path, "taint", ("pods", pending), ("events", lambda events: events.append(
        event(POD, "FailedScheduling", said, "2023-10-27T10:35:00Z", count=4)))))
    (finding,) = findings(report, "node-pressure")
    assert "nodes tainted memory-pressure, in trouble themselves" in finding["summary"]
    assert any("placement rules (affinity), not capacity" in e["summary"] for e in findings(report, "overload"))


def test_crash_looping_pods_are_upstream_down_when_connections_are_refused(tmp_path: Path) -> None:
    loop = waiting("CrashLoopBackOff", "back-off 5m0s restarting failed container=user-auth-service",
                   last={"exitCode": 1, "reason": "Error", "startedAt": "2023-10-27T10:29:40Z",
                         "finishedAt": "2023-10-27T10:29:52Z"}, restarts=7)
    report = analyze(bundle(tmp_path, "crash", ("pods", loop)), "--runbook", "upstream-unavailable")
    down = [e["summary"] for e in findings(report, "upstream-down")]
    assert any(s.startswith("3/3 pods of user-auth-service crash-looping: user-auth-service-7d9f8b6c5-4xk2p "
                            "(CrashLoopBackOff, restarted 7 times, last Error)") for s in down), down
    assert "0/3 pods of user-auth-service ready" in down
    assert cause(report, "upstream-down")["verdict"] == "likely"
    assert report["causes"][0]["id"] == "upstream-down"
    # exit 1 is the program, not the load: nothing for overload from pod-health
    assert not any("crash-looping" in e["summary"] for e in findings(report, "overload"))


def test_an_image_that_cannot_be_pulled_is_upstream_down(tmp_path: Path) -> None:
    pull = waiting("ImagePullBackOff", 'Back-off pulling image "123456789012.dkr.ecr.us-east-1.amazonaws.com/'
                                       'user-auth-service:2.14.2"')
    report = analyze(bundle(tmp_path, "pull", ("pods", pull)), "--runbook", "upstream-unavailable")
    down = [e["summary"] for e in findings(report, "upstream-down")]
    assert any("3/3 pods of user-auth-service cannot start: user-auth-service-7d9f8b6c5-4xk2p (ImagePullBackOff: "
               "Back-off pulling image" in s for s in down), down


def test_an_oomkill_half_an_hour_before_the_onset_counts_and_one_three_days_old_is_history(tmp_path: Path) -> None:
    recent = analyze(bundle(tmp_path, "recent", ("pods", oom_looping("2023-10-27T10:00:00Z"))))
    old = analyze(bundle(tmp_path, "old", ("pods", oom_once("2023-10-24T10:30:00Z"))))

    said = findings(recent, "overload")
    oom = next(e for e in said if e["summary"].startswith("OOMKilled in the window on 1/3 pods"))
    assert "stale" not in oom
    loop = next(e for e in said if "crash-looping on OOMKills" in e["summary"])
    assert "stale" not in loop and POD in loop["summary"]

    history = findings(old, "overload")
    assert [e["stale"] for e in history if "OOMKilled" in e["summary"]] == ["OOMKilled 3 days before the incident"]
    assert not any("crash-looping" in e["summary"] for e in history)     # ready again: no loop
    assert cause(old, "overload")["confidence"] < cause(recent, "overload")["confidence"]


def test_readiness_probes_that_time_out_are_overload_and_refused_ones_upstream_down(tmp_path: Path) -> None:
    slow = analyze(bundle(tmp_path, "slow", fixture="overload"))
    (probe,) = [e for e in findings(slow, "overload") if "probe" in e["summary"]]
    assert probe["summary"].startswith("Readiness probe timed out 14 times in the window on 1/3 pods "
                                       "(user-auth-service-7d9f8b6c5-tz6wn): the pods answer their probe slower "
                                       "than its timeout")

    def refused(events: list[dict[str, Any]]) -> None:
        events.append(event(POD, "Unhealthy", 'Readiness probe failed: Get "http://10.0.2.41:8080/actuator/health/'
                                              'readiness": dial tcp 10.0.2.41:8080: connect: connection refused',
                            "2023-10-27T10:34:00Z", count=22))

    down = analyze(bundle(tmp_path, "refused", ("events", refused)), "--runbook", "upstream-unavailable")
    assert any(e["summary"].startswith(f"Readiness probe failed 22 times in the window on 1/3 pods ({POD})")
               for e in findings(down, "upstream-down"))
    assert not any("probe" in e["summary"] for e in findings(down, "overload"))
