"""nginx and ingress-nginx lines.

An event is nginx's error-log line whose message says a signal (model/signals.py), e.g.
  2023/10/27 10:30:00 [error] 31#31: *5 upstream timed out (110: Connection timed out) while reading
  response header from upstream, client: 10.0.0.1, server: _, request: "GET /login HTTP/1.1",
  upstream: "http://10.244.1.5:8080/login", host: "api.example.com"
or `connect() failed (111: Connection refused) while connecting to upstream`. The caller is nginx itself
(its proxy_read_timeout fired, or its connect failed); the upstream is the `upstream:` address.
Access-log lines (combined format and ingress-nginx's) and the controller's own klog lines are
recognised as well-formed but carry no timeout event (their 504s repeat what the error line says).
"""

from __future__ import annotations

import re

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


def parse(line: str, default_service: str = "nginx") -> Event | None:
    m = ERROR_LINE.match(line)
    if not m:
        if ACCESS_LINE.match(line) or KLOG_LINE.match(line):
            return None
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
                 namespace=ns)


def looks_like(line: str) -> bool:
    # klog lines count: an ingress controller's log starts with them, and its file is an nginx file.
    return bool(ERROR_LINE.match(line) or ACCESS_LINE.match(line) or KLOG_LINE.match(line))
