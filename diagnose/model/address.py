"""What an upstream logged by address turned out to be in the cluster (sources/kube_address.py asks,
parsers/kube_address.py reads the answers)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class AddressName:
    """The objects an address belonged to when it was looked up; None where nothing matched."""

    address: str                        # as the logs wrote it: 10.0.3.17:8080
    resolved_at: str | None = None      # UTC ISO-8601
    namespace: str | None = None
    pod: str | None = None
    workload: tuple[str, str] | None = None     # ("deployment", "user-auth")
    service: str | None = None
    port: str | None = None             # the Service port's name (or number) the logged port is
    cluster_ip: bool = False            # the address is the Service's ClusterIP, not a pod's
    missing: dict[str, str] = field(default_factory=dict)   # what could not be read, and why

    @property
    def name(self) -> str | None:
        """The upstream's name: the Service, else the workload that owns the pod."""
        return self.service or (self.workload[1] if self.workload else None)

    def note(self) -> str:
        """One line saying what the address is, or that it matches nothing any more."""
        if self.name is None and self.missing:
            why = "; ".join(f"{k}: {v}" for k, v in self.missing.items())
            return f"{self.address} could not be named from the cluster ({why}; at {self.resolved_at or '?'})"
        if self.name is None:
            return (f"{self.address} matches no pod, EndpointSlice or Service any more "
                    f"(resolved at {self.resolved_at or '?'})")
        parts = []
        if self.pod:
            parts.append(f"pod {self.pod}")
        if self.workload:
            parts.append(f"{'of ' if self.pod else ''}{self.workload[0]}/{self.workload[1]}")
        if self.service:
            what = "the ClusterIP of" if self.cluster_ip else "behind" if parts else "an endpoint of"
            port = f" (port {self.port})" if self.port else ""
            parts.append(f"{what} service {self.service}{port}")
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.address} is {' '.join(parts)}{where} (resolved at {self.resolved_at or '?'})"


def canonical_ip(value: object) -> str | None:
    """The address in its one written form (fd00::17 for fd00:0:0::17), or None when it is no IP address."""
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return None


def controller_of(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of an API object's controlling owner (the ownerReference with controller: true)."""
    meta = obj.get("metadata")
    refs = [r for r in (meta.get("ownerReferences") or () if isinstance(meta, dict) else ()) if isinstance(r, dict)]
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if not ref or not isinstance(ref.get("kind"), str) or not isinstance(ref.get("name"), str):
        return None
    return str(ref["kind"]), str(ref["name"])


def cluster_ips(service: Mapping[str, Any]) -> set[str]:
    """A Service's ClusterIPs (spec.clusterIP and spec.clusterIPs), canonical."""
    spec = service.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    return {ip for a in [spec.get("clusterIP"), *(spec.get("clusterIPs") or ())] if (ip := canonical_ip(a))}
