"""The live source against a local API server serving real documents, through the real kubernetes client."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from diagnose.checks.kubernetes import pod_resources
from diagnose.errors import SourceError
from diagnose.model.check import MARK
from diagnose.sources import kubernetes as source
from diagnose.sources.base import SourceOptions
from fixtures.build import kubernetes as fk
from fixtures.build import scenario as sc
from tests.kubernetes.kube_helpers import evidence, target
from tests.servers.kube_api import TOKEN, KubeAPI

NS = sc.NAMESPACE
HPA_PATH = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers"


def _collect(api: KubeAPI, tmp_path: Path, *, seconds: float = 20.0, namespace: str | None = NS,
             context_namespace: str | None = None) -> dict[str, bytes]:
    opts = SourceOptions(kubeconfig=str(api.kubeconfig(tmp_path, namespace=context_namespace)), timeout=seconds)
    return source.collect(opts, target(namespace), time.monotonic() + seconds)


def _with_more_pods(docs: dict, extra: int) -> dict:
    docs = copy.deepcopy(docs)
    pods = docs[f"/api/v1/namespaces/{NS}/pods"]["items"]
    template = pods[0]
    for i in range(extra):
        p = copy.deepcopy(template)
        p["metadata"]["name"] = f"{sc.REPLICASET}-x{i:03d}"
        pods.append(p)
    return docs


def test_collect_lists_each_kind_once_with_the_workload_selector(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("overload")) as api:
        files = _collect(api, tmp_path)
    pods = [r for r in api.requests if r.path == f"/api/v1/namespaces/{NS}/pods"]
    assert [r.query.get("labelSelector") for r in pods] == ["app=user-auth-service", "app=frontend-api"]
    lists = [r.path for r in api.lists()]
    assert len(lists) == len(set(lists)) + 2          # pods and services are asked twice: upstream and caller
    assert {r.authorization for r in api.requests} == {f"Bearer {TOKEN}"}
    rs = next(r for r in api.requests if r.path.endswith("/replicasets"))
    assert rs.query == {"labelSelector": "app=user-auth-service"}
    svc = next(r for r in api.requests if r.path.endswith("/services"))
    assert svc.query == {"fieldSelector": "metadata.name=user-auth-service"}
    doc = json.loads(files["pods.json"])
    assert doc["kind"] == "PodList" and doc["metadata"]["resourceVersion"]
    kube, ev = evidence(files)
    assert kube.hpa is not None and kube.hpa.at_max
    assert kube.deployment is not None and (kube.deployment.ready, kube.deployment.desired) == (2, 3)
    assert len(kube.usage) == 3 and kube.missing == {}
    summaries = [f.summary for f in pod_resources(ev, getattr(pod_resources, MARK).params)]
    assert any(s.startswith("CPU at 99% of limit on 3/3 pods") for s in summaries)


def test_call_count_does_not_grow_with_the_number_of_pods(tmp_path: Path) -> None:
    counts = []
    for extra in (0, 60):
        with KubeAPI(_with_more_pods(fk.cluster("overload"), extra)) as api:
            files = _collect(api, tmp_path)
        counts.append(len(api.requests))
        assert len(json.loads(files["pods.json"])["items"]) == 3 + extra
    assert counts[0] == counts[1]


def test_forbidden_kind_is_unknown_with_the_verb_and_resource_named(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("overload"), statuses={HPA_PATH: fk.forbidden("horizontalpodautoscalers",
                                                                          "autoscaling")}) as api:
        files = _collect(api, tmp_path)
    assert json.loads(files["hpas.json"])["code"] == 403
    kube, ev = evidence(files)
    assert kube.hpa is None
    assert kube.missing == {
        "hpas": "forbidden: cannot list horizontalpodautoscalers.autoscaling in namespace production"}
    assert kube.forbidden == kube.missing
    summaries = [f.summary for f in pod_resources(ev, getattr(pod_resources, MARK).params)]
    assert summaries and not any("HPA" in s for s in summaries)


def test_mesh_groups_not_installed_are_reported_not_served(tmp_path: Path) -> None:
    docs = fk.cluster("healthy")
    for path in [p for p in docs if "istio" in p or "linkerd" in p or "metrics.k8s.io" in p]:
        del docs[path]
    with KubeAPI(docs) as api:
        files = _collect(api, tmp_path)
    assert not any("/namespaces/" in r.path and "istio" in r.path for r in api.requests)
    kube, _ = evidence(files)
    assert set(kube.missing) == {"virtualservices", "destinationrules", "serviceprofiles", "podmetrics"}
    assert all(v.startswith("not served") for v in kube.missing.values())


@pytest.mark.parametrize("version", ["v1", "v1beta1", "v1alpha3"])
def test_istio_objects_are_read_in_the_version_the_cluster_serves(tmp_path: Path, version: str) -> None:
    with KubeAPI(fk.cluster("mesh-timeout", istio_version=version)) as api:
        files = _collect(api, tmp_path)
    assert f"/apis/networking.istio.io/{version}/virtualservices" in {r.path for r in api.requests}
    kube, _ = evidence(files)
    (route,) = kube.routes
    assert (route.timeout_ms, route.attempts, route.per_try_timeout_ms, route.retry_on) == (15000, 2, 5000, "5xx,reset")
    assert route.api_version == f"networking.istio.io/{version}"


def test_a_slow_answer_is_cut_at_the_deadline_and_the_rest_still_counts(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("overload"), slow={"/api/v1/nodes": 30.0}) as api:
        files = _collect(api, tmp_path, seconds=1.5)
    kube, _ = evidence(files)
    assert kube.missing["nodes"].startswith("timed out: /api/v1/nodes did not answer")
    assert kube.hpa is not None and kube.hpa.at_max          # asked before the slow call
    assert all(v.startswith(("timed out", "not collected")) for v in kube.missing.values())


def test_secret_env_values_and_tokens_never_reach_the_files(tmp_path: Path) -> None:
    docs = fk.cluster("overload")
    pod = docs[f"/api/v1/namespaces/{NS}/pods"]["items"][0]
    pod["spec"]["containers"][0]["env"].append({"name": "JWT_SIGNING_KEY", "value": "hunter2-signing-key"})
    pod["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "hunter2-signing-key"}
    with KubeAPI(docs) as api:
        files = _collect(api, tmp_path)
    blob = b"".join(files.values())
    assert b"hunter2" not in blob and TOKEN.encode() not in blob
    env = json.loads(files["pods.json"])["items"][0]["spec"]["containers"][0]["env"]
    assert {"name": "JWT_SIGNING_KEY", "value": "<redacted>"} in env
    assert {"name": "SPRING_PROFILES_ACTIVE", "value": "production"} in env     # ordinary values stay


def test_namespace_falls_back_to_the_contexts_namespace(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("healthy")) as api:
        files = _collect(api, tmp_path, namespace=None, context_namespace="staging")
    assert all("/namespaces/staging/" in r.path for r in api.lists() if "/namespaces/" in r.path)
    assert json.loads(files["collection.json"])["namespace"] == "staging"


def test_unreachable_api_server_is_a_one_line_source_error(tmp_path: Path) -> None:
    with KubeAPI({}) as api:
        cfg = api.kubeconfig(tmp_path)
    with pytest.raises(SourceError) as e:
        source.collect(SourceOptions(kubeconfig=str(cfg)), target(NS), time.monotonic() + 5)
    # The source names itself once, in the report; its own message does not repeat it ("kubernetes: kubernetes:").
    assert "\n" not in str(e.value) and str(e.value).startswith("cannot reach http://127.0.0.1:")


def test_a_missing_kubeconfig_is_a_one_line_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot load"):
        source.collect(SourceOptions(kubeconfig=str(tmp_path / "nope")), target(NS), time.monotonic() + 5)


def test_skipped_without_any_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert source.skip_reason(SourceOptions()) == "no kubeconfig or in-cluster config found"
    assert source.skip_reason(SourceOptions(kubeconfig="/x")) is None
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("{}")
    assert source.skip_reason(SourceOptions()) is None
