"""Goroutines waiting on other services, and goroutines piled up in one wait (a leak).

A Go handler that calls a dependency with no deadline waits in the client's machinery (`IO wait` or
`select` in net/http's persistConn, gRPC's Invoke, database/sql's conn) for as long as the dependency does:
the stall is the dependency's, which the note names with the call site. Thousands of goroutines in one
wait at one frame are goroutines that never finish.
"""

from __future__ import annotations

from collections import Counter

from ...model.threads import Frame, GoroutinePile, OutboundWait, ThreadDump, ThreadInfo
from .frames import _alternation, _search, app_frame, is_idle, is_request_thread

# (needle, kind, what) for client frames, most specific first.
# A needle ending in " (" matches the function exactly (a frame reads "function (location"): `(*DB).conn` is
# database/sql waiting for a free connection (Go's sql.go: a `select` on the request channel once MaxOpenConns
# are in use), while `(*DB).connectionOpener` is its idle background goroutine. pgx's pool waits in puddle's
# `(*Pool).Acquire` under pgxpool's; both are listed before pgx's other frames, which are a query in flight.
_CLIENT_FRAMES = (
    ("database/sql.(*DB).conn (", "db-connection", "database/sql (*DB).conn"),
    ("github.com/jackc/puddle/v2.(*Pool).Acquire (", "db-connection", "pgxpool (*Pool).Acquire"),
    ("github.com/jackc/puddle.(*Pool).Acquire (", "db-connection", "pgxpool (*Pool).Acquire"),
    ("github.com/jackc/pgx/v5/pgxpool.(*Pool).Acquire (", "db-connection", "pgxpool (*Pool).Acquire"),
    ("github.com/jackc/pgx/v4/pgxpool.(*Pool).Acquire (", "db-connection", "pgxpool (*Pool).Acquire"),
    ("github.com/jackc/pgx", "db-query", "pgx"),
    ("github.com/lib/pq", "db-query", "lib/pq"),
    ("google.golang.org/grpc.(*ClientConn).Invoke", "grpc-client", "grpc (*ClientConn).Invoke"),
    ("google.golang.org/grpc.invoke", "grpc-client", "grpc invoke"),
    ("google.golang.org/grpc.newClientStream", "grpc-client", "grpc newClientStream"),
    ("net/http.(*persistConn).roundTrip", "http-client", "net/http (*persistConn).roundTrip"),
    ("net/http.(*Transport).roundTrip", "http-client", "net/http (*Transport).roundTrip"),
)
_CLIENT_RE = _alternation(n for n, _, _ in _CLIENT_FRAMES)
_CLIENT = {n: (k, w) for n, k, w in _CLIENT_FRAMES}
PILE_MIN = 500           # goroutines in one wait at one frame worth naming as a pile


def _client_call(t: ThreadInfo) -> tuple[str, str] | None:
    if t.state == "RUNNABLE" or not t.frames:
        return None
    m = _search(_CLIENT_RE, t.frames, 32)
    return _CLIENT[m] if m else None


def find_outbound(dump: ThreadDump) -> list[OutboundWait]:
    if dump.format != "go":
        return []            # JVM pools waiting on a socket or a connection pool are pools.py's
    groups: dict[tuple[str, str, Frame | None], list[ThreadInfo]] = {}
    for t in dump.threads:
        call = _client_call(t)
        if call is not None:
            groups.setdefault((call[0], call[1], app_frame(t.frames)), []).append(t)
    out = [OutboundWait(pod=dump.pod, source=dump.source, kind=k, detail=w, count=len(ts),
                        requests=sum(1 for t in ts if is_request_thread(t)), frame=f,
                        max_minutes=max((t.wait_minutes for t in ts if t.wait_minutes is not None), default=None))
           for (k, w, f), ts in groups.items()]
    out.sort(key=lambda o: (-o.requests, -o.count))
    return out


def find_piles(dump: ThreadDump, at_least: int = PILE_MIN) -> list[GoroutinePile]:
    if dump.format != "go" or len(dump.threads) < at_least:
        return []
    counts: Counter[tuple[str, Frame | None]] = Counter(
        (t.raw_state, app_frame(t.frames)) for t in dump.threads if t.state != "RUNNABLE" and not (
            is_idle(t) and t.raw_state != "waiting"))
    return [GoroutinePile(pod=dump.pod, source=dump.source, reason=r, count=n, total=len(dump.threads), frame=f)
            for (r, f), n in counts.most_common() if n >= at_least]


def _where(f: Frame | None) -> str:
    return f.code_location if f is not None else "?"


def notes_for(outbound: list[OutboundWait], piles: list[GoroutinePile]) -> list[str]:
    """What points away from this service: calls to a dependency (not the database: its check tells
    that), and goroutine leaks."""
    out = []
    for o in outbound:
        if o.kind.startswith("db-") or o.count < 2:
            continue
        long = f", up to {o.max_minutes:g} minutes (no deadline on the call)" if o.max_minutes else ""
        reqs = f" ({o.requests} of them request handlers)" if o.requests else ""
        out.append(f"pod {o.pod}: {o.count} goroutines{reqs} wait on an outbound {o.kind} call in {o.detail}, "
                   f"made from {_where(o.frame)}{long}: the dependency it calls is slow or not answering")
    for p in piles:
        reason = f" [{p.reason}]" if p.reason != "waiting" else ""
        out.append(f"pod {p.pod}: {p.count} of {p.total} goroutines wait{reason} in {_where(p.frame)}: "
                   f"a goroutine leak if their number grows")
    return out
