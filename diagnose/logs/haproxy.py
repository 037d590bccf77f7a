"""HAProxy HTTP logs (`option httplog`).

The format, from HAProxy's configuration manual section 8.2.3 "HTTP log format"
(docs.haproxy.org/2.8/configuration.html#8.2.3; the 1.4 manual's example is the corpus line):
  Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in \\
      static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"
fields: the syslog header (absent with `log stdout format raw`), client ip:port, [accept date], frontend,
backend/server, the timers TR/Tw/Tc/Tr/Ta (Tq/Tw/Tc/Tr/Tt before 1.7; -1 when a phase never ended; ms),
status, bytes, two captured cookies, the termination state, actconn/feconn/beconn/srv_conn/retries,
srv_queue/backend_queue, captured headers and the request.

The termination state (section 8.5 "Session state at disconnection") says what ended the session: its
first character `s` is "the server-side timeout expired while waiting for the server to send or receive
data" (with the second, the phase: `sC` connect, `sQ` queue, `sH` headers, `sD` data), an upstream
timeout; `SC` (the server refused the connection or it failed) and `SH` (the server aborted before its
headers), or a 503 with no server (`<NOSRV>`), an unavailable upstream. `c` states (`cD`: the client-side
timeout expired during data) are the client's slowness: no upstream signal. The caller is HAProxy (or the
wrapper's pod); the upstream its backend; the duration Ta (Tt), the last timer.
"""

from __future__ import annotations

import re
from itertools import islice

from .event import Event, Skip
from .timestamps import parse_text

TIMEOUT, UNAVAILABLE = "upstream-timeout", "upstream-unavailable"

# From the client on; the syslog header before it (absent with `log stdout format raw`) is not read. Tried only
# where _ACCEPT finds the client's port and accept date: searched from every offset, `\S+` ran to the end
# of a long token from each (quadratic in the line).
LINE = re.compile(
    r"(?P<client>\S+):\d+ \[(?P<date>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d)(?:\.\d+)?\] (?P<fe>\S+) "
    r"(?P<be>[^/\s]+)/(?P<srv>\S+) (?P<tq>-?\d+)/(?P<tw>-?\d+)/(?P<tc>-?\d+)/(?P<tr>-?\d+)/\+?(?P<ta>-?\d+) "
    r"(?P<status>-?\d+) \+?\d+ \S+ \S+ (?P<term>[\w-]{4}) [\d/+-]+ \d+/\d+")
# What a well-formed line starts with: a syslog header naming haproxy, or (raw) ip:port [date].
STRUCTURE = (rb"(?:<\d+>)?\w{3} +\d+ \d\d:\d\d:\d\d \S+ [\w.-]*haproxy[\w.-]*\[|"
             rb"(?:<\d+>)?\d{4}-\d\d-\d\dT\S+ \S+ [\w.-]*haproxy[\w.-]*\[|\S+:\d+ \[\d\d/\w{3}/\d{4}:")
# A line that may be an event: a server-side termination state or a 50x status.
CANDIDATE = re.compile(rb" (?:s[CQHDRPTL]|S[CH])[\w-]{2} | 50[234] ")


_ACCEPT = re.compile(r":\d+ \[\d\d/\w{3}/\d{4}:")
MAX_ACCEPTS = 4          # a line has one accept date; a line of thousands is not read past the first few


def _search(line: str) -> re.Match[str] | None:
    """LINE where the client token starts, the token before the first few `:port [dd/Mon/yyyy:`."""
    for a in islice(_ACCEPT.finditer(line), MAX_ACCEPTS):
        start = a.start()
        while start > 0 and not line[start - 1].isspace():
            start -= 1
        m = LINE.match(line, start)
        if m is not None:
            return m
    return None


def parse(line: str, default_service: str = "haproxy") -> Event | None:
    m = _search(line)
    if not m:
        raise Skip("not an HAProxy HTTP log line")
    term, status, server = m.group("term"), m.group("status"), m.group("srv")
    if term[0] == "s":
        kind = TIMEOUT
    elif term[:2] in ("SC", "SH") or (status in ("502", "503") and server == "<NOSRV>"):
        kind = UNAVAILABLE
    else:
        return None
    backend = m.group("be")
    if not backend or backend == "<NOSRV>":
        return None
    ta = int(m.group("ta"))
    return Event(kind, default_service, backend, parse_text(m.group("date")),
                 float(ta) if ta >= 0 else None, via="haproxy", detail=term)


def looks_like(line: str) -> bool:
    return _search(line) is not None
