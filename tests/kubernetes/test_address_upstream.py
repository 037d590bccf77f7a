"""An upstream the logs name only by address is named from the cluster before the sources gather (issue 12).

nginx's error log says where it sent a request, not to whom; these run `diagnose run` against the local API
server (tests/servers/kube_api.py) with such a log, and check that the report names the Service, keeps the
address in a note, and that `analyze` of the bundle written says the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from diagnose.parsers.kube_address import load
from diagnose.sources.kube_address import address_of, gather
from fixtures.build import kubernetes as fk
from fixtures.build import scenario as sc
from tests.servers.kube_api import KubeAPI

ROOT = Path(__file__).resolve().parents[2]
DIAGNOSE = [sys.executable, "-m", "diagnose"]
POD = sc.PODS[0]                   # the overload cluster's first upstream pod: 10.0.1.40
POD_IP, CLUSTER_IP = "10.0.1.40", "172.20.91.14"


def _nginx_log(path: Path, address: str) -> Path:
    # nginx's error log line for a proxied request that timed out (the format of tests/data/logs/nginx-error.log:
    # ngx_http_upstream.c's "upstream timed out ... while reading response header from upstream", then
    # client, server, request, upstream, host); the upstream is where nginx sent it: an address.
    lines = [f"{(sc.ONSET + timedelta(seconds=15 * i)).strftime('%Y/%m/%d %H:%M:%S')} [error] 31#31: *{5021 + i} "
             "upstream timed out (110: Connection timed out) while reading response header from upstream, "
             'client: 10.0.9.4, server: api.example.com, request: "POST /login HTTP/1.1", '
             f'upstream: "http://{address}/login", host: "api.example.com"' for i in range(40)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _diagnose(tmp_path: Path, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PROMETHEUS", "KUBE"))}
    env["HOME"] = str(tmp_path)
    done = subprocess.run(DIAGNOSE + list(args) + ["--format", "json"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _run(api: KubeAPI, tmp_path: Path, address: str, *extra: str) -> dict[str, Any]:
    return _diagnose(tmp_path, "run", "--log", str(_nginx_log(tmp_path / "nginx-error.log", address)),
                     "--kubeconfig", str(api.kubeconfig(tmp_path)), "--timeout", "30", *extra)


def _asked(api: KubeAPI, path: str) -> list[dict[str, str]]:
    return [r.query for r in api.requests if r.path == path]


def test_a_pod_address_becomes_its_service_and_the_bundle_says_the_same(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("overload")) as api:
        report = _run(api, tmp_path, f"{POD_IP}:8080", "--bundle-out", str(tmp_path / "bundle"))
    incident = report["incident"]
    assert (incident["upstream"], incident["namespace"]) == (sc.UPSTREAM, sc.NAMESPACE)
    assert incident["upstream_address"] == f"{POD_IP}:8080"
    assert incident["upstream_note"].startswith(
        f"{POD_IP}:8080 is pod {POD} of deployment/{sc.UPSTREAM} behind service {sc.UPSTREAM} (port http) "
        f"in {sc.NAMESPACE} (resolved at ")
    # The address was asked for by field selector, cluster-wide; the sources then asked for the name.
    assert _asked(api, "/api/v1/pods") == [{"fieldSelector": f"status.podIP={POD_IP}"}]
    assert {"fieldSelector": f"metadata.name={sc.UPSTREAM}"} in _asked(
        api, f"/api/v1/namespaces/{sc.NAMESPACE}/services")
    assert report["causes"][0]["id"] == "overload", [(c["id"], c["confidence"]) for c in report["causes"]]
    assert "10.0.1.40" not in json.dumps(report["causes"])
    kept = json.loads((tmp_path / "bundle" / "upstream-address" / "resolution.json").read_text())
    assert kept["ip"] == POD_IP and not kept["errors"]
    analyzed = _diagnose(tmp_path, "analyze", str(tmp_path / "bundle"))
    assert analyzed["incident"] == incident
    assert [c["id"] for c in analyzed["causes"]] == [c["id"] for c in report["causes"]]


def test_a_cluster_ip_becomes_the_service_it_belongs_to(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("overload")) as api:
        report = _run(api, tmp_path, f"{CLUSTER_IP}:8080")
    incident = report["incident"]
    assert (incident["upstream"], incident["namespace"]) == (sc.UPSTREAM, sc.NAMESPACE)
    assert incident["upstream_note"].startswith(
        f"{CLUSTER_IP}:8080 is the ClusterIP of service {sc.UPSTREAM} (port http) in {sc.NAMESPACE}")
    assert _asked(api, "/api/v1/services") == [{}]


def test_an_address_nothing_holds_stays_the_upstream_and_the_note_says_so(tmp_path: Path) -> None:
    with KubeAPI(fk.cluster("overload")) as api:
        report = _run(api, tmp_path, "10.0.7.99:8080", "--namespace", sc.NAMESPACE)
    incident = report["incident"]
    assert incident["upstream"] == "10.0.7.99:8080"
    assert incident["upstream_note"].startswith(
        "10.0.7.99:8080 matches no pod, EndpointSlice or Service any more (resolved at ")
    # pods, then Services (no ClusterIP), then EndpointSlices: none holds it.
    assert [r.path for r in api.requests][:3] == ["/api/v1/pods", "/api/v1/services",
                                                 "/apis/discovery.k8s.io/v1/endpointslices"]


def test_a_forbidden_cluster_wide_list_is_asked_again_in_the_namespace_given(tmp_path: Path) -> None:
    # The API server's 403 for a cluster-wide list (its message ends "at the cluster scope").
    refused = fk.status_doc(403, 'pods is forbidden: User "system:serviceaccount:ops:diagnose" cannot list '
                                 'resource "pods" in API group "" at the cluster scope', reason="Forbidden",
                            kind="pods")
    with KubeAPI(fk.cluster("overload"), statuses={"/api/v1/pods": refused}) as api:
        report = _run(api, tmp_path, f"{POD_IP}:8080", "--namespace", sc.NAMESPACE)
    assert report["incident"]["upstream"] == sc.UPSTREAM
    assert {"fieldSelector": f"status.podIP={POD_IP}"} in _asked(api, f"/api/v1/namespaces/{sc.NAMESPACE}/pods")


# ---- the lookup itself, over the same documents without a server --------------------------------------------

def _answers(docs: dict[str, Any], address: str) -> dict[str, bytes]:
    def get(path: str, query: Any, timeout: float) -> tuple[int, bytes]:
        status, doc = fk.answer(docs, path, dict(query))
        return status, json.dumps(doc).encode()

    return gather(get, address, sc.NAMESPACE, deadline=float("inf"), now=datetime(2023, 10, 27, tzinfo=timezone.utc),
                  clock=lambda: 0.0)


def test_an_endpoint_left_in_a_slice_names_its_service_without_a_pod() -> None:
    docs = fk.cluster("overload")
    path = f"/apis/discovery.k8s.io/v1/namespaces/{sc.NAMESPACE}/endpointslices"
    docs[path]["items"][0]["endpoints"].append({"addresses": ["10.0.4.4"], "conditions": {"ready": False}})
    named = load(_answers(docs, "10.0.4.4:8080"))
    assert (named.name, named.pod, named.workload, named.namespace) == (sc.UPSTREAM, None, None, sc.NAMESPACE)
    assert named.note().startswith(f"10.0.4.4:8080 is an endpoint of service {sc.UPSTREAM} (port http) in ")


def test_a_statefulset_pod_is_named_by_its_owner_when_no_service_routes_to_it() -> None:
    docs = fk.cluster("overload")
    pods = docs[f"/api/v1/namespaces/{sc.NAMESPACE}/pods"]["items"]
    pods[0]["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "auth-db",
                                               "controller": True, "uid": "0"}]
    docs[f"/apis/discovery.k8s.io/v1/namespaces/{sc.NAMESPACE}/endpointslices"]["items"] = []
    named = load(_answers(docs, f"{POD_IP}:5432"))
    assert (named.name, named.workload, named.service) == ("auth-db", ("statefulset", "auth-db"), None)


def test_a_name_is_never_looked_up_and_an_address_reaches_the_api_only_in_its_canonical_form() -> None:
    asked: list[tuple[str, dict[str, str]]] = []

    def get(path: str, query: Any, timeout: float) -> tuple[int, bytes]:
        asked.append((path, dict(query)))
        return 200, json.dumps({"kind": "List", "items": []}).encode()

    for upstream in ("user-auth-service:8080", "10.0.1.40:99999", "1.2.3.4.5", "10.0.1.40,status.phase=x"):
        with pytest.raises(Exception, match="not an IP address"):
            gather(get, upstream, sc.NAMESPACE, float("inf"), datetime.now(timezone.utc), clock=lambda: 0.0)
    assert asked == []
    # What follows the address in a URL the log wrote is not part of it: only the IP reaches a selector.
    gather(get, "http://10.0.1.40:8080/../../secrets?x=1", sc.NAMESPACE, float("inf"), datetime.now(timezone.utc),
           clock=lambda: 0.0)
    assert asked[0] == ("/api/v1/pods", {"fieldSelector": "status.podIP=10.0.1.40"})
    assert not [p for p, _ in asked if "secrets" in p]


@pytest.mark.parametrize(("upstream", "want"), [
    ("10.0.3.17:8080", ("10.0.3.17", 8080)),
    ("10.0.3.17", ("10.0.3.17", None)),
    ("http://10.0.3.17:8080/api/login", ("10.0.3.17", 8080)),
    ("[fd00:0:0::17]:8080", ("fd00::17", 8080)),
    ("fd00::17", ("fd00::17", None)),
    ("user-auth-service:8080", None),
    ("user-auth-service", None),
    ("10.0.3.17:0", None),
    ("", None),
])
def test_only_an_ip_address_with_or_without_a_port_is_looked_up(upstream: str, want: object) -> None:
    assert address_of(upstream) == want


def test_the_local_api_server_refuses_a_field_selector_pods_do_not_have() -> None:
    # As the API server does (https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/):
    # 400 BadRequest, '"foo.bar" is not a known field selector: only "metadata.name", ...'.
    status, doc = fk.answer(fk.cluster("overload"), "/api/v1/pods", {"fieldSelector": "foo.bar=baz"})
    assert status == 400 and doc["reason"] == "BadRequest"
    assert '"foo.bar" is not a known field selector' in doc["message"]
    status, doc = fk.answer(fk.cluster("overload"), "/api/v1/pods", {"fieldSelector": f"status.podIP={POD_IP}"})
    assert status == 200 and [p["metadata"]["name"] for p in doc["items"]] == [POD]


def test_the_addresses_of_one_services_pods_are_one_incident_and_others_stay_apart(tmp_path: Path) -> None:
    # nginx logs the pod it sent each request to: 40 timeouts to each of two pods of the upstream, and 10 to
    # a pod of another workload (the caller's own, 10.0.1.60). The two are one Service: 80 calls.
    log = tmp_path / "nginx-error.log"
    body = "".join(_nginx_log(tmp_path / f"{ip}.log", f"{ip}:8080").read_text() for ip in ("10.0.1.40", "10.0.2.41"))
    other = _nginx_log(tmp_path / "other.log", "10.0.1.60:8080").read_text().splitlines()[:10]
    log.write_text(body + "\n".join(other) + "\n")
    with KubeAPI(fk.cluster("overload")) as api:
        report = _diagnose(tmp_path, "run", "--log", str(log), "--kubeconfig", str(api.kubeconfig(tmp_path)),
                           "--timeout", "30", "--bundle-out", str(tmp_path / "bundle"))
    incident = report["incident"]
    assert (incident["upstream"], incident["events"]) == (sc.UPSTREAM, 80)
    assert "the calls to 10.0.2.41:8080, of the same service, are counted with it" in incident["upstream_note"]
    # The third address is another workload's: a separate incident, listed under its own name.
    assert [(o["upstream"], o["events"]) for o in report.get("other_incidents", [])] == [("frontend-api", 10)]
    assert _diagnose(tmp_path, "analyze", str(tmp_path / "bundle"))["incident"]["events"] == 80


def test_a_sidecar_log_read_alone_is_its_pods_workloads_calls_not_envoys(tmp_path: Path) -> None:
    # Istio's default access log of an outbound call: after the cluster, %UPSTREAM_LOCAL_ADDRESS%
    # %DOWNSTREAM_LOCAL_ADDRESS% (the Service's ClusterIP) %DOWNSTREAM_REMOTE_ADDRESS% (the app: its pod IP).
    caller_ip = "10.0.1.60"            # frontend-api's first pod in the overload cluster
    log = tmp_path / "envoy.log"
    log.write_text("".join(
        f'[{(sc.ONSET + timedelta(seconds=15 * i)).strftime("%Y-%m-%dT%H:%M:%S")}.000Z] "POST /login HTTP/1.1" 504 UT '
        f'response_timeout - "-" 312 24 10001 - "-" "okhttp/4.9.3" "id-{i}" "{sc.UPSTREAM}:8080" "{POD_IP}:8080" '
        f"outbound|8080||{sc.UPSTREAM}.{sc.NAMESPACE}.svc.cluster.local 10.0.1.60:51234 {CLUSTER_IP}:8080 "
        f"{caller_ip}:{40000 + i} - default\n" for i in range(20)))
    with KubeAPI(fk.cluster("overload")) as api:
        report = _diagnose(tmp_path, "run", "--log", str(log), "--kubeconfig", str(api.kubeconfig(tmp_path)),
                           "--timeout", "30", "--bundle-out", str(tmp_path / "bundle"))
        asked = _asked(api, "/api/v1/pods")
    incident = report["incident"]
    assert (incident["service"], incident["caller_logged"]) == ("frontend-api", "envoy")
    assert incident["caller_note"].startswith(
        f"caller named from the envoy log's downstream address: {caller_ip} is pod frontend-api-")
    assert {"fieldSelector": f"status.podIP={caller_ip}"} in asked
    analyzed = _diagnose(tmp_path, "analyze", str(tmp_path / "bundle"))["incident"]
    assert (analyzed["service"], analyzed["events"]) == ("frontend-api", 20)


def test_an_ingress_upstream_name_with_dashes_in_its_namespace_is_the_service_the_cluster_has(tmp_path: Path) -> None:
    # ingress-nginx's upstreaminfo access line names `<namespace>-<service>-<port>`: `identity-prod-auth-8080`
    # reads as identity/prod-auth at its first dash, or identity-prod/auth; the cluster has the second.
    from tests.kubernetes.test_workload_names import NS, ONSET, cluster

    lines = [f'10.0.9.4 - - [{(ONSET + timedelta(seconds=10 * i)).strftime("%d/%b/%Y:%H:%M:%S")} +0000] '
             f'"POST /login HTTP/1.1" 504 160 "-" "okhttp/4.9.3" 412 10.004 [{NS}-auth-8080] [] 10.0.2.7:8080 0 '
             f'10.001 504 c0ffee{i:026d}' for i in range(6)]
    log = tmp_path / "ingress.log"
    log.write_text("\n".join(lines) + "\n")
    assert [(i.upstream, i.namespace) for i in scan_file(log)] == [("prod-auth", "identity")]
    with KubeAPI(cluster()) as api:
        report = _diagnose(tmp_path, "run", "--log", str(log), "--kubeconfig", str(api.kubeconfig(tmp_path)),
                           "--timeout", "30", "--bundle-out", str(tmp_path / "bundle"))
        asked = [(r.path, r.query) for r in api.requests if r.path.endswith("/services")]
    incident = report["incident"]
    assert (incident["upstream"], incident["namespace"], incident["events"]) == ("auth", NS, 6)
    assert incident["upstream_note"].startswith(f"ingress-nginx's upstream {NS}-auth-8080 is Service auth in {NS}")
    # the first reading was asked and found missing, then the second; the sources then read the real names
    assert asked[:2] == [("/api/v1/namespaces/identity/services", {"fieldSelector": "metadata.name=prod-auth"}),
                         (f"/api/v1/namespaces/{NS}/services", {"fieldSelector": "metadata.name=auth"})]
    assert (tmp_path / "bundle" / "upstream-address" / "ingress" / "readings.json").is_file()
    assert _diagnose(tmp_path, "analyze", str(tmp_path / "bundle"))["incident"]["upstream"] == "auth"


def scan_file(path: Path) -> list[Any]:
    from diagnose.logs.scan import scan

    return scan([str(path)]).incidents
