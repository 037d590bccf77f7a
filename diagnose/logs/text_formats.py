"""Application text logs: the default line layouts of the common logging libraries, one regex each.

A line's layout gives its time, level and (for Spring Boot 3) the application's name; the message says
the signal (model/signals.py words) and names the upstream the way clients write errors: a URL
(`I/O error on POST request for "http://payment-service:8080/charge": Read timed out`), Go's
`Get "http://...": context deadline exceeded`, `dial tcp host:port`, urllib3's
`HTTPConnectionPool(host='payment-service', port=8080): Read timed out. (read timeout=5)`, a bare
`host:port`. Durations and timeouts are read from the words around them (`after 9.99s`, `timeout=5`,
`timeout of 5000ms exceeded`). The caller is the application's name when the line has one, else
"unknown" (a wrapper's pod names it: wrappers.py). Each layout cites, next to its regex, where it is
documented; tests/data/logs/README.md lists the corpus lines taken from those pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from .classify import from_words
from .event import Event, Skip
from .names import split_upstream
from .timestamps import parse_text

_LEVEL = r"(?P<level>TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)"
_ISO = r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?"


@dataclass(frozen=True)
class Layout:
    name: str
    line: re.Pattern[str]
    time: Callable[[re.Match[str]], float | None]
    # Messages that are the server's own access lines (uvicorn's `127.0.0.1:51234 - "GET / HTTP/1.1" 504`):
    # the address in them is the client's, so they are never events.
    access: re.Pattern[str] | None = None


def _iso(m: re.Match[str]) -> float | None:
    text = m.group("ts").replace(",", ".")
    return parse_text(text)


def _go(m: re.Match[str]) -> float | None:
    return parse_text(m.group("ts").replace("/", "-"))


def _klog(m: re.Match[str]) -> float | None:
    # klog's header has no year: the current one, or the last when that would put the line in the
    # future (a December line read in January). A wrapper's time, when there is one, is more exact but
    # an inner time wins (wrappers.py), so a klog line under kubectl --timestamps keeps klog's.
    now = datetime.now(timezone.utc)
    mo, d = int(m.group("mo")), int(m.group("d"))
    for year in (now.year, now.year - 1):
        try:
            dt = datetime(year, mo, d, tzinfo=timezone.utc)
        except ValueError:
            return None
        if dt.timestamp() <= now.timestamp() + 86400:
            break
    return parse_text(f"{dt.date().isoformat()}T{m.group('clock')}")


def _none(m: re.Match[str]) -> float | None:
    return None


LAYOUTS: tuple[Layout, ...] = (
    # Spring Boot's default console pattern (logback and log4j2 alike): `%d %5p ${PID} --- [%15.15t]
    # %-40.40logger{39} : %m` (docs.spring.io/spring-boot/docs/1.3.0.RELEASE/reference/html/boot-features-
    # logging.html "Log format"); Boot 3.2+ puts the application's name in brackets before the thread and
    # writes ISO times with a zone (docs.spring.io/spring-boot/reference/features/logging.html:
    # `2025-05-10T01:34:33.608Z  INFO 88909 --- [myapp] [           main] o.s.b.d.f.l.MyApplication : ...`),
    # and may add a [traceId-spanId] correlation after the thread.
    Layout("spring-boot", re.compile(
        rf"(?P<ts>{_ISO})\s+{_LEVEL}\s+(?P<pid>\d+)\s+---\s+(?:\[(?P<app>[^\]]*)\]\s+)?\[(?P<thread>[^\]]*)\]"
        r"\s+(?:\[[0-9a-fA-F-]*\]\s+)?(?P<logger>\S+)\s*:\s(?P<msg>.*)"), _iso),
    # logback's and log4j2's documented example pattern `%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} -
    # %msg%n` (logback.qos.ch/manual/layouts.html; logging.apache.org/log4j/2.x/manual/layouts.html), also
    # with a full date (`%d{yyyy-MM-dd HH:mm:ss.SSS}`). A time without a date is not a time: the wrapper's
    # is used when there is one.
    Layout("logback", re.compile(
        rf"(?P<ts>(?:\d{{4}}-\d\d-\d\d[ T])?\d\d:\d\d:\d\d[.,]\d{{3}})\s+\[(?P<thread>[^\]]*)\]\s+{_LEVEL}\s+"
        r"(?P<logger>\S+)\s+-\s(?P<msg>.*)"),
        lambda m: _iso(m) if len(m.group("ts")) > 12 else None),
    # Python logging.basicConfig's BASIC_FORMAT `%(levelname)s:%(name)s:%(message)s` (docs.python.org/3/
    # library/logging.html): `ERROR:root:...`, `WARNING:urllib3.connectionpool:Retrying ...`.
    Layout("python", re.compile(r"(?P<level>CRITICAL|ERROR|WARNING|INFO|DEBUG):(?P<logger>[\w.-]*):(?P<msg>.*)"),
           _none),
    # Python `%(asctime)s %(levelname)s %(name)s %(message)s` and the logging cookbook's
    # `%(asctime)s - %(name)s - %(levelname)s - %(message)s` (docs.python.org/3/howto/logging-cookbook.html);
    # asctime is `2003-07-08 16:49:45,896`.
    Layout("python-asctime", re.compile(
        rf"(?P<ts>\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}})(?: -)? (?:{_LEVEL}(?: -)? (?P<logger>\S+)|"
        r"(?P<logger2>\S+) - (?P<level2>CRITICAL|ERROR|WARNING|INFO|DEBUG))(?: -)? (?P<msg>.*)"), _iso),
    # uvicorn's default formatters `%(levelprefix)s %(message)s` (error) and `%(levelprefix)s
    # %(client_addr)s - "%(request_line)s" %(status_code)s` (access) (uvicorn.org/settings: --log-config;
    # uvicorn/config.py LOGGING_CONFIG): `ERROR:    Exception in ASGI application`.
    Layout("uvicorn", re.compile(r"(?P<level>CRITICAL|ERROR|WARNING|INFO|DEBUG|TRACE):\s+(?P<msg>.*)"), _none,
           re.compile(r'\S+:\d+ - "')),
    # gunicorn's error log `%(asctime)s [%(process)d] [%(levelname)s] %(message)s` with datefmt
    # `[%Y-%m-%d %H:%M:%S %z]` (docs.gunicorn.org/en/stable/settings.html#logconfig; gunicorn/glogging.py):
    # `[2024-03-14 21:47:33 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:12)`. Its access log is the combined
    # format (nginx.py's access lines).
    Layout("gunicorn", re.compile(
        r"\[(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\] \[\d+\] \[(?P<level>[A-Z]+)\] (?P<msg>.*)"),
        lambda m: parse_text(m.group("ts")[:19] + m.group("ts")[20:23] + ":" + m.group("ts")[23:])),
    # Go's standard `log` with LstdFlags `2009/01/23 01:23:23 message` (pkg.go.dev/log#pkg-constants),
    # Lmicroseconds adding `.123123`, Lshortfile `file.go:23: `. nginx's error log shares the date but
    # follows it with `[level]` (nginx.py is tried first).
    Layout("go-log", re.compile(r"(?P<ts>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?) (?:[\w.-]+\.go:\d+: )?"
                                r"(?P<msg>.*)"), _go),
    # klog (Kubernetes components, ingress-nginx's controller): `Lmmdd hh:mm:ss.uuuuuu threadid file:line]
    # msg` (github.com/kubernetes/klog klog.go, "Log lines have this form"): `E0314 21:47:03.123456   12345
    # file.go:123] ...`, structured as `"msg" key="value" err="..."`.
    Layout("klog", re.compile(r"(?P<level>[IWEF])(?P<mo>\d\d)(?P<d>\d\d) (?P<clock>\d\d:\d\d:\d\d(?:\.\d{1,6})?)"
                              r"\s+\d+ [^\s\]]+:\d+\] (?P<msg>.*)"), _klog),
)

# What a line of one of these layouts starts with (kernel.py checks it on every line of a text file).
STRUCTURE = (rb"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[^ ]* +(?:[A-Z]|- )|\d\d:\d\d:\d\d[.,]\d{3} +\[|"
             rb"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[.,]\d{3} +\[|(?:CRITICAL|ERROR|WARNING|INFO|DEBUG|TRACE):|"
             rb"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d|"
             rb"[IWEF]\d{4} \d\d:\d\d:\d\d|"
             # HEAD ends here: a layout's first line. Then continuation lines of a multi-line entry (Java
             # stack frames and causes, Python tracebacks)
             rb"\s|Caused by: |Traceback |[\w.$]+(?:Exception|Error|Timeout|Throwable)\b")
HEAD = STRUCTURE[:STRUCTURE.index(rb"|\s|Caused by")]
_CONTINUATION = re.compile(r"\s|Caused by: |Traceback |[\w.$]+(?:Exception|Error|Timeout|Throwable)\b")


def match(line: str) -> tuple[Layout, re.Match[str]] | None:
    for lay in LAYOUTS:
        m = lay.line.match(line)
        if m:
            return lay, m
    return None


def looks_like(line: str) -> bool:
    return match(line) is not None or bool(_CONTINUATION.match(line))


def parse(line: str, default_service: str = "unknown") -> Event | None:
    """The event of an application text line, None when it is none (or a continuation line); Skip when
    the line is of no layout here."""
    found = match(line)
    if found is None:
        if _CONTINUATION.match(line):
            return None          # a stack frame or traceback line: read, no event (no upstream in it)
        raise Skip("not an application text line")
    lay, m = found
    if lay.access is not None and lay.access.match(m.group("msg")):
        return None
    groups = m.groupdict()
    app = (groups.get("app") or "").strip()
    return from_message(m.group("msg"), app or default_service, lambda: lay.time(m))


# --- the message -----------------------------------------------------------------------------------------

_URL = re.compile(r"\b(?:https?|grpcs?|h2c?|wss?)://(?:[^@/\s\"'<>]*@)?([^/\s\"'<>?#,;)\]]+)")
_POOL = re.compile(r"host='([^']+)', port=(\d+)")                      # urllib3 / requests
_DIAL = re.compile(r"\b(?:dial tcp|connect (?:ETIMEDOUT|ECONNREFUSED|ECONNRESET)|Connect to|connecting to|"
                   r"remote_addr=[\w.-]*/?)\s*\[?([\w.-]+(?::\d{1,5})?)")
_HOSTPORT = re.compile(r"(?<![\w.:/-])((?:[a-zA-Z][\w-]*(?:\.[\w-]+)*)|(?:\d{1,3}(?:\.\d{1,3}){3})):(\d{2,5})\b")
_NOT_HOSTS = frozenset({"pid", "line", "port", "tcp", "udp", "http", "https", "time", "code", "status", "id"})
_AFTER = re.compile(r"\bafter (\d+(?:\.\d+)?)\s*(ms|milliseconds|s|sec|seconds)\b", re.I)
_TIMEOUT = re.compile(r"\btimeout(?: of|=|: | after)?\s*(\d+(?:\.\d+)?)\s*(ms|milliseconds|s|sec|seconds)?\b",
                      re.I)
_UNIT = {"ms": 1.0, "milliseconds": 1.0, "s": 1000.0, "sec": 1000.0, "seconds": 1000.0}


def upstream_in(text: str) -> str | None:
    """The upstream a client's error message names, as written (host[:port]), or None."""
    m = _URL.search(text)
    if m:
        return m.group(1)
    m = _POOL.search(text)
    if m:
        return f"{m.group(1)}:{m.group(2)}"
    m = _DIAL.search(text)
    if m:
        return m.group(1)
    for m in _HOSTPORT.finditer(text):
        if m.group(1).lower() not in _NOT_HOSTS:
            return f"{m.group(1)}:{m.group(2)}"
    return None


def _ms(num: str, unit: str | None, default: float) -> float:
    return float(num) * (_UNIT[unit.lower()] if unit else default)


def from_message(msg: str, service: str, when: Callable[[], float | None]) -> Event | None:
    kind = from_words(msg)
    if kind is None:
        return None
    raw = upstream_in(msg)
    if raw is None:
        return None
    upstream, ns = split_upstream(raw)
    if not upstream:
        return None
    a = _AFTER.search(msg)
    t = _TIMEOUT.search(msg)
    # `(read timeout=5)` is urllib3's seconds; `timeout of 5000ms` names its unit.
    timeout = _ms(t.group(1), t.group(2), 1000.0) if t else None
    return Event(kind, service, upstream, when(), _ms(a.group(1), a.group(2), 1.0) if a else None, timeout, ns)
