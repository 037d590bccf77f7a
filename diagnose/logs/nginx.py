"""nginx and ingress-nginx lines.

An event is nginx's error-log line whose message says a signal (model/signals.py), e.g.
  2023/10/27 10:30:00 [error] 31#31: *5 upstream timed out (110: Connection timed out) while reading
  response header from upstream, client: 10.0.0.1, server: _, request: "GET /login HTTP/1.1",
  upstream: "http://10.244.1.5:8080/login", host: "api.example.com"
or `connect() failed (111: Connection refused) while connecting to upstream`. The caller is nginx itself
(its proxy_read_timeout fired, or its connect failed); the upstream is the `upstream:` address.
An access-log line is an event when it names its upstream: ingress-nginx's default `upstreaminfo`
format (kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/log-format):
  $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer"
  "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name]
  $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id
(older releases: no alternative name, and `[$the_real_ip] - ` after the address). `$upstream_status` says
the signal (its last value: a retried request logs one per try, `504, 504`; an internal redirect adds
` : `): 504 a timeout, 502/503 an unavailable upstream. `$proxy_upstream_name` is
`<namespace>-<service>-<port>` and gives the Service and namespace without the API (the first dash
splits the namespace off: a namespace with a dash in it reads wrong, and the address is kept when the
name is `-` or the default backend); the duration is `$request_time` (seconds). In a file whose first
lines hold such access lines, an error line repeats the request's access line and is not counted again
(kernel.py's plan says so). A combined-format line (no upstream fields) is read but is no event.
The controller's own klog lines are read as klog (text_formats.py): an event when they say a signal and
name an upstream.
"""

from __future__ import annotations

import re

from . import text_formats
from .classify import from_words
from .event import Event, Skip
from .names import split_upstream
from .timestamps import parse_text

ERROR_LINE = re.compile(r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)")
ACCESS_LINE = re.compile(r"\S+ - \S+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] \"")
KLOG_LINE = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d")
# What a well-formed line of this format starts with (used on whole chunks, see kernel.py).
STRUCTURE = rb"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[|\S+ - \S+ \[\d\d/\w{3}/\d{4}:|[IWEF]\d{4} \d\d:\d\d:\d\d"
_UPSTREAM = re.compile(r'upstream: "([^"]*)"')
_Q = r'"(?:[^"\\]|\\.)*"'
UPSTREAMINFO = re.compile(
    rf'\S+ - (?:\[[^\]]*\] - )?\S+ \[(?P<time>[^\]]+)\] {_Q} (?P<status>\d{{3}}) \d+ {_Q} {_Q} \d+ '
    r'(?P<rt>[\d.]+|-) \[(?P<proxy>[^\]]*)\] (?:\[[^\]]*\] )?(?P<rest>.*)')
# One upstream field's value: several joined by ", " (retries) or " : " (internal redirects).
_VALUE = re.compile(r"[^\s,]+(?:(?:, | : )[^\s,]+)*")
_SPLIT = re.compile(r", | : ")
CANDIDATE = re.compile(rb"\] 50[234] | 50[234](?:, | : |\s)")
# The status nginx answers with and the signal it is (the upstream timed out: 504; refused or gone: 502, 503).
STATUS_KINDS = {"504": "upstream-timeout", "502": "upstream-unavailable", "503": "upstream-unavailable"}
# An error line has no status: the status nginx answers the client with for it (504 for a timed-out
# upstream, 502 for a refused one), so its view is worded as the access log's would be.
_ERRNO = {"upstream-timeout": "504", "upstream-unavailable": "502"}


def parse(line: str, default_service: str = "nginx", access_only: bool = False) -> Event | None:
    """The event of an nginx line; `access_only`: error lines are not counted (the file's access lines
    say the same requests)."""
    m = ERROR_LINE.match(line)
    if m and access_only:
        return None
    if not m:
        if ACCESS_LINE.match(line):
            return access(line, default_service)
        if KLOG_LINE.match(line):
            return text_formats.parse(line)     # the controller's own line, not nginx's: no caller in it
        raise Skip("not an nginx log line")
    text = m.group(3)
    kind = from_words(text)        # "upstream timed out (110: ...)", "connect() failed (111: Connection refused)"
    if kind is None:
        return None
    up = _UPSTREAM.search(text)
    if not up:
        return None
    upstream, ns = split_upstream(up.group(1))
    return Event(kind=kind, service=default_service, upstream=upstream, ts=parse_text(m.group(1)),
                 namespace=ns, via="nginx", detail=_ERRNO.get(kind, ""))


def access(line: str, default_service: str = "nginx") -> Event | None:
    """The event of an ingress-nginx `upstreaminfo` access line; None for other access lines."""
    m = UPSTREAMINFO.match(line)
    if not m:
        return None
    fields = _VALUE.findall(m.group("rest"))
    if len(fields) < 4:
        return None
    addr, status = fields[0], _SPLIT.split(fields[3])[-1]
    kind = STATUS_KINDS.get(status)
    if kind is None:
        return None
    upstream, ns = proxy_upstream(m.group("proxy"))
    logged = m.group("proxy") if upstream is not None and ambiguous(m.group("proxy")) else ""
    if upstream is None:
        last = _SPLIT.split(addr)[-1]
        if last == "-":
            return None
        upstream, ns = split_upstream(last)
    rt = m.group("rt")
    return Event(kind, default_service, upstream, parse_text(m.group("time")),
                 float(rt) * 1000 if rt != "-" else None, None, ns, via="nginx", detail=status, logged=logged)


def proxy_upstream(name: str, namespace: str | None = None) -> tuple[str | None, str | None]:
    """(service, namespace) of ingress-nginx's `$proxy_upstream_name` (`<namespace>-<service>-<port>`).

    Both names may hold dashes: `team-a-user-auth-8080` is read at its first dash (`team`, `a-user-auth`)
    unless the record names the namespace itself (ingress-nginx's `$namespace`), which then decides; with
    neither, engine/address.py asks the cluster which reading is a Service (`splits`)."""
    readings = splits(name)
    if not readings:
        return None, None
    ns, svc = next((r for r in readings if r[0] == namespace), readings[0])
    return svc, ns


def ambiguous(name: str) -> bool:
    """Whether `<namespace>-<service>-<port>` splits more than one way (a dash in the namespace or service)."""
    return len(splits(name)) > 1


def splits(name: str) -> list[tuple[str, str]]:
    """Every (namespace, service) an upstream name may stand for, the first dash's reading first; none for
    the default backend or a name of fewer than three parts. Older controllers prefix `upstream-`."""
    if name == "upstream-default-backend":
        return []
    if name.startswith("upstream-") and len(name.split("-")) > 3:
        name = name[len("upstream-"):]
    parts = name.split("-")[:-1]          # the port (or its name) last
    return [("-".join(parts[:i]), "-".join(parts[i:])) for i in range(1, len(parts)) if parts[i - 1] and parts[i]]


def has_upstreaminfo(lines: list[bytes]) -> bool:
    """Whether a sample holds upstreaminfo access lines (then error lines repeat them)."""
    return any(UPSTREAMINFO.match(ln.decode("utf-8", "replace")) for ln in lines if b'" ' in ln)


def looks_like(line: str) -> bool:
    # klog lines count: an ingress controller's log starts with them, and its file is an nginx file.
    return bool(ERROR_LINE.match(line) or ACCESS_LINE.match(line) or KLOG_LINE.match(line))
