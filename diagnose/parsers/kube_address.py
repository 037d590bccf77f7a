"""The answers sources/kube_address.py kept, read back as what the address was (model/address.py): the
same reading live and from a bundle."""

from __future__ import annotations

import json
from typing import Any

from ..errors import EvidenceError
from ..model.address import AddressName, canonical_ip, cluster_ips, controller_of
from ..model.names import is_dns_label, is_dns_subdomain
from ..model.target import RawFiles
from ..model.text import single_line

RESOLUTION = "resolution.json"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"   # the EndpointSlice controller's label naming the Service
# ownerReferences kinds -> the word kubectl takes (kubectl scale deployment/NAME)
_WORKLOADS = {"Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset",
              "ReplicaSet": "replicaset", "Job": "job", "CronJob": "cronjob"}


def _doc(files: RawFiles, name: str) -> dict[str, Any]:
    if name not in files:
        return {}
    try:
        doc = json.loads(files[name])
    except ValueError as e:
        raise EvidenceError(f"{name} is not JSON ({e})") from None
    return doc if isinstance(doc, dict) else {}


def _items(files: RawFiles, name: str) -> list[dict[str, Any]]:
    doc = _doc(files, name)
    if doc.get("kind") == "Status":
        return []
    return [i for i in doc.get("items") or () if isinstance(i, dict)]


def _owner(obj: dict[str, Any]) -> tuple[str, str] | None:
    owner = controller_of(obj)
    return owner if owner and owner[0] in _WORKLOADS and is_dns_subdomain(owner[1]) else None


def _meta(obj: dict[str, Any] | None) -> dict[str, Any]:
    meta = (obj or {}).get("metadata")
    return meta if isinstance(meta, dict) else {}


def _port_name(ports: object, port: object) -> str | None:
    """The name (else the number) of the port whose number the logs wrote."""
    found = [p for p in ports or () if isinstance(p, dict) and p.get("port") == port] \
        if isinstance(ports, list) else []
    return str(found[0].get("name") or port) if found else None


def _slice_of(files: RawFiles, ip: str, namespace: str) -> dict[str, Any] | None:
    """The EndpointSlice (of `namespace` when known) that lists the address and names its Service."""
    for s in _items(files, "endpointslices.json"):
        listed = any(canonical_ip(a) == ip for e in s.get("endpoints") or () if isinstance(e, dict)
                     for a in e.get("addresses") or ())
        if listed and namespace in ("", _meta(s).get("namespace")) and \
                is_dns_label((_meta(s).get("labels") or {}).get(SERVICE_NAME_LABEL)):
            return s
    return None


def load(files: RawFiles) -> AddressName:
    """What the address was, from the kept answers; names that are not Kubernetes names are left out. A
    document whose fields are not the API's shapes (a bool for `labels`: tests/fuzz) is one evidence error."""
    try:
        return _load(files)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError) as e:
        raise EvidenceError("upstream-address: a document has a field of an unexpected type "
                            f"({e.__class__.__name__}: {single_line(e, 160)})") from None


def _load(files: RawFiles) -> AddressName:
    info = _doc(files, RESOLUTION)
    if not info:
        raise EvidenceError(f"{RESOLUTION} is missing or not a JSON object")
    ip, port = canonical_ip(info.get("ip")), info.get("port")
    address = str(info.get("address") or ip or "?")
    errors = info.get("errors")
    missing = {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}
    at = str(info["resolved_at"]) if info.get("resolved_at") else None
    if ip is None:
        return AddressName(address, at, missing=missing)
    # hostNetwork pods share their node's address: a pod of its own is the one the address names.
    pods = sorted((p for p in _items(files, "pods.json") if canonical_ip((p.get("status") or {}).get("podIP")) == ip),
                  key=lambda p: bool((p.get("spec") or {}).get("hostNetwork")))
    pod = pods[0] if pods else None
    namespace = str(_meta(pod).get("namespace") or "")
    workload = _owner(pod) if pod else None
    if workload and workload[0] == "ReplicaSet":
        rs = next((r for r in _items(files, "replicasets.json") if _meta(r).get("name") == workload[1]), None)
        workload = (_owner(rs) if rs else None) or workload
    service, port_name, cluster_ip = None, None, False
    found = _slice_of(files, ip, namespace)
    if found is not None:
        service = str(_meta(found)["labels"][SERVICE_NAME_LABEL])
        namespace = namespace or str(_meta(found).get("namespace") or "")
        port_name = _port_name(found.get("ports"), port)
    elif pod is None:
        svc = next((s for s in _items(files, "services.json") if ip in cluster_ips(s)
                    and is_dns_label(_meta(s).get("name"))), None)
        if svc is not None:
            service, namespace, cluster_ip = str(_meta(svc)["name"]), str(_meta(svc).get("namespace") or ""), True
            port_name = _port_name((svc.get("spec") or {}).get("ports"), port)
    pod_name = _meta(pod).get("name")
    return AddressName(address, at, namespace=namespace if is_dns_label(namespace) else None,
                       pod=str(pod_name) if is_dns_subdomain(pod_name) else None,
                       workload=(_WORKLOADS[workload[0]], workload[1]) if workload else None, service=service,
                       port=port_name, cluster_ip=cluster_ip, missing=missing)


def service_reading(files: RawFiles) -> tuple[str, str] | None:
    """The (namespace, service) of an ingress-nginx upstream name the cluster has a Service for, of the
    readings asked (sources/kube_address.gather_services), in their order; None when none exists."""
    try:
        asked = _doc(files, "readings.json").get("readings") or []
        for ns, svc in asked:
            items = _items(files, f"services/{ns}.json")
            if any(_meta(i).get("name") == svc for i in items):
                return str(ns), str(svc)
    except (AttributeError, TypeError, ValueError) as e:
        raise EvidenceError("upstream-address: readings.json has a field of an unexpected type "
                            f"({e.__class__.__name__}: {single_line(e, 160)})") from None
    return None

