"""Service, upstream and namespace names as logs write them.

An upstream may be a plain name, host:port, a URL, a gRPC dial target (`dns:///host:port`), a Kubernetes
FQDN (`name.ns.svc.cluster.local`) or an Istio/Envoy cluster
(`outbound|8080|v2|user-auth-service.production.svc.cluster.local`); all become the service name, and the
namespace when the name carries one. A gRPC dial target's `svc.ns` (`dns:///user-auth-service.production:443`,
the short name Kubernetes DNS resolves from another namespace) gives both too, unless `ns` is a top-level
domain or a local suffix (`api.example.com`, `db.internal`).
"""

from __future__ import annotations

import re
from functools import lru_cache

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")     # a Kubernetes namespace name
_IP = re.compile(r"^\[?[0-9a-fA-F:.]+\]?(?::\d+)?$")
_IPV4_PORT = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?$")
# gRPC dial targets (grpc.target): scheme:host:port without "//"
_GRPC_SCHEMES = ("dns:", "passthrough:", "xds:", "ipv4:", "ipv6:")
# A second label that is a domain, not a namespace, in a dial target's `a.b`.
_NOT_NAMESPACE = frozenset({"com", "net", "org", "io", "dev", "app", "cloud", "co", "ai", "biz", "info", "us",
                            "uk", "de", "eu", "local", "internal", "localdomain", "lan", "home", "corp",
                            "svc", "cluster", "localhost", "example", "test", "invalid"})


@lru_cache(maxsize=4096)
def split_upstream(raw: str) -> tuple[str, str | None]:
    """(service, namespace or None) for an upstream as it appears in a log."""
    name = raw.strip()
    if "|" in name:
        # Envoy/Istio cluster: direction|port|subset|host
        parts = name.split("|")
        if len(parts) == 4 and parts[3]:
            name = parts[3]
    dial = False                                # a gRPC dial target (dns:///host:port)
    if "://" in name:
        scheme, name = name.split("://", 1)
        dial = scheme in ("dns", "xds")
        if name.startswith("/"):
            name = name.lstrip("/")             # gRPC's dns:///host:port (no authority)
        elif scheme == "dns" and "/" in name:
            name = name.split("/", 1)[1]        # dns://8.8.8.8/host:port: the authority is the DNS server
    elif name.startswith(_GRPC_SCHEMES):
        dial = True
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
    if dial and len(labels) == 2 and labels[0] \
            and _LABEL.match(labels[1]) and labels[1].lower() not in _NOT_NAMESPACE:
        return labels[0], labels[1]
    return name, None
