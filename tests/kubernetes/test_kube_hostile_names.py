"""Names read from logs and clusters are data: they never become more of a request than the one path
segment or selector value they name, and a Secret is never asked for (issue 9, item 2).

Every test here runs the real client against the local API server, which also serves a SecretList at
the path an injected namespace would reach; the server itself fails any test that requests a `secrets`
path (see KubeAPI.__exit__).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from diagnose.errors import SourceError
from diagnose.sources import kubernetes as source
from diagnose.sources.base import SourceOptions, Target
from fixtures.build import kubernetes as fk
from fixtures.build import scenario as sc
from tests.kubernetes.kube_helpers import INCIDENT, WINDOW, evidence
from tests.servers.kube_api import KubeAPI, secret_list

NS = sc.NAMESPACE
INJECTED_NS = "kube-system/secrets?fieldSelector=type%3Dkubernetes.io/tls&x="


def _cluster_with_secrets() -> dict:
    docs = fk.cluster("overload")
    docs["/api/v1/namespaces/kube-system/secrets"] = secret_list("kube-system")
    docs[f"/api/v1/namespaces/{NS}/secrets"] = secret_list(NS)
    return docs


def _collect(api: KubeAPI, tmp_path: Path, target: Target, *, context_namespace: str | None = None,
             namespace_option: str | None = None) -> dict[str, bytes]:
    opts = SourceOptions(kubeconfig=str(api.kubeconfig(tmp_path, namespace=context_namespace)),
                         namespace=namespace_option, timeout=20)
    return source.collect(opts, target, time.monotonic() + 20)


def _target(namespace: str | None = NS, upstream: str = sc.UPSTREAM, caller: str = sc.CALLER) -> Target:
    return Target(incident=replace(INCIDENT, upstream=upstream, service=caller), window=WINDOW, namespace=namespace)


@pytest.mark.parametrize("where", ["log", "option", "context"])
def test_a_namespace_carrying_a_path_is_not_queried_and_no_secret_is_read(tmp_path: Path, where: str) -> None:
    with KubeAPI(_cluster_with_secrets()) as api:
        with pytest.raises(SourceError) as e:
            if where == "log":
                _collect(api, tmp_path, _target(INJECTED_NS))
            elif where == "option":
                _collect(api, tmp_path, _target(None), namespace_option=INJECTED_NS)
            else:
                _collect(api, tmp_path, _target(None), context_namespace=INJECTED_NS)
    message = str(e.value)
    assert "\n" not in message and message.startswith("namespace ")
    assert "not a namespace name" in message
    assert not [r.path for r in api.requests if "/namespaces/" in r.path]


def test_an_upstream_that_is_not_a_name_is_left_out_of_selectors_and_said_why(tmp_path: Path) -> None:
    hostile = "user-auth-service,app!=x"
    with KubeAPI(_cluster_with_secrets()) as api:
        files = _collect(api, tmp_path, _target(upstream=hostile))
    for r in api.requests:
        for value in r.query.values():
            assert hostile not in value and "!=" not in value, r
    kube, _ = evidence(files, NS)
    for kind in ("pods", "replicasets", "services", "endpoints", "podmetrics"):
        assert kube.missing[kind].startswith("not collected: the upstream 'user-auth-service,app!=x' is not a "
                                             "Kubernetes name"), kube.missing[kind]
    assert "caller-pods" not in kube.missing          # the caller is a name: its pods were read
    assert "deployments" in kube.seen and "nodes" in kube.seen and "hpas" in kube.seen


def test_a_caller_that_is_not_a_name_costs_only_the_callers_pods(tmp_path: Path) -> None:
    with KubeAPI(_cluster_with_secrets()) as api:
        files = _collect(api, tmp_path, _target(caller="frontend api\nx"))
    kube, _ = evidence(files, NS)
    assert kube.missing["caller-pods"].startswith("not collected: the caller 'frontend api\\nx' is not a")
    assert "pods" in kube.seen and len(kube.pods) == 3


def test_a_deployment_selector_with_injected_terms_is_not_used(tmp_path: Path) -> None:
    docs = _cluster_with_secrets()
    for d in docs[f"/apis/apps/v1/namespaces/{NS}/deployments"]["items"]:
        if d["metadata"]["name"] == sc.UPSTREAM:
            d["spec"]["selector"]["matchLabels"] = {"app": "user-auth-service,tier!=x"}
    with KubeAPI(docs) as api:
        _collect(api, tmp_path, _target())
    selectors = [r.query.get("labelSelector", "") for r in api.requests]
    assert not any("tier" in s for s in selectors), selectors
    assert "app=user-auth-service" in selectors        # the naming label instead


def test_path_parameters_are_one_segment_each() -> None:
    path = source.ApiPath("/api/v1/namespaces/{namespace}/pods", namespace="a/b?c=d")
    assert path == "/api/v1/namespaces/a%2Fb%3Fc%3Dd/pods"
    assert (path.template, path.params) == ("/api/v1/namespaces/{namespace}/pods", {"namespace": "a/b?c=d"})
    with pytest.raises(ValueError):
        source.ApiPath("/api/v1/namespaces/{namespace}/secrets", namespace="x")


def test_the_test_server_fails_a_test_that_reads_secrets(tmp_path: Path) -> None:
    import urllib.request

    with pytest.raises(AssertionError, match="secrets"):
        with KubeAPI(_cluster_with_secrets()) as api:
            with urllib.request.urlopen(f"{api.url}/api/v1/namespaces/{NS}/secrets") as r:
                assert json.loads(r.read())["kind"] == "SecretList"


def test_exec_targets_only_pods_and_containers_with_valid_names() -> None:
    from diagnose.sources.kube_exec import jvm_containers

    def pod(name: str, container: str) -> dict:
        return {"metadata": {"name": name}, "status": {"phase": "Running", "containerStatuses": [
            {"name": container, "state": {"running": {}}}]},
                "spec": {"containers": [{"name": container, "image": "eclipse-temurin:17"}]}}

    doc = {"items": [pod("../../etc", "app"), pod("api-1", "app/../x"), pod("api-2", "app")]}
    assert jvm_containers(json.dumps(doc).encode()) == [("api-2", "app")]
