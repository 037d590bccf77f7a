"""What a network fix needs to name: a caller pod to measure from, the upstream's Service port, and the
caller's labels for a placement rule.

A Service's ClusterIP is a kube-proxy rule, not a host: it does not answer ping, and traceroute to it
shows nothing useful (most images lack both tools anyway). What measures the path is an HTTP request from
the caller's pod to the Service, timed by curl -- run in the caller's container, or in an ephemeral
`kubectl debug` container with network tools that shares the pod's network namespace -- and the nodes'
own TCP counters.
"""

from __future__ import annotations

from ..model.finding import Fact
from ..model.kube import NAME_LABELS, KubeEvidence, Pod

# Sidecars injected by a mesh: not the caller's own process.
_SIDECARS = ("istio-proxy", "linkerd-proxy", "istio-init", "linkerd-init")

NETWORK_FACTS = ("caller_pod", "caller_container", "caller_namespace", "caller_node", "upstream_port",
                 "caller_label_key", "caller_label_value", "affinity_note")


def workload_facts(kube: KubeEvidence) -> dict[str, Fact]:
    """The upstream's Deployment (`deployment`) and workload (`workload`, as kubectl names it) when the cluster
    showed them; absent otherwise, so a command naming them is left out rather than aimed at a guess."""
    out: dict[str, Fact] = {}
    if (name := kube.deployment_name) is not None:
        out["deployment"] = name
    if (ref := kube.workload_ref) is not None:
        out["workload"] = ref
    return out


def caller_facts(kube: KubeEvidence | None) -> dict[str, Fact]:
    """Where a command can run as the caller: one of its running pods, its container and its namespace."""
    pod = _caller_pod(kube) if kube is not None else None
    if kube is None or pod is None:
        return {}
    out: dict[str, Fact] = {"caller_pod": pod.name, "caller_namespace": pod.namespace or kube.caller_namespace or
                            kube.namespace}
    app = next((c.name for c in pod.containers if c.name not in _SIDECARS), "")
    if app:
        out["caller_container"] = app
    return out


def _caller_pod(kube: KubeEvidence) -> Pod | None:
    return _running(kube.caller_pods)


def _running(pods: tuple[Pod, ...]) -> Pod | None:
    running = [p for p in pods if p.phase == "Running"]
    return next((p for p in running if p.ready), None) or (running[0] if running else None)


def upstream_facts(kube: KubeEvidence | None) -> dict[str, Fact]:
    """Where a command can run in the upstream: one of its running pods, its JVM container when one looks
    like a JVM (image, java command, JAVA_* env), and the Service's first port."""
    if kube is None:
        return {}
    out: dict[str, Fact] = {}
    pod = _running(kube.pods)
    if pod is not None:
        out["upstream_pod"] = pod.name
        jvm = next((c.name for c in pod.containers if c.jvm), "")
        if jvm:
            out["upstream_jvm_container"] = jvm
    if kube.service is not None and kube.service.ports:
        out["upstream_port"] = kube.service.ports[0]
    return out


def network_facts(kube: KubeEvidence | None) -> dict[str, Fact]:
    if kube is None:
        return {}
    out: dict[str, Fact] = caller_facts(kube)
    pod = _caller_pod(kube)
    if pod is not None:
        if pod.node:
            out["caller_node"] = pod.node
        key = next((k for k in NAME_LABELS if pod.labels.get(k)), None)
        dep = kube.deployment
        if key is not None and dep is not None:
            if dep.pod_affinity:
                # a merge patch replaces the podAffinity list: the rules already there would be lost
                out["affinity_note"] = (f"deployment/{dep.name} already sets podAffinity: add a preferred term "
                                        f"for {key}={pod.labels[key]} in topology.kubernetes.io/zone to it by hand")
            else:
                out.update(caller_label_key=key, caller_label_value=pod.labels[key])
    if kube.service is not None and kube.service.ports:
        out["upstream_port"] = kube.service.ports[0]
    return out
