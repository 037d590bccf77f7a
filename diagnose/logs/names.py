"""Service, upstream and namespace names as logs write them.

An upstream may be a plain name, host:port, a URL, a gRPC dial target (`dns:///host:port`), a Kubernetes
FQDN (`name.ns.svc.cluster.local`) or an Istio/Envoy cluster
(`outbound|8080||user-auth-service.production.svc.cluster.local`); all become the service name, and the
namespace when the name carries one.
"""

from __future__ import annotations

import re
from functools import lru_cache

_IP = re.compile(r"^\[?[0-9a-fA-F:.]+\]?(?::\d+)?$")
_IPV4_PORT = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?$")
# gRPC dial targets (grpc.target): scheme:host:port without "//"
_GRPC_SCHEMES = ("dns:", "passthrough:", "xds:", "ipv4:", "ipv6:")


@lru_cache(maxsize=4096)
def split_upstream(raw: str) -> tuple[str, str | None]:
    """(service, namespace or None) for an upstream as it appears in a log."""
    name = raw.strip()
    if "|" in name:
        # Envoy/Istio cluster: direction|port|subset|host
        parts = name.split("|")
        if len(parts) == 4 and parts[3]:
            name = parts[3]
    if "://" in name:
        scheme, name = name.split("://", 1)
        if name.startswith("/"):
            name = name.lstrip("/")             # gRPC's dns:///host:port (no authority)
        elif scheme == "dns" and "/" in name:
            name = name.split("/", 1)[1]        # dns://8.8.8.8/host:port: the authority is the DNS server
    elif name.startswith(_GRPC_SCHEMES):
        name = name.split(":", 1)[1]            # dns:host:port
    name = name.split("/", 1)[0]
    if _IPV4_PORT.match(name) or (_IP.match(name) and ":" in name and name.count(":") > 1):
        return name, None                       # an address: keep the port, it is all we know
    if name.count(":") == 1:
        name = name.split(":", 1)[0]
    labels = name.split(".")
    if len(labels) >= 3 and labels[2] == "svc":
        return labels[0], labels[1]
    if len(labels) == 2 and labels[1] == "svc":
        return labels[0], None
    return name, None
