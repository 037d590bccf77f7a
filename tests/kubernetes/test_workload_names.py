"""Fix commands name the workloads the cluster has, found through the Service the caller calls, never a name
guessed from the logs.

The cast is not the fixtures': the caller `web` (namespace `storefront`) calls the Service `auth` in
`identity-prod`, whose selector `k8s-app=auth` routes to pods of the Deployment `auth-server-v2` (through its
ReplicaSet, as the Deployment controller names and labels them). A Deployment called `auth` also exists, an
old one selecting other pods: a guess by name would aim every command at it. A second cluster serves `auth`
from a StatefulSet, which has no Deployment at all. Documents are shaped as the API server returns them
(ownerReferences with controller: true, a ReplicaSet named <deployment>-<pod-template-hash> and labelled with
the template's labels plus pod-template-hash:
https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#pod-template-hash-label).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from diagnose.checks.netpath import workload_facts
from diagnose.engine.commands import fill_command
from diagnose.engine.runbook import for_signal
from diagnose.model.kube import KubeEvidence
from diagnose.model.target import Target
from diagnose.parsers.kubernetes import load
from diagnose.sources.kubernetes import gather
from fixtures.build.kubernetes import answer
from tests.engine.kubectl_apply import Objects, apply
from tests.engine.test_fix_commands_apply import check_fixes
from tests.kubernetes.kube_helpers import INCIDENT, WINDOW
from tests.servers.kube_api import KubeAPI

ROOT = Path(__file__).resolve().parents[2]
NS, CALLER_NS = "identity-prod", "storefront"
ONSET = datetime(2026, 3, 9, 14, 2, 0, tzinfo=timezone.utc)
HASH, CALLER_HASH = "5c9d8f7b6", "7f4b9c8d2"
Doc = dict[str, Any]


def _t(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(name: str, ns: str | None, labels: dict[str, str] | None = None,
          owner: tuple[str, str, str] | None = None) -> Doc:
    m: Doc = {"name": name, "uid": f"uid-{ns}-{name}", "resourceVersion": "1001",
              "creationTimestamp": _t(ONSET - timedelta(days=3))}
    if ns:
        m["namespace"] = ns
    if labels:
        m["labels"] = labels
    if owner:
        kind, api, oname = owner
        m["ownerReferences"] = [{"apiVersion": api, "kind": kind, "name": oname, "uid": f"uid-{ns}-{oname}",
                                 "controller": True, "blockOwnerDeletion": True}]
    return m


def _container(name: str, image: str) -> Doc:
    return {"name": name, "image": image, "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}


def _pod(name: str, ns: str, labels: dict[str, str], owner: tuple[str, str, str], node: str, ctr: Doc) -> Doc:
    started = _t(ONSET - timedelta(days=2))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, ns, labels, owner),
            "spec": {"containers": [ctr, {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.1"}],
                     "nodeName": node},
            "status": {"phase": "Running", "startTime": started,
                       "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": started}],
                       "containerStatuses": [{"name": c, "ready": True, "restartCount": 0, "image": "x",
                                              "state": {"running": {"startedAt": started}}}
                                             for c in (ctr["name"], "istio-proxy")]}}


def _node(name: str, zone: str) -> Doc:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": _meta(name, None, {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone,
                                           "topology.kubernetes.io/region": "europe-west4"}),
            "status": {"conditions": [{"type": "Ready", "status": "True",
                                       "lastTransitionTime": _t(ONSET - timedelta(days=9))}]}}


def _deployment(name: str, ns: str, selector: dict[str, str], replicas: int, ctr: Doc) -> Doc:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": dict(_meta(name, ns, selector), annotations={"deployment.kubernetes.io/revision": "4"}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": selector},
                     "template": {"metadata": {"labels": selector}, "spec": {"containers": [ctr]}}},
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                       "updatedReplicas": replicas}}


def _list(kind: str, api: str, items: list[Doc]) -> Doc:
    return {"kind": kind, "apiVersion": api, "metadata": {"resourceVersion": "1002"}, "items": items}


def cluster(statefulset: bool = False) -> dict[str, Doc]:
    """The API paths of a cluster where Service `auth` routes to `auth-server-v2`'s pods (or, with
    `statefulset`, to the pods of StatefulSet `auth-store`), and its caller `web` runs in another namespace
    and another zone."""
    ctr = _container("auth", "ghcr.io/example/auth:2.4.1")
    selector = {"k8s-app": "auth", "track": "v2"}
    if statefulset:
        owner = ("StatefulSet", "apps/v1", "auth-store")
        pods = [_pod(f"auth-store-{i}", NS, {"k8s-app": "auth", "apps.kubernetes.io/pod-index": str(i)}, owner,
                     f"node-b{i}", ctr) for i in range(2)]
        rss: list[Doc] = []
    else:
        rs = f"auth-server-v2-{HASH}"
        labels = selector | {"pod-template-hash": HASH}
        pods = [_pod(f"{rs}-{s}", NS, labels, ("ReplicaSet", "apps/v1", rs), f"node-b{i}", ctr)
                for i, s in enumerate(("x7k2p", "q9m4z"))]
        rss = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": dict(_meta(rs, NS, labels, ("Deployment", "apps/v1", "auth-server-v2")),
                                 annotations={"deployment.kubernetes.io/revision": "4"}),
                "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels}, "spec": {"containers": [ctr]}}},
                "status": {"replicas": 2, "readyReplicas": 2}}]
    # A Deployment named like the Service, selecting other (legacy) pods: what a guess by name would find.
    decoy = _deployment("auth", NS, {"k8s-app": "auth-legacy"}, 0, ctr)
    deployments = [decoy] + ([] if statefulset else [_deployment("auth-server-v2", NS, selector, 2, ctr)])
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": _meta("auth", NS, {"k8s-app": "auth"}),
           "spec": {"selector": {"k8s-app": "auth"}, "type": "ClusterIP", "clusterIP": "10.96.12.40",
                    "ports": [{"name": "http", "port": 8443, "targetPort": "http", "protocol": "TCP"}]}}
    eps = {"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta("auth", NS),
           "subsets": [{"addresses": [{"ip": f"10.4.1.{i}"} for i in range(len(pods))],
                        "ports": [{"name": "http", "port": 8080}]}]}
    web_labels = {"k8s-app": "web", "pod-template-hash": CALLER_HASH}
    web_ctr = _container("web", "ghcr.io/example/web:7.0.3")
    web = _pod(f"web-{CALLER_HASH}-r2d5n", CALLER_NS, web_labels, ("ReplicaSet", "apps/v1", f"web-{CALLER_HASH}"),
               "node-a0", web_ctr)
    docs = {
        f"/api/v1/namespaces/{NS}/services": _list("ServiceList", "v1", [svc]),
        f"/api/v1/namespaces/{NS}/endpoints": _list("EndpointsList", "v1", [eps]),
        f"/apis/apps/v1/namespaces/{NS}/deployments": _list("DeploymentList", "apps/v1", deployments),
        f"/apis/apps/v1/namespaces/{NS}/replicasets": _list("ReplicaSetList", "apps/v1", rss),
        f"/api/v1/namespaces/{NS}/pods": _list("PodList", "v1", pods),
        f"/api/v1/namespaces/{NS}/events": _list("EventList", "v1", []),
        f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers": _list(
            "HorizontalPodAutoscalerList", "autoscaling/v2", []),
        f"/apis/apps/v1/namespaces/{CALLER_NS}/deployments": _list("DeploymentList", "apps/v1", [
            _deployment("web", CALLER_NS, {"k8s-app": "web"}, 1, web_ctr)]),
        f"/api/v1/namespaces/{CALLER_NS}/pods": _list("PodList", "v1", [web]),
        "/api/v1/nodes": _list("NodeList", "v1", [_node("node-a0", "europe-west4-a"),
                                                  _node("node-b0", "europe-west4-b"),
                                                  _node("node-b1", "europe-west4-b")]),
    }
    if statefulset:
        docs[f"/apis/apps/v1/namespaces/{NS}/statefulsets"] = _list("StatefulSetList", "apps/v1", [{
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta("auth-store", NS, {"k8s-app": "auth"}),
            "spec": {"replicas": 2, "serviceName": "auth", "selector": {"matchLabels": {"k8s-app": "auth"}},
                     "template": {"metadata": {"labels": {"k8s-app": "auth"}}, "spec": {"containers": [ctr]}}},
            "status": {"replicas": 2, "readyReplicas": 2}}])
    else:
        docs[f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers"] = _list(
            "HorizontalPodAutoscalerList", "autoscaling/v2", [{
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _meta("auth-hpa", NS),
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "auth-server-v2"},
                         "minReplicas": 2, "maxReplicas": 2},
                "status": {"currentReplicas": 2, "desiredReplicas": 2}}])
    return docs


def _log(path: Path, message: str) -> Path:
    lines = [json.dumps({"timestamp": _t(ONSET + timedelta(seconds=15 * i)), "level": "ERROR", "message": message,
                         "service": "web", "upstream_service": "auth", "namespace": CALLER_NS,
                         "duration_ms": 5000, "timeout_ms": 5000}) for i in range(30)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(api: KubeAPI, tmp_path: Path, message: str = "request failed: upstream response timeout") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PROMETHEUS", "KUBE"))}
    env["HOME"] = str(tmp_path)
    cmd = [sys.executable, "-m", "diagnose", "run", "--log", str(_log(tmp_path / "app.log", message)),
           "--kubeconfig", str(api.kubeconfig(tmp_path)), "--namespace", NS, "--timeout", "30", "--format", "json"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _objects(docs: dict[str, Doc]) -> Objects:
    return {(item["kind"], item["metadata"].get("namespace", ""), item["metadata"]["name"]): item
            for doc in docs.values() for item in doc.get("items") or ()}


def _commands(report: dict) -> list[str]:
    return [c for cause in report["causes"] for fix in cause["fixes"] for c in fix["commands"]]


def _files(docs: dict[str, Doc]) -> dict[str, bytes]:
    def get(path: str, query: Any, timeout: float) -> tuple[int, bytes]:
        status, doc = answer(docs, path, dict(query))
        return status, json.dumps(doc).encode()

    return gather(get, NS, "auth", "web", deadline=float("inf"), clock=lambda: 0.0, caller_namespace=CALLER_NS)


def _evidence(docs: dict[str, Doc]) -> KubeEvidence:
    incident = replace(INCIDENT, service="web", upstream="auth", namespace=CALLER_NS)
    return load(_files(docs), Target(incident=incident, window=WINDOW, namespace=NS))


def test_the_upstreams_deployment_is_the_one_that_owns_the_pods_its_service_selects() -> None:
    kube = _evidence(cluster())
    assert kube.workload == "Deployment/auth-server-v2"
    assert kube.deployment is not None and kube.deployment.name == "auth-server-v2"
    assert {p.name for p in kube.pods} == {f"auth-server-v2-{HASH}-x7k2p", f"auth-server-v2-{HASH}-q9m4z"}
    assert kube.hpa is not None and kube.hpa.name == "auth-hpa"
    assert [p.name for p in kube.caller_pods] == [f"web-{CALLER_HASH}-r2d5n"]
    # the upstream's pods came through its Service; the caller has none, so its Deployment's name is a guess
    assert [n for n in kube.notes if "guess" in n] == [
        "caller-pods: no Service web with a selector was read; found by the selector of the Deployment named web, "
        "a guess from the name"]


def test_the_source_selects_pods_by_the_services_selector_and_the_callers_in_its_own_namespace() -> None:
    files = _files(cluster())
    calls = json.loads(files["collection.json"])["calls"]
    pods = [(c["path"], c["query"]) for c in calls if c["path"].endswith("/pods") and "metrics" not in c["path"]]
    assert pods == [(f"/api/v1/namespaces/{NS}/pods", {"labelSelector": "k8s-app=auth"}),
                    (f"/api/v1/namespaces/{CALLER_NS}/pods", {"labelSelector": "k8s-app=web"})]
    rs = next(c for c in calls if c["path"].endswith("/replicasets"))
    assert rs["query"] == {"labelSelector": "k8s-app=auth"}


def test_a_statefulset_upstream_claims_no_deployment() -> None:
    kube = _evidence(cluster(statefulset=True))
    assert kube.workload == "StatefulSet/auth-store"
    assert kube.deployment is None and kube.deployment_name is None
    assert kube.workload_ref == "statefulset/auth-store"


def test_with_no_service_the_deployment_named_like_the_upstream_is_a_guess_said_in_a_note() -> None:
    docs = cluster()
    docs[f"/api/v1/namespaces/{NS}/services"] = _list("ServiceList", "v1", [])
    kube = _evidence(docs)
    # the decoy selects no pod; its pods' owners unknown, it is chosen by name and said to be a guess
    assert kube.workload == "Deployment/auth"
    assert any("named like auth, a guess" in n for n in kube.notes), kube.notes


def test_commands_name_the_owning_deployment_the_callers_pod_and_its_namespace(tmp_path: Path) -> None:
    with KubeAPI(cluster()) as api:
        report = _run(api, tmp_path)
    # each command applies to an object of this cluster (kubectl-like applier: objects, containers, patches)
    assert check_fixes(report, _objects(cluster())) >= 3
    commands = _commands(report)
    blob = "\n".join(commands)
    # the cross-zone placement fix patches the Deployment that owns the pods, with the caller's own label key
    assert any(c.startswith("kubectl patch deployment/auth-server-v2 -n identity-prod --type merge") and
               '"k8s-app":"web"' in c for c in commands), blob
    # a request timed from the caller's pod, in the caller's namespace, to the Service by <name>.<namespace>.svc
    assert any(c.startswith(f"kubectl exec -n storefront web-{CALLER_HASH}-r2d5n -c web -- curl ") and
               c.endswith("http://auth.identity-prod.svc:8443/") for c in commands), blob
    # an HPA owns the replica count: a patch of it, never a scale
    assert "kubectl patch hpa/auth-hpa -n identity-prod" in blob
    assert "kubectl scale" not in blob
    words = blob.split()
    for guess in ("deployment/auth", "deploy/auth", "deploy/web", "deployment/web"):
        assert guess not in words, (guess, blob)
    assert "svc.cluster.local" not in blob and "-n identity-prod web-" not in blob, blob


def test_an_unavailable_upstream_is_resolved_from_the_callers_pod(tmp_path: Path) -> None:
    with KubeAPI(cluster()) as api:
        report = _run(api, tmp_path, "upstream connect error or disconnect/reset before headers. reset reason: "
                                     "connection failure, transport failure reason: delayed connect error: 111")
    check_fixes(report, _objects(cluster()))
    commands = _commands(report)
    assert f"kubectl exec -n storefront web-{CALLER_HASH}-r2d5n -c web -- nslookup auth.identity-prod.svc" \
        in commands, commands
    assert "kubectl rollout status deployment/auth-server-v2 -n identity-prod" in commands, commands
    assert "kubectl get pods -n identity-prod -l k8s-app=auth" in commands, commands


def test_a_statefulset_upstream_gets_no_deployment_command(tmp_path: Path) -> None:
    with KubeAPI(cluster(statefulset=True)) as api:
        report = _run(api, tmp_path)
    check_fixes(report, _objects(cluster(statefulset=True)))
    blob = "\n".join(_commands(report))
    assert "deployment/" not in blob and "deploy/" not in blob, blob
    assert f"kubectl exec -n storefront web-{CALLER_HASH}-r2d5n -c web -- curl " in blob, blob


def test_the_resources_fix_names_a_statefulset_as_kubectl_takes_it() -> None:
    kube = _evidence(cluster(statefulset=True))
    template = next(c for s in for_signal("upstream-timeout").steps for f in s.fixes for c in f.commands
                    if c.startswith("kubectl set resources {workload}"))
    facts = {"namespace": NS, "cpu_limit_suggested": "2", "memory_limit_suggested": "2Gi", **workload_facts(kube)}
    assert "deployment" not in facts
    command = fill_command(template, facts)
    assert command == "kubectl set resources statefulset/auth-store -n identity-prod --limits=cpu=2,memory=2Gi"
    objects = _objects(cluster(statefulset=True))
    after = apply(command, objects)[("StatefulSet", NS, "auth-store")]
    assert after["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}


def test_the_callers_pods_come_through_a_service_named_like_it_whatever_its_deployment_is_called() -> None:
    docs = cluster()
    web_ctr = _container("web", "ghcr.io/example/web:7.0.3")
    docs[f"/apis/apps/v1/namespaces/{CALLER_NS}/deployments"] = _list("DeploymentList", "apps/v1", [
        _deployment("storefront-web", CALLER_NS, {"k8s-app": "web"}, 1, web_ctr)])
    docs[f"/api/v1/namespaces/{CALLER_NS}/services"] = _list("ServiceList", "v1", [{
        "apiVersion": "v1", "kind": "Service", "metadata": _meta("web", CALLER_NS),
        "spec": {"selector": {"k8s-app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}}])
    kube = _evidence(docs)
    assert [p.name for p in kube.caller_pods] == [f"web-{CALLER_HASH}-r2d5n"]
    assert not [n for n in kube.notes if "guess" in n], kube.notes


def test_a_statefulsets_jvm_gets_its_heap_fix_on_the_statefulset_from_its_pods_containers() -> None:
    from diagnose.checks.heap import heap_facts
    from diagnose.engine.commands import fill_command
    from diagnose.engine.runbook import for_signal

    kube = _evidence(cluster(statefulset=True))
    # No Deployment template to read: the StatefulSet's running pod declares the container (limit 1Gi).
    facts = {**heap_facts(kube, heap_max_bytes=900 * 2**20, limit_bytes=None), "workload": kube.workload_ref,
             "namespace": NS}
    assert (facts["container"], facts["heap_limit"], facts["heap_limit_suggested"]) == ("auth", "1Gi", "2Gi")
    gc = next(s for s in for_signal("upstream-timeout").steps if s.cause == "gc-pause")
    commands = [fill_command(c, facts) for f in gc.fixes for c in f.commands if not f.fallback]
    assert f"kubectl set resources statefulset/auth-store -n {NS} -c auth --limits=memory=2Gi" in commands
    assert f"kubectl set env statefulset/auth-store -n {NS} -c auth 'JAVA_TOOL_OPTIONS=-Xmx1350m -XX:+UseG1GC " \
           "-XX:MaxGCPauseMillis=200'" in commands
