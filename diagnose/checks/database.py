"""Is the upstream waiting on its PostgreSQL? Blocking chains, long queries, idle transactions, slots, scans.

Only the upstream's sessions count (its application_name or role, its database, the DSN's database);
what other applications do is noted by the parser and never raises `database`. Fix facts: `pid`,
`blocker_query`, `blocker_user`, `blocker_app`, `xact_age_s`, `db`, `terminate_sql`, `index_sql`, ...
The only command that ends a session is a suggestion in `terminate_sql`; nothing here runs anything.
"""

from __future__ import annotations

from typing import Mapping

from ..model.check import Param, check
from ..model.database import BlockingChain, DatabaseEvidence, IndexSuggestion, Session, fmt_age
from ..model.evidence import Evidence
from ..model.finding import Fact, Finding
from ..model.text import single_line

SOURCE = "postgres"
CAUSE = "database"

PARAMS: dict[str, Param] = {
    "lock_wait_s": 1.0,            # a chain counts once its longest waiter has waited this long
    "long_query_s": 5.0,           # an active query (not waiting on a lock) running longer than this
    "idle_xact_s": 30.0,           # idle in transaction this long while holding locks
    "conn_ratio": 0.9,             # connections in use / usable slots at or above: near the limit
    "spare_ratio": 0.7,            # below: spare connections (against)
    "large_table_rows": 100_000,   # a table this large ...
    "seq_read_factor": 3.0,        # ... read sequentially this many times over is heavy scanning
    "slow_mean_ms": 1000.0,        # pg_stat_statements mean time of a slow statement
    "weight_blocking": 2.5,
    "weight_long_query": 1.5,
    "weight_idle_xact": 1.0,
    "weight_connections": 1.5,
    "weight_seq_scan": 0.5,
    "weight_slow_statement": 0.75,
    "weight_no_waits": 1.5,
    "weight_spare": 0.5,
}



def _short(text: str | None, n: int = 200) -> str:
    return single_line(text or "", n, mark="...")


def terminate_sql(pid: int) -> str:
    return f"SELECT pg_terminate_backend({pid});"


@check("postgres", needs=("postgres",), causes=(CAUSE,), params=PARAMS, facts=(
    "db", "pid", "blocker", "blocker_query", "blocker_user", "blocker_app", "blocker_state", "xact_age_s", "waiters",
    "relation", "terminate_sql", "long_query_pid", "long_query", "long_query_age_s", "long_queries",
    "index_sql", "idle_pid", "idle_xact_age_s", "idle_query", "connections",
    "max_connections", "usable_connections", "table", "seq_scans", "slow_query", "slow_mean_ms"),
       title="PostgreSQL: blocking chains, long queries, idle transactions, connection slots, scans")
