"""Envoy / Istio text access-log lines (the default formats of both).

  [2023-10-27T10:30:00.000Z] "GET /login HTTP/1.1" 504 UT 0 24 10001 - "-" "curl/8" "req-id"
      "user-auth-service:8080" "10.244.1.5:8080"            (one line in the log, wrapped here)
Istio's default adds response-code details, termination details, the transport failure reason, and
after the upstream host the cluster `outbound|8080||user-auth-service.production.svc.cluster.local`.
Flags and code say the signal (model/signals.py, docs/logs.md): UT, or URX with a 504 (retries used up on
per-try timeouts), is a timeout; a 502 or 503 an unavailable upstream; other UF and URX are upstream
failures, counted apart. The duration is %DURATION% (ms).
The caller is the proxy ("envoy") unless a log shipper's labels name the pod's app.
"""

from __future__ import annotations

import re

from .classify import from_proxy
from .event import Event, Skip
from .names import split_upstream
from .timestamps import parse_text

# Envoy's default format string (envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/
# usage#default-format-string): [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
# %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
# "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"
# (a response code of 0 when no response began; "-" for every unset value). Checked against the docs'
# example line in tests/data/logs/text/envoy-default.log.
LINE = re.compile(
    r'\[(?P<ts>[^\]]+)\] "(?P<req>[^"]*)" (?P<code>\d{1,3}) (?P<flags>\S+) '
    r'(?:(?P<details>[^\s"]+) (?P<term>[^\s"]+) "(?P<tfr>[^"]*)" )?'
    r'(?P<rx>\d+) (?P<tx>\d+) (?P<dur>\d+|-) (?P<ust>\S+) "(?P<xff>[^"]*)" "(?P<ua>[^"]*)" '
    r'"(?P<rid>[^"]*)" "(?P<authority>[^"]*)" "(?P<uhost>[^"]*)"(?: (?P<cluster>\S+))?'
    # Istio's default adds %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
    # (istio.io/latest/docs/tasks/observability/logs/access-log): on an outbound call the remote is the app.
    r'(?: (?P<ulocal>\S+) (?P<dlocal>\S+) (?P<dremote>\S+))?')
STRUCTURE = rb"\[\d{4}-\d\d-\d\dT[^\]]*\] \""


def parse(line: str, default_service: str = "envoy") -> Event | None:
    m = LINE.match(line)
    if not m:
        raise Skip("not an Envoy access-log line")
    kind = from_proxy(set(m.group("flags").split(",")), m.group("code"))
    if kind is None:
        return None
    cluster = m.group("cluster") or ""
    raw = cluster if "|" in cluster and cluster.split("|")[-1] else m.group("authority")
    if not raw or raw == "-":
        raw = m.group("uhost")
    if not raw or raw == "-":
        return None
    upstream, ns = split_upstream(raw)
    dur = m.group("dur")
    return Event(kind=kind, service=default_service, upstream=upstream, ts=parse_text(m.group("ts")),
                 duration_ms=float(dur) if dur != "-" else None, namespace=ns, via="envoy",
                 detail=m.group("flags") if m.group("flags") != "-" else m.group("code"),
                 peer=m.group("dremote") if m.group("dremote") and m.group("dremote") != "-" else "")


def looks_like(line: str) -> bool:
    return bool(LINE.match(line))
