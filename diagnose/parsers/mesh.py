"""Mesh and ingress objects on the route caller -> upstream, read into timeouts and traffic policies.

Istio VirtualService / DestinationRule (networking.istio.io v1, v1beta1, v1alpha3 share these fields),
Linkerd ServiceProfile (linkerd.io v1alpha2) and Ingress with ingress-nginx annotations. Only the parts
that route to the upstream are kept: a VirtualService route whose destination is the upstream's host,
a DestinationRule for that host, a ServiceProfile named after its FQDN, an Ingress backend naming it.

Every RouteTimeout reads the same way whatever the proxy (checks/mesh.py computes the bound from it):
`timeout_ms` caps the whole request, retries included; `attempts` counts retries after the first try;
`per_try_timeout_ms` cuts each try. What the proxy applies without the object saying so (a default, a
value it ignores) is filled in here and said in `notes`, so a check never reasons from a value the proxy
does not use.
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
        # https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute : `timeout`
        # is disabled by default, and 0s disables it too. HTTPRetry (#HTTPRetry): `attempts` is the number
        # of retries, `perTryTimeout` defaults to the route timeout (so unset, each try may take all of it).
        timeout = _opt_ms(http.get("timeout"), f"{where}.timeout")
        out.append(RouteTimeout(
            kind="VirtualService", name=name, api_version=str(doc.get("apiVersion", "")), hosts=hosts,
            timeout_ms=timeout or None,
            attempts=_opt_int(attempts, f"{where}.retries.attempts"),
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


def _opt_int(value: object, field: str = "") -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise EvidenceError(f"{field + ': ' if field else ''}not an integer: {value!r}") from None


# https://linkerd.io/2/reference/service-profiles/ : a route's `timeout` is "the maximum amount of time to
# wait for a response (including retries)"; https://linkerd.io/2.12/tasks/configuring-timeouts : "If
# unspecified, the default timeout is 10 seconds". Retries (`isRetryable`) are limited by the profile's
# retryBudget (a ratio of live traffic, https://linkerd.io/2.15/tasks/configuring-retries), not a count,
# and have no per-try timeout: the route timeout is the whole bound.
LINKERD_DEFAULT_TIMEOUT_MS = 10_000.0


def service_profile_routes(doc: Mapping[str, Any], upstream: str, namespace: str) -> list[RouteTimeout]:
    """Linkerd names a ServiceProfile after the Service's FQDN; every route has a timeout, set or default."""
    meta = doc.get("metadata") or {}
    if not host_matches(str(meta.get("name", "")), upstream, namespace):
        return []
    spec = doc.get("spec") or {}
    name = _name(doc)
    out = []
    for i, r in enumerate(spec.get("routes") or ()):
        notes: tuple[str, ...] = ()
        if r.get("timeout") in (None, ""):
            timeout = LINKERD_DEFAULT_TIMEOUT_MS
            notes = ("no timeout set: Linkerd's default 10s applies",)
        else:
            timeout = parse_duration_ms(r["timeout"], field=f"{name}: routes[{i}].timeout")
        out.append(RouteTimeout(
            kind="ServiceProfile", name=name, api_version=str(doc.get("apiVersion", "")),
            hosts=(str(meta.get("name", "")),), timeout_ms=timeout,
            retry_on="isRetryable" if r.get("isRetryable") else "", route=str(r.get("name", "")), index=i,
            notes=notes))
    return out


# ingress-nginx reads proxy-*-timeout annotations as whole seconds (integers): "30s" fails its integer
# parse and the ConfigMap default is used instead, silently.
# https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#custom-timeouts
# https://github.com/kubernetes/ingress-nginx/blob/main/internal/ingress/annotations/proxy/main.go
# (GetIntAnnotation; on error `config.ReadTimeout = defBackend.ProxyReadTimeout`). Defaults from
# https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/ : connect 5,
# send 60, read 60, proxy-next-upstream-tries 3 (tries, the first included), next-upstream-timeout 0 (none).
NGINX_DEFAULTS = {"proxy-connect-timeout": 5, "proxy-send-timeout": 60, "proxy-read-timeout": 60,
                  "proxy-next-upstream-tries": 3, "proxy-next-upstream-timeout": 0}
_NGINX_INT = re.compile(r"[+-]?\d+")


def nginx_int(ann: Mapping[str, Any], key: str) -> tuple[int, str | None]:
    """An ingress-nginx integer annotation as the controller reads it, and a note when its default applies
    because the value is not an integer."""
    raw = ann.get(NGINX + key)
    default = NGINX_DEFAULTS[key]
    if raw is None:
        return default, None
    text = str(raw).strip()
    if not _NGINX_INT.fullmatch(text):
        return default, (f"{key} {text!r} is not a whole number of seconds: ingress-nginx ignores it and "
                         f"uses its default {default}")
    return int(text), None


def ingress_routes(doc: Mapping[str, Any], upstream: str, namespace: str) -> list[RouteTimeout]:
    """An Ingress with a backend on the upstream's Service: ingress-nginx cuts each try at its read timeout
    and tries up to proxy-next-upstream-tries servers (on error or timeout, the default proxy-next-upstream)."""
    spec = doc.get("spec") or {}
    backends = [((p.get("backend") or {}).get("service") or {}).get("name", "")
                for rule in spec.get("rules") or () for p in ((rule.get("http") or {}).get("paths") or ())]
    default = ((spec.get("defaultBackend") or {}).get("service") or {}).get("name")
    if default:
        backends.append(default)
    if upstream not in backends:
        return []
    ann = (doc.get("metadata") or {}).get("annotations") or {}
    values = {k: nginx_int(ann, k) for k in NGINX_DEFAULTS}
    notes = tuple(n for _, n in values.values() if n)
    tries = values["proxy-next-upstream-tries"][0]
    cap = values["proxy-next-upstream-timeout"][0]
    hosts = tuple(str(r.get("host", "")) for r in spec.get("rules") or () if r.get("host"))
    return [RouteTimeout(kind="Ingress", name=_name(doc), api_version=str(doc.get("apiVersion", "")), hosts=hosts,
                         timeout_ms=cap * 1000.0 if cap > 0 else None,
                         per_try_timeout_ms=values["proxy-read-timeout"][0] * 1000.0,
                         send_timeout_ms=values["proxy-send-timeout"][0] * 1000.0,
                         connect_timeout_ms=values["proxy-connect-timeout"][0] * 1000.0,
                         # 0 tries means "no limit" to nginx; read as one retry per other server, unknown here
                         attempts=max(tries, 1) - 1 if tries > 0 else None, route="ingress-nginx", notes=notes)]


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
