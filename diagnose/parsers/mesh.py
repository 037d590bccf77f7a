"""Mesh and ingress objects on the route caller -> upstream, read into timeouts and traffic policies.

Istio VirtualService / DestinationRule (networking.istio.io v1, v1beta1, v1alpha3 share these fields),
Linkerd ServiceProfile (linkerd.io v1alpha2) and Ingress with ingress-nginx annotations. Only the parts
that route to the upstream are kept: a VirtualService route whose destination is the upstream's host,
a DestinationRule for that host, a ServiceProfile named after its FQDN, an Ingress backend naming it.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from ..errors import EvidenceError
from ..model.kube import RouteTimeout, TrafficPolicy

_UNIT_MS = {"h": 3_600_000.0, "m": 60_000.0, "s": 1000.0, "ms": 1.0, "us": 0.001, "µs": 0.001, "ns": 1e-6}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)")

NGINX = "nginx.ingress.kubernetes.io/"


def parse_duration_ms(value: object, *, field: str = "duration", bare_unit_ms: float = 1000.0) -> float:
    """"10s", "1.5s", "250ms", "1m30s", "0.250s" -> milliseconds. A bare number is seconds unless told
    (ingress-nginx writes "60" for 60 s)."""
    if isinstance(value, bool):
        raise EvidenceError(f"{field}: not a duration: {value!r}")
    if isinstance(value, (int, float)):
        return float(value) * bare_unit_ms
    text = str(value).strip()
    try:
        return float(text) * bare_unit_ms
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_MS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise EvidenceError(f"{field}: not a duration: {text!r}")
    return total


def host_matches(host: str, upstream: str, namespace: str) -> bool:
    """Istio and Kubernetes DNS spellings of one Service: name, name.ns, name.ns.svc[.cluster.local]."""
    host = host.strip().lower().rstrip(".")
    up = upstream.lower()
    return host == up or host in (f"{up}.{namespace}", f"{up}.{namespace}.svc") or \
        host.startswith(f"{up}.{namespace}.svc.")


def _opt_ms(value: object, field: str) -> float | None:
    return None if value in (None, "") else parse_duration_ms(value, field=field)


def _name(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def virtual_service_routes(doc: Mapping[str, Any], upstream: str, namespace: str) -> list[RouteTimeout]:
    """The HTTP routes of one VirtualService that send traffic to the upstream, with timeout and retries."""
    spec = doc.get("spec") or {}
    name = _name(doc)
    hosts = tuple(str(h) for h in spec.get("hosts") or ())
    out: list[RouteTimeout] = []
    for i, http in enumerate(spec.get("http") or ()):
        dests = [str(((r or {}).get("destination") or {}).get("host", "")) for r in http.get("route") or ()]
        if not any(host_matches(d, upstream, namespace) for d in dests) and \
                not any(host_matches(h, upstream, namespace) for h in hosts):
            continue
        retries = http.get("retries") or {}
        where = f"{name}: http[{i}]"
        attempts = retries.get("attempts")
        out.append(RouteTimeout(
            kind="VirtualService", name=name, api_version=str(doc.get("apiVersion", "")), hosts=hosts,
            timeout_ms=_opt_ms(http.get("timeout"), f"{where}.timeout"),
            attempts=int(attempts) if attempts is not None else None,
            per_try_timeout_ms=_opt_ms(retries.get("perTryTimeout"), f"{where}.retries.perTryTimeout"),
            retry_on=str(retries.get("retryOn", "")),
            route=str(http.get("name") or f"http[{i}]"), index=i))
    return out


def destination_policy(doc: Mapping[str, Any], upstream: str, namespace: str) -> TrafficPolicy | None:
    spec = doc.get("spec") or {}
    host = str(spec.get("host", ""))
    if not host_matches(host, upstream, namespace):
        return None
    tp = spec.get("trafficPolicy") or {}
    pool = tp.get("connectionPool") or {}
    tcp, http = pool.get("tcp") or {}, pool.get("http") or {}
    od = tp.get("outlierDetection") or {}
    name = _name(doc)
    errors = od.get("consecutive5xxErrors", od.get("consecutiveErrors", od.get("consecutiveGatewayErrors")))
    return TrafficPolicy(
        name=name, api_version=str(doc.get("apiVersion", "")), host=host,
        max_connections=_opt_int(tcp.get("maxConnections")),
        http1_max_pending=_opt_int(http.get("http1MaxPendingRequests")),
        http2_max_requests=_opt_int(http.get("http2MaxRequests")),
        max_requests_per_connection=_opt_int(http.get("maxRequestsPerConnection")),
        connect_timeout_ms=_opt_ms(tcp.get("connectTimeout"), f"{name}: connectTimeout"),
        consecutive_errors=_opt_int(errors),
        ejection_time_ms=_opt_ms(od.get("baseEjectionTime"), f"{name}: baseEjectionTime"),
        max_ejection_percent=_opt_int(od.get("maxEjectionPercent")))


def _opt_int(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise EvidenceError(f"not an integer: {value!r}") from None


def service_profile_routes(doc: Mapping[str, Any], upstream: str, namespace: str) -> list[RouteTimeout]:
    """Linkerd names a ServiceProfile after the Service's FQDN; each route may carry a timeout."""
    meta = doc.get("metadata") or {}
    if not host_matches(str(meta.get("name", "")), upstream, namespace):
        return []
    spec = doc.get("spec") or {}
    name = _name(doc)
    out = []
    for r in spec.get("routes") or ():
        if r.get("timeout") in (None, ""):
            continue
        out.append(RouteTimeout(
            kind="ServiceProfile", name=name, api_version=str(doc.get("apiVersion", "")),
            hosts=(str(meta.get("name", "")),),
            timeout_ms=parse_duration_ms(r["timeout"], field=f"{name}: routes.timeout"),
            retry_on="isRetryable" if r.get("isRetryable") else "", route=str(r.get("name", ""))))
    return out