def postgres(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    db = ev.postgres
    if db is None:
        return []
    chains = [c for c in db.chains if c.relevant and max((w.query_age_s or 0) for w in c.waiters or
                                                           (c.blocker,)) >= float(p["lock_wait_s"])]
    out = [_chain_finding(db, c, p) for c in chains[:3]]
    blockers = {c.blocker.pid for c in db.chains}
    waiting = {w.pid for c in db.chains for w in c.waiters}
    out += _long_queries(db, p, waiting)
    out += _idle_in_xact(db, p, blockers)
    out += _connections(db, p)
    out += _scans(db, p)
    out += _no_waits(db, p)
    return out


def _facts_common(db: DatabaseEvidence) -> dict[str, Fact]:
    return {"db": db.database or ""}


def _chain_finding(db: DatabaseEvidence, chain: BlockingChain, p: Mapping[str, Param]) -> Finding:
    b = chain.blocker
    kinds = sorted({w.wait_event or "?" for w in chain.waiters})
    longest = max((w.query_age_s or 0.0) for w in chain.waiters) if chain.waiters else 0.0
    rels = chain.locked_relations
    state = b.state or "state hidden"
    held = f" holds locks on {', '.join(rels[:3])};" if rels else ";"
    xact = f" (transaction open {fmt_age(b.xact_age_s)})" if b.xact_age_s is not None else ""
    summary = (f"{b.label} {state}{xact}{held} {len(chain.waiters)} sessions wait behind it "
               f"(Lock: {', '.join(kinds)}; longest {fmt_age(longest)}). "
               f"Its {'last ' if b.state and b.state != 'active' else ''}query: {_short(b.query) or '(hidden)'}")
    starts = [w.query_start for w in chain.waiters if w.query_start is not None]
    facts: dict[str, Fact] = {**_facts_common(db), "pid": b.pid, "blocker_query": _short(b.query, 500),
                              "blocker_user": b.user or "", "blocker_app": b.application or "",
                              "blocker": b.label,
                              "blocker_state": b.state or "", "xact_age_s": int(b.xact_age_s or 0),
                              "waiters": len(chain.waiters), "terminate_sql": terminate_sql(b.pid)}
    if b.database:
        facts["db"] = b.database
    if rels:
        facts["relation"] = rels[0]
    return Finding(cause=CAUSE, direction="for", weight=float(p["weight_blocking"]), source=SOURCE,
                   summary=summary, onset=min(starts) if starts else b.xact_start, facts=facts)


def _long_queries(db: DatabaseEvidence, p: Mapping[str, Param], waiting: set[int]) -> list[Finding]:
    limit = float(p["long_query_s"])
    long = [s for s in db.relevant_sessions if s.is_client and s.state == "active" and not s.blocked_by
            and s.pid not in waiting and (s.query_age_s or 0) >= limit]
    if not long:
        return []
    long.sort(key=lambda s: -(s.query_age_s or 0))
    top = long[0]
    waits = sorted({f"{s.wait_event_type}:{s.wait_event}" for s in long if s.wait_event_type})
    summary = (f"{len(long)} active {'query' if len(long) == 1 else 'queries'} of {db.upstream or 'the upstream'} "
               f"running longer than {limit:g}s; longest {top.label} for {fmt_age(top.query_age_s)}"
               f"{' (waits: ' + ', '.join(waits[:4]) + ')' if waits else ''}: {_short(top.query)}")
    facts: dict[str, Fact] = {**_facts_common(db), "long_query_pid": top.pid, "long_query": _short(top.query, 500),
                              "long_query_age_s": int(top.query_age_s or 0), "long_queries": len(long)}
    sug = _suggestion_for_query(db, top.query)
    if sug:
        facts["index_sql"] = sug.sql
        summary += f"; an index would let it avoid a full scan: {sug.sql}"
    return [Finding(cause=CAUSE, direction="for", weight=float(p["weight_long_query"]), source=SOURCE,
                    summary=summary, onset=top.query_start, facts=facts)]


def _holds_locks(db: DatabaseEvidence, pid: int) -> list[str]:
    held = [lk for lk in db.locks if lk.pid == pid and lk.granted]
    # A write (RowExclusiveLock and above, or its own transaction id) is what others can queue behind.
    strong = [lk for lk in held if lk.locktype == "transactionid" or lk.mode not in ("AccessShareLock",)]
    return sorted({lk.relation for lk in strong if lk.relation and lk.relkind in (None, "r", "p")})


def _idle_in_xact(db: DatabaseEvidence, p: Mapping[str, Param], blockers: set[int]) -> list[Finding]:
    limit = float(p["idle_xact_s"])
    idle = [s for s in db.relevant_sessions if (s.state or "").startswith("idle in transaction")
            and s.pid not in blockers and (s.xact_age_s or 0) >= limit]
    holding = [(s, _holds_locks(db, s.pid)) for s in idle]
    holding = [(s, rels) for s, rels in holding if rels or any(lk.pid == s.pid and lk.locktype == "transactionid"
                                                                for lk in db.locks)]
    if not holding:
        return []
    holding.sort(key=lambda sr: -(sr[0].xact_age_s or 0))
    s, rels = holding[0]
    timeout = db.settings.get("idle_in_transaction_session_timeout")
    summary = (f"{len(holding)} idle-in-transaction session{'s' if len(holding) > 1 else ''} of "
               f"{db.upstream or 'the upstream'} holding write locks; oldest {s.label} open "
               f"{fmt_age(s.xact_age_s)}{' on ' + ', '.join(rels[:3]) if rels else ''}: {_short(s.query)}"
               f"{'; idle_in_transaction_session_timeout is ' + timeout if timeout is not None else ''}")
    facts: dict[str, Fact] = {**_facts_common(db), "idle_pid": s.pid, "idle_xact_age_s": int(s.xact_age_s or 0),
                              "idle_query": _short(s.query, 500), "terminate_sql": terminate_sql(s.pid),
                              # The role whose sessions forget to commit: the idle-transaction timeout fix.
                              "blocker_user": s.user or ""}
    return [Finding(cause=CAUSE, direction="for", weight=float(p["weight_idle_xact"]), source=SOURCE,
                    summary=summary, onset=s.xact_start, facts=facts)]


def _connections(db: DatabaseEvidence, p: Mapping[str, Param]) -> list[Finding]:
    c = db.connections
    if c is None or c.ratio is None or c.max_connections is None:
        return []
    states = ", ".join(f"{n} {st}" for st, n in list(c.by_state.items())[:4])
    used = (f"{c.total} of {c.max_connections} connections in use ({c.usable} usable after {c.reserved} "
            f"reserved): {states}")
    facts: dict[str, Fact] = {**_facts_common(db), "connections": c.total, "max_connections": c.max_connections,
                              "usable_connections": c.usable or 0}
    if c.ratio >= float(p["conn_ratio"]):
        return [Finding(cause=CAUSE, direction="for", weight=float(p["weight_connections"]), source=SOURCE,
                        summary=used + f" - {c.ratio:.0%} of the usable slots", facts=facts)]
    if c.ratio < float(p["spare_ratio"]):
        return [Finding(cause=CAUSE, direction="against", weight=float(p["weight_spare"]), source=SOURCE,
                        summary="spare connections: " + used, facts=facts)]
    return []


def _suggestion_for_query(db: DatabaseEvidence, query: str | None) -> IndexSuggestion | None:
    return next((s for s in db.suggestions if query and s.query == query), None)


def _scans(db: DatabaseEvidence, p: Mapping[str, Param]) -> list[Finding]:
    out: list[Finding] = []
    big = int(p["large_table_rows"])
    heavy = [t for t in db.tables if t.live_rows >= big and t.seq_tup_read >= float(p["seq_read_factor"]) * t.live_rows]
    for t in heavy[:3]:
        sug = db.suggestion_for(t.table)
        summary = (f"table {t.name} ({t.live_rows:,} rows) read sequentially {t.seq_scan:,} times "
                   f"({t.seq_tup_read:,} rows read; {t.idx_scan or 0:,} index scans) since statistics were reset")
        facts: dict[str, Fact] = {**_facts_common(db), "table": t.name, "seq_scans": t.seq_scan}
        if sug:
            summary += f"; a filter on {sug.column} has no index: {sug.sql}"
            facts["index_sql"] = sug.sql
        out.append(Finding(cause=CAUSE, direction="for", weight=float(p["weight_seq_scan"]), source=SOURCE,
                           summary=summary, facts=facts))
    slow = [s for s in db.statements if s.relevant and s.mean_ms >= float(p["slow_mean_ms"])]
    if slow:
        s = max(slow, key=lambda st: st.mean_ms)
        sug = _suggestion_for_query(db, s.query)
        summary = (f"{len(slow)} statement{'s' if len(slow) > 1 else ''} in pg_stat_statements average over "
                   f"{float(p['slow_mean_ms']):g} ms; slowest {s.mean_ms:,.0f} ms mean over {s.calls:,} calls: "
                   f"{_short(s.query)}")
        facts = {**_facts_common(db), "slow_query": _short(s.query, 500), "slow_mean_ms": round(s.mean_ms, 1)}
        if sug:
            summary += f"; suggested: {sug.sql}"
            facts["index_sql"] = sug.sql
        out.append(Finding(cause=CAUSE, direction="for", weight=float(p["weight_slow_statement"]), source=SOURCE,
                           summary=summary, facts=facts))
    return out


def _no_waits(db: DatabaseEvidence, p: Mapping[str, Param]) -> list[Finding]:
    """Healthy data, said explicitly: only when every session could be read and none of the upstream's
    sessions waits on a lock, runs long, or sits idle in a transaction past the thresholds."""
    if db.hidden_count:
        return []
    mine: list[Session] = [s for s in db.relevant_sessions if s.is_client]
    if not mine:
        return []
    active = [s for s in mine if s.state == "active"]
    longest = max((s.query_age_s or 0.0) for s in active) if active else 0.0
    idle_long = any((s.state or "").startswith("idle in transaction") and
                    (s.xact_age_s or 0.0) >= float(p["idle_xact_s"]) for s in mine)
    if (any(s.wait_event_type == "Lock" for s in mine) or longest >= float(p["long_query_s"]) or idle_long
            or db.chains):
        return []
    summary = (f"no lock waits and no query over {float(p['long_query_s']):g}s among {len(mine)} sessions of "
               f"{db.upstream or 'the upstream'}/{db.database or '?'} ({len(active)} active, longest "
               f"{fmt_age(longest)})")
    return [Finding(cause=CAUSE, direction="against", weight=float(p["weight_no_waits"]), source=SOURCE,
                    summary=summary, facts=_facts_common(db))]
