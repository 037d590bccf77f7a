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
from typing import Any, Callable, Iterable, Mapping, TypeVar

from ..errors import EvidenceError
from ..model.kube import InvalidConfig, RouteTimeout, TrafficPolicy
from ..model.text import single_line

T = TypeVar("T")

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
    # Each part anchored where the last ended: a search would rescan a long run of digits from every offset.
    while (m := _PART.match(text, pos)) is not None and m.end() > pos:
        total += float(m.group(1)) * _UNIT_MS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise EvidenceError(f"{field}: not a duration: {text!r}")
    return total


def host_matches(host: str, upstream: str, namespace: str, rule_ns: str | None = None) -> bool:
    """Istio and Kubernetes DNS spellings of one Service: name, name.ns, name.ns.svc[.cluster.local].

    A short name is read in the namespace of the object that holds it (`rule_ns`), not the Service's:
    "Istio will interpret the short name based on the namespace of the rule, not the service"
    (https://istio.io/latest/docs/reference/config/networking/virtual-service/#Destination). So `name` in a
    VirtualService of another namespace (the mesh root namespace) names another Service; `name.ns` and the
    FQDN name ours from anywhere."""
    if not isinstance(host, str):
        return False
    host = host.strip().lower().rstrip(".")
    up = upstream.lower()
    short = host == up and (rule_ns is None or rule_ns == namespace)
    return short or host in (f"{up}.{namespace}", f"{up}.{namespace}.svc") or \
        host.startswith(f"{up}.{namespace}.svc.")


def exported_to(doc: Mapping[str, Any], caller_ns: str | None) -> bool:
    """Whether an Istio object is visible to a proxy in `caller_ns`. `exportTo` unset or "*": every
    namespace; ".": its own only; "~": none; else the namespaces listed
    (https://istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService-export_to).
    A proxy applies only the VirtualServices and DestinationRules exported to its namespace."""
    export = (doc.get("spec") or {}).get("exportTo")
    if not export or caller_ns is None:
        return True
    own = str((doc.get("metadata") or {}).get("namespace", ""))
    names = {str(e) for e in export} if isinstance(export, list) else {str(export)}
    return "*" in names or ("." in names and own == caller_ns) or caller_ns in names


def _rule_ns(doc: Mapping[str, Any]) -> str | None:
    ns = (doc.get("metadata") or {}).get("namespace")
    return str(ns) if ns else None


# Istio's durations are google.protobuf.Duration, whose JSON form is a string ("5s", "1.5s"): the CRD's
# schema types them `string` (https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute,
# https://protobuf.dev/reference/protobuf/google.protobuf/#duration). An object such as {seconds: 5} or a bare
# number is not a duration to istiod: it cannot convert the object, and none of its routes is applied.
def istio_ms(value: object, field: str) -> float | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise EvidenceError(f"{field}: {value!r} is not a duration string: Istio reads durations as strings "
                            f"such as \"5s\", so istiod rejects this object and none of its timeouts or retries "
                            f"is in force")
    return parse_duration_ms(value, field=field)


# A timeout of a day or more never ends a request that anyone waits for: it disables the timeout in effect.
DISABLED_MS = 24 * 3_600_000.0


def _in_effect(ms: float | None, what: str, notes: list[str]) -> float | None:
    if ms is not None and ms >= DISABLED_MS:
        notes.append(f"{what} {ms / DISABLED_MS:g} days: in effect no {what}")
        return None
    return ms


