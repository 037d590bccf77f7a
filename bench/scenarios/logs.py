"""The incident's log lines in one of the formats the log layer reads (docs/logs.md).

One timeout every 5 s from the first to the last timeout. The caller's own deadline fires (durations just
over its timeout) unless the mesh's retry budget ends the request first (mesh-timeout: 15 s, the writers'
3 tries x 5 s).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from fixtures.build import scenario as canon

from .generate import Scenario


def _durations(sc: Scenario, n: int) -> int:
    if "mesh-timeout" in sc.causes:
        return 15000 + (n * 3) % 9
    return sc.cast.timeout_ms + (n * 7) % 40


def _line(sc: Scenario, t: datetime, n: int) -> str:
    c = sc.cast
    ms = _durations(sc, n)
    fqdn = f"{c.upstream}.{c.namespace}.svc.cluster.local"
    if sc.log_format == "json":            # the seed's format
        return json.dumps({
            "timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "level": "ERROR",
            "message": "request failed: upstream response timeout", "service": c.caller,
            "upstream_service": c.upstream, "duration_ms": ms, "timeout_ms": c.timeout_ms,
            "kubernetes": {"namespace_name": c.namespace, "pod_name": c.caller_pods[n % 2]}})
    if sc.log_format == "json-variant":    # OpenTelemetry-ish keys, durations with units, epoch millis
        return json.dumps({
            "@timestamp": int(t.timestamp() * 1000) + n % 1000, "severity": "error",
            "msg": f"call to {c.upstream} timed out", "app": c.caller, "peer.service": c.upstream,
            "latency": f"{ms / 1000:.3f}s", "timeout": f"{c.timeout_ms // 1000}s" if c.timeout_ms % 1000 == 0
            else f"{c.timeout_ms}ms", "k8s.namespace.name": c.namespace})
    if sc.log_format == "logfmt":
        return (f'ts={t.strftime("%Y-%m-%dT%H:%M:%S.000Z")} level=error msg="upstream request timed out" '
                f"service={c.caller} upstream={c.upstream} duration_ms={ms} timeout_ms={c.timeout_ms} "
                f"namespace={c.namespace} pod={c.caller_pods[n % 2]}")
    if sc.log_format == "nginx":           # ingress-nginx's error log: the caller is the ingress
        return (f"{t.strftime('%Y/%m/%d %H:%M:%S')} [error] 31#31: *{5000 + n} upstream timed out (110: "
                f"Connection timed out) while reading response header from upstream, client: 10.0.3.{n % 200}, "
                f'server: api.example.com, request: "POST /v1/{c.upstream} HTTP/1.1", '
                f'upstream: "http://{fqdn}:8080/v1/{c.upstream}", host: "api.example.com"')
    # Envoy access log of the caller's sidecar, as Fluent Bit ships it (the wrapper names the caller)
    flags = "URX" if "mesh-timeout" in sc.causes else "UT"
    envoy = (f'[{t.strftime("%Y-%m-%dT%H:%M:%S.000Z")}] "POST /login HTTP/1.1" 504 {flags} response_timeout - "-" '
             f'312 24 {ms} - "10.0.3.7" "okhttp/4.9.3" "7c3a6b9e-2f1d-4a8e-9b0c-{n:012d}" "{c.upstream}:8080" '
             f'"10.244.1.5:8080" outbound|8080||{fqdn} 10.244.2.11:51234 10.96.14.2:8080 10.244.2.11:40012 - '
             "default")
    return json.dumps({"log": envoy + "\n", "stream": "stdout", "time": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                       "kubernetes": {"pod_name": c.caller_pods[n % 2], "namespace_name": c.namespace,
                                      "labels": {c.label_key: c.caller}, "container_name": "istio-proxy"}})


def log_lines(sc: Scenario) -> bytes:
    out, t, n = [], canon.ONSET, 0
    while t <= canon.LAST:
        out.append(_line(sc, t, n))
        t += timedelta(seconds=5)
        n += 1
    return ("\n".join(out) + "\n").encode()
