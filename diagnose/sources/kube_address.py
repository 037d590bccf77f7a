"""An upstream the logs name only by address (`10.0.3.17:8080`), looked up in the Kubernetes API.

Before the sources gather, so that every source queries the real name (engine/address.py): the pods whose
`status.podIP` is the address, the EndpointSlices that hold it (their `kubernetes.io/service-name` label
names the Service), a Service whose ClusterIP it is, and the pod's owner (ReplicaSet -> Deployment).
Read-only List calls within the --timeout budget; a cluster-wide List refused (403) is asked again in the
namespace the incident names. The answers are kept as this source's files, so that a bundle says how the
name was found (parsers/kube_address.py reads them).

The address reaches a URL only after it parsed as an IP address, and then only in its canonical form, as a
`status.podIP=` field selector: "Supported field selectors vary by Kubernetes resource type ... Pod:
status.podIP" (https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/).
Services have no field selector on spec.clusterIP, and EndpointSlices none on their addresses: both are
listed and matched here.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from typing import Any, Callable

from ..errors import SourceError
from ..model.address import canonical_ip, cluster_ips, controller_of
from ..model.incident import iso
from ..model.names import is_dns_label, is_dns_subdomain
from .base import RawFiles, SourceOptions, Target
from .bounded import Watchdog
from .kubernetes import ApiPath, Getter, _api_client, _live_getter, _Plan, namespace_for
from .private_tmp import private_dir

# The folder of a bundle that keeps the answers (not a registered source: it runs before the sources).
NAME = "upstream-address"
RESOLUTION = "resolution.json"
# host:port, [v6]:port, or a bare address; an optional scheme and path (nginx writes http://10.0.3.17:8080/x)
_HOST_PORT = re.compile(r"(?:[a-z][a-z0-9+.-]{0,15}://)?(?:\[(?P<v6>[0-9A-Fa-f:.]{2,45})\]|(?P<host>[^/:\[\]]{1,45}))"
                        r"(?::(?P<port>\d{1,5}))?(?:/.*)?")


def address_of(upstream: str) -> tuple[str, int | None] | None:
    """("10.0.3.17", 8080) for "10.0.3.17:8080": the canonical IP and the port, when the upstream is an IP
    address (v4 or v6, bracketed with a port, or bare); None for a name."""
    text = upstream.strip()
    bare = canonical_ip(text)          # a bare v6 address has colons of its own
    if bare:
        return bare, None
    m = _HOST_PORT.fullmatch(text)
    ip = canonical_ip(m["v6"] or m["host"]) if m else None
    port = int(m["port"]) if m and m["port"] else None
    if ip is None or (port is not None and not 0 < port < 65536):
        return None
    return ip, port


def _list(plan: _Plan, kind: str, template: str, namespace: str, notes: list[str],
          query: dict[str, str] | None = None) -> dict[str, Any] | None:
    """One List cluster-wide (`template` without its namespace), or in `namespace` when that is refused."""
    doc = plan.fetch(kind, ApiPath(template.replace("namespaces/{namespace}/", "")), query)
    last = plan.calls[-1] if plan.calls else {}
    if doc is not None or last.get("status") != 403:
        return doc
    plan.errors.pop(kind, None)
    notes.append(f"{kind}: the cluster-wide list was forbidden; read in namespace {namespace}")
    return plan.fetch(kind, ApiPath(template, namespace=namespace), query)


def gather(get: Getter, upstream: str, namespace: str, deadline: float, now: datetime,
           clock: Callable[[], float] = time.monotonic) -> RawFiles:
    """Every call made to name the address `upstream`, in order; at most five, whatever the cluster holds."""
    found = address_of(upstream)
    if found is None:
        raise SourceError(f"{upstream[:80]!r} is not an IP address: nothing was queried")
    if not is_dns_label(namespace):
        raise SourceError(f"namespace {namespace[:80]!r} is not a namespace name: nothing was queried")
    ip, port = found
    plan = _Plan(get, deadline, clock)
    notes: list[str] = []
    pods = _list(plan, "pods", "/api/v1/namespaces/{namespace}/pods", namespace, notes,
                 {"fieldSelector": f"status.podIP={ip}"})
    # hostNetwork pods share their node's address: a pod of its own is the one the address names.
    items = sorted((pods or {}).get("items") or (), key=lambda p: bool((p.get("spec") or {}).get("hostNetwork")))
    pod = items[0] if items else None
    pod_ns = str((pod or {}).get("metadata", {}).get("namespace") or "")
    if pod is not None and is_dns_label(pod_ns):
        plan.fetch("endpointslices", ApiPath("/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                                             namespace=pod_ns))
        owner = controller_of(pod)
        if owner and owner[0] == "ReplicaSet" and is_dns_subdomain(owner[1]):
            plan.fetch("replicasets", ApiPath("/apis/apps/v1/namespaces/{namespace}/replicasets", namespace=pod_ns),
                       {"fieldSelector": f"metadata.name={owner[1]}"})
    else:
        # No pod has it: a ClusterIP, or an endpoint left behind (or outside the cluster) in a slice.
        services = _list(plan, "services", "/api/v1/namespaces/{namespace}/services", namespace, notes)
        if not any(ip in cluster_ips(s) for s in (services or {}).get("items") or ()):
            _list(plan, "endpointslices", "/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                  namespace, notes)
    if plan.answered == 0:
        raise SourceError(f"no answer from the API server ({next(iter(plan.errors.values()), '?')})")
    plan.files[RESOLUTION] = (json.dumps({
        "address": upstream, "ip": ip, "port": port, "namespace": namespace, "resolved_at": iso(now),
        "calls": plan.calls, "errors": plan.errors, "notes": notes}, indent=1) + "\n").encode()
    return plan.files


def collect(opts: SourceOptions, target: Target, deadline: float) -> RawFiles:
    """The live lookup, through the kubeconfig the kubernetes source uses."""
    with private_dir("diagnose-kube-") as temp_dir:
        api, ctx_ns = _api_client(opts, temp_dir)
        dog = Watchdog(deadline)
        try:
            return gather(_live_getter(api, dog, opts.max_response_bytes), target.upstream,
                          namespace_for(opts, target, ctx_ns), deadline, datetime.now(timezone.utc))
        finally:
            dog.close()
            api.close()


# ---- which Service an ingress-nginx upstream name is -----------------------------------------------------

READINGS = "readings.json"


def gather_services(get: Getter, readings: list[tuple[str, str]], deadline: float, now: datetime,
                    clock: Callable[[], float] = time.monotonic) -> RawFiles:
    """One Service lookup per reading (namespace, service) of a `<namespace>-<service>-<port>` name, in
    order, until one exists: `services/<namespace>.json` each, and what was asked in readings.json."""
    plan = _Plan(get, deadline, clock)
    asked = []
    for ns, svc in readings:
        if not (is_dns_label(ns) and is_dns_label(svc)):
            continue
        doc = plan.fetch(f"services/{ns}", ApiPath("/api/v1/namespaces/{namespace}/services", namespace=ns),
                         {"fieldSelector": f"metadata.name={svc}"})
        asked.append([ns, svc])
        if doc is not None and doc.get("items"):
            break
    if plan.answered == 0:
        raise SourceError(f"no answer from the API server ({next(iter(plan.errors.values()), '?')})")
    plan.files[READINGS] = (json.dumps({"readings": asked, "resolved_at": iso(now), "calls": plan.calls,
                                        "errors": plan.errors}, indent=1) + "\n").encode()
    return plan.files


def collect_services(opts: SourceOptions, readings: list[tuple[str, str]], deadline: float) -> RawFiles:
    """gather_services through the kubeconfig the kubernetes source uses."""
    with private_dir("diagnose-kube-") as temp_dir:
        api, _ = _api_client(opts, temp_dir)
        dog = Watchdog(deadline)
        try:
            return gather_services(_live_getter(api, dog, opts.max_response_bytes), readings, deadline,
                                   datetime.now(timezone.utc))
        finally:
            dog.close()
            api.close()