def _name(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def binds_virtual_service(doc: Mapping[str, Any], upstream: str, namespace: str,
                          caller_ns: str | None = None) -> bool:
    """Whether a VirtualService routes the caller's requests for the upstream: a host or a destination
    naming it (short names read in the VirtualService's namespace), exported to the caller's namespace."""
    spec = doc.get("spec") or {}
    rule_ns = _rule_ns(doc)
    hosts = [h for h in spec.get("hosts") or () if isinstance(h, str)]
    dests = [((r or {}).get("destination") or {}).get("host", "") for http in spec.get("http") or ()
             if isinstance(http, dict) for r in http.get("route") or () if isinstance(r, dict)]
    return exported_to(doc, caller_ns) and any(host_matches(h, upstream, namespace, rule_ns) for h in hosts + dests)


def virtual_service_routes(doc: Mapping[str, Any], upstream: str, namespace: str,
                           caller_ns: str | None = None) -> list[RouteTimeout]:
    """The HTTP routes of one VirtualService that send traffic to the upstream, with timeout and retries."""
    if not exported_to(doc, caller_ns):
        return []
    spec = doc.get("spec") or {}
    name = _name(doc)
    rule_ns = _rule_ns(doc)
    hosts = tuple(str(h) for h in spec.get("hosts") or ())
    out: list[RouteTimeout] = []
    for i, http in enumerate(spec.get("http") or ()):
        dests = [str(((r or {}).get("destination") or {}).get("host", "")) for r in http.get("route") or ()]
        if not any(host_matches(d, upstream, namespace, rule_ns) for d in dests) and \
                not any(host_matches(h, upstream, namespace, rule_ns) for h in hosts):
            continue
        retries = http.get("retries") or {}
        where = f"{name}: http[{i}]"
        attempts = retries.get("attempts")
        # https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute : `timeout`
        # is disabled by default, and 0s disables it too. HTTPRetry (#HTTPRetry): `attempts` is the number
        # of retries, `perTryTimeout` defaults to the route timeout (so unset, each try may take all of it).
        notes: list[str] = []
        timeout = _in_effect(istio_ms(http.get("timeout"), f"{where}.timeout") or None, "timeout", notes)
        per_try = _in_effect(istio_ms(retries.get("perTryTimeout"), f"{where}.retries.perTryTimeout"),
                             "perTryTimeout", notes)
        out.append(RouteTimeout(
            kind="VirtualService", name=name, api_version=str(doc.get("apiVersion", "")), hosts=hosts,
            timeout_ms=timeout, attempts=_opt_int(attempts, f"{where}.retries.attempts"),
            per_try_timeout_ms=per_try, retry_on=str(retries.get("retryOn", "")),
            route=str(http.get("name") or f"http[{i}]"), index=i, notes=tuple(notes), ignored=tuple(notes)))
    return out


def destination_policy(doc: Mapping[str, Any], upstream: str, namespace: str,
                       caller_ns: str | None = None) -> TrafficPolicy | None:
    spec = doc.get("spec") or {}
    host = str(spec.get("host", ""))
    if not host_matches(host, upstream, namespace, _rule_ns(doc)) or not exported_to(doc, caller_ns):
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
        connect_timeout_ms=istio_ms(tcp.get("connectTimeout"), f"{name}: connectTimeout"),
        consecutive_errors=_opt_int(errors),
        ejection_time_ms=istio_ms(od.get("baseEjectionTime"), f"{name}: baseEjectionTime"),
        max_ejection_percent=_opt_int(od.get("maxEjectionPercent")))


def _opt_int(value: object, field: str = "") -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        raise EvidenceError(f"{field + ': ' if field else ''}not an integer: {value!r}") from None


# https://linkerd.io/2/reference/service-profiles/ : a route's `timeout` is "the maximum amount of time to
# wait for a response (including retries)"; https://linkerd.io/2.12/tasks/configuring-timeouts : "If
# unspecified, the default timeout is 10 seconds". Retries (`isRetryable`) are limited by the profile's
# retryBudget (a ratio of live traffic, https://linkerd.io/2.15/tasks/configuring-retries), not a count,
# and have no per-try timeout: the route timeout is the whole bound.
LINKERD_DEFAULT_TIMEOUT_MS = 10_000.0


def service_profile_routes(doc: Mapping[str, Any], upstream: str, namespace: str,
                           caller_ns: str | None = None) -> list[RouteTimeout]:
    """Linkerd names a ServiceProfile after the Service's FQDN; every route has a timeout, set or default.
    The proxy reads the profile in the Service's namespace, or one in the client's namespace, which wins
    for that client (https://linkerd.io/2/reference/service-profiles/); one elsewhere is not read."""
    meta = doc.get("metadata") or {}
    rule_ns = _rule_ns(doc)
    if not host_matches(str(meta.get("name", "")), upstream, namespace, rule_ns) or \
            rule_ns not in (None, namespace, caller_ns):
        return []
    spec = doc.get("spec") or {}
    name = _name(doc)
    out = []
    for i, r in enumerate(spec.get("routes") or ()):
        notes: list[str] = []
        if r.get("timeout") in (None, ""):
            timeout: float | None = LINKERD_DEFAULT_TIMEOUT_MS
            notes.append("no timeout set: Linkerd's default 10s applies")
        else:
            timeout = _in_effect(parse_duration_ms(r["timeout"], field=f"{name}: routes[{i}].timeout"),
                                 "timeout", notes)
        out.append(RouteTimeout(
            kind="ServiceProfile", name=name, api_version=str(doc.get("apiVersion", "")),
            hosts=(str(meta.get("name", "")),), timeout_ms=timeout,
            retry_on="isRetryable" if r.get("isRetryable") else "", route=str(r.get("name", "")), index=i,
            notes=tuple(notes), ignored=tuple(n for n in notes if "in effect" in n)))
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


# The controller reads only annotations under its prefix: `--annotations-prefix`, by default
# "nginx.ingress.kubernetes.io" (https://kubernetes.github.io/ingress-nginx/user-guide/cli-arguments/ ;
# internal/ingress/annotations/parser/main.go, and kubernetes/ingress-nginx#1961: "ingress.kubernetes.io/..."
# annotations from old examples are not read unless the controller runs with that prefix). The same key
# under any other prefix is silently ignored, and the default applies.