def ingress_routes(doc: Mapping[str, Any], upstream: str, namespace: str) -> list[RouteTimeout]:
    """An Ingress with a backend on the upstream's Service, with ingress-nginx proxy timeouts (seconds)."""
    spec = doc.get("spec") or {}
    backends = [((p.get("backend") or {}).get("service") or {}).get("name", "")
                for rule in spec.get("rules") or () for p in ((rule.get("http") or {}).get("paths") or ())]
    default = ((spec.get("defaultBackend") or {}).get("service") or {}).get("name")
    if default:
        backends.append(default)
    if upstream not in backends:
        return []
    ann = (doc.get("metadata") or {}).get("annotations") or {}
    name = _name(doc)

    def ann_ms(key: str) -> float | None:
        return _opt_ms(ann.get(NGINX + key), f"{name}: {NGINX}{key}")

    read, send, connect = ann_ms("proxy-read-timeout"), ann_ms("proxy-send-timeout"), ann_ms(
        "proxy-connect-timeout")
    tries = ann.get(NGINX + "proxy-next-upstream-tries")
    hosts = tuple(str(r.get("host", "")) for r in spec.get("rules") or () if r.get("host"))
    return [RouteTimeout(kind="Ingress", name=name, api_version=str(doc.get("apiVersion", "")), hosts=hosts,
                         timeout_ms=read, send_timeout_ms=send, connect_timeout_ms=connect,
                         attempts=_opt_int(tries), route="ingress-nginx")]


def routes(vs: Iterable[Mapping[str, Any]], sp: Iterable[Mapping[str, Any]], ing: Iterable[Mapping[str, Any]],
           upstream: str, namespace: str) -> list[RouteTimeout]:
    out: list[RouteTimeout] = []
    for d in vs:
        out += virtual_service_routes(d, upstream, namespace)
    for d in sp:
        out += service_profile_routes(d, upstream, namespace)
    for d in ing:
        out += ingress_routes(d, upstream, namespace)
    return out


def policies(drs: Iterable[Mapping[str, Any]], upstream: str, namespace: str) -> list[TrafficPolicy]:
    return [p for p in (destination_policy(d, upstream, namespace) for d in drs) if p is not None]