def nginx_int(ann: Mapping[str, Any], key: str) -> tuple[int, str | None]:
    """An ingress-nginx integer annotation as the controller reads it, and a note when its default applies
    because the value is not an integer, or sits under a prefix the controller does not read."""
    raw = ann.get(NGINX + key)
    default = NGINX_DEFAULTS[key]
    if raw is None:
        other = sorted(str(k) for k in ann if str(k).endswith("/" + key) and str(k) != NGINX + key)
        if other:
            return default, (f"{other[0]} is not read: ingress-nginx reads annotations under {NGINX} (its "
                             f"--annotations-prefix default), so it uses its default {default} unless the "
                             f"controller runs with --annotations-prefix={other[0].rsplit('/', 1)[0]}")
        return default, None
    text = str(raw).strip()
    if not _NGINX_INT.fullmatch(text):
        return default, (f"{key} {text!r} is not a whole number of seconds: ingress-nginx ignores it and "
                         f"uses its default {default}")
    return int(text), None


def ingress_routes(doc: Mapping[str, Any], upstream: str, namespace: str) -> list[RouteTimeout]:
    """An Ingress with a backend on the upstream's Service: ingress-nginx cuts each try at its read timeout
    and tries up to proxy-next-upstream-tries servers (on error or timeout, the default proxy-next-upstream).
    An Ingress backend names a Service of the Ingress's own namespace
    (https://kubernetes.io/docs/concepts/services-networking/ingress/#resource-backend), so only one in the
    upstream's namespace can route to it."""
    rule_ns = _rule_ns(doc)
    if rule_ns is not None and rule_ns != namespace:
        return []
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
                         attempts=max(tries, 1) - 1 if tries > 0 else None, route="ingress-nginx", notes=notes,
                         ignored=notes)]


# What a malformed object breaks in the readers above: a field of another type than the API's (an object
# where a duration string goes, a string where a list goes).
OBJECT_ERRORS = (EvidenceError, AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError)


def error_line(e: Exception) -> str:
    text = str(e) if isinstance(e, EvidenceError) else f"a field of an unexpected type ({e.__class__.__name__}: {e})"
    return single_line(text, 300)


def _each(docs: Iterable[Mapping[str, Any]], kind: str, read: Callable[[Mapping[str, Any]], list[T]],
          binds: Callable[[Mapping[str, Any]], bool], invalid: list[InvalidConfig]) -> list[T]:
    """`read` on every object: one that breaks it is left out and said in `invalid`, the others still read."""
    out: list[T] = []
    for d in docs:
        try:
            out += read(d)
        except OBJECT_ERRORS as e:
            try:
                bound = binds(d)
            except OBJECT_ERRORS:
                bound = False
            name = _name(d) if isinstance(d, Mapping) else "?"
            why = error_line(e)
            invalid.append(InvalidConfig(kind=kind, name=name, why=why.removeprefix(f"{name}: "), bound=bound))
    return out


def routes(vs: Iterable[Mapping[str, Any]], sp: Iterable[Mapping[str, Any]], ing: Iterable[Mapping[str, Any]],
           upstream: str, namespace: str, caller_ns: str | None = None,
           invalid: list[InvalidConfig] | None = None) -> list[RouteTimeout]:
    """Every route to the upstream in these objects. An object that cannot be read is one entry of
    `invalid` (when given; else its EvidenceError is raised), never the end of the others."""
    bad: list[InvalidConfig] = [] if invalid is None else invalid
    out: list[RouteTimeout] = _each(
        vs, "VirtualService", lambda d: virtual_service_routes(d, upstream, namespace, caller_ns),
        lambda d: binds_virtual_service(d, upstream, namespace, caller_ns), bad)
    out += _each(sp, "ServiceProfile", lambda d: service_profile_routes(d, upstream, namespace, caller_ns),
                 lambda d: host_matches(str((d.get("metadata") or {}).get("name", "")), upstream, namespace,
                                        _rule_ns(d)), bad)
    out += _each(ing, "Ingress", lambda d: ingress_routes(d, upstream, namespace), lambda d: False, bad)
    if invalid is None and bad:
        raise EvidenceError(f"{bad[0].kind} {bad[0].name}: {bad[0].why}")
    return out


def policies(drs: Iterable[Mapping[str, Any]], upstream: str, namespace: str, caller_ns: str | None = None,
             invalid: list[InvalidConfig] | None = None) -> list[TrafficPolicy]:
    bad: list[InvalidConfig] = [] if invalid is None else invalid

    def read(d: Mapping[str, Any]) -> list[TrafficPolicy]:
        p = destination_policy(d, upstream, namespace, caller_ns)
        return [] if p is None else [p]

    out = _each(drs, "DestinationRule", read, lambda d: host_matches(
        str((d.get("spec") or {}).get("host", "")), upstream, namespace, _rule_ns(d)), bad)
    if invalid is None and bad:
        raise EvidenceError(f"{bad[0].kind} {bad[0].name}: {bad[0].why}")
    return out
