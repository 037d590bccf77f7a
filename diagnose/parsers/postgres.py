"""PostgreSQL rows (live or from a bundle's postgres/ folder) to DatabaseEvidence.

The files are those diagnose.sources.postgres writes: server.json, and one {"sql", "columns", "rows",
"error", "note"} document per query (activity, locks, statements, tables). A query the role could not run
becomes a note saying what could not be seen; a malformed row is skipped and counted.

Relevance: a session counts when its application_name or role names the upstream, or its database is
the upstream's or the one the DSN connected to. Other sessions (an analytics job in another database)
are noted, never counted.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence, TypeVar

from ..errors import EvidenceError
from ..model.database import (
    BlockingChain,
    Connections,
    DatabaseEvidence,
    HeldLock,
    IndexSuggestion,
    Session,
    StatementStat,
    TableScan,
    fmt_age,
)
from ..model.incident import parse_iso
from ..model.target import RawFiles, Target
from ..model.text import single_line
from ..redact import scrub_text

HIDDEN = "<insufficient privilege>"
SUGGEST_MIN_ROWS = 10_000    # below this a sequential scan is cheap: no index is suggested
MAX_NOTES = 5

T = TypeVar("T")



def _scrubbed(query: str | None) -> str | None:
    """Query text is shown in reports and notes: a `PASSWORD '...'` or a DSN in it must not be."""
    return scrub_text(query) if query else query


def load(files: RawFiles, target: Target | None) -> DatabaseEvidence:
    if "activity.json" not in files:
        raise EvidenceError("postgres/activity.json: missing (the sessions of the database were not recorded)")
    notes: list[str] = []
    server = _server(files.get("server.json"), notes)
    database, upstream = _str(server.get("database")), target.upstream if target else None
    activity = _query(files, "activity.json", notes, required=True)
    sessions = _rows(activity, "activity.json", lambda r: _session(r, upstream, database), notes)
    locks = _rows(_query(files, "locks.json", notes), "locks.json", _lock, notes)
    stmt_doc = _query(files, "statements.json", notes)
    statements = _rows(stmt_doc, "statements.json", lambda r: _statement(r, upstream, database), notes)
    if any(s.query == HIDDEN for s in statements):
        notes.append(f"{sum(s.query == HIDDEN for s in statements)} top statements of other roles are hidden "
                     f"from role {server.get('user') or '?'}: grant it pg_read_all_stats (or pg_monitor)")
        statements = [s for s in statements if s.query != HIDDEN]
    tables = _rows(_query(files, "tables.json", notes), "tables.json", _table, notes)
    stmt_note = (stmt_doc.get("note") or stmt_doc.get("error")) if stmt_doc else "statements.json not recorded"
    settings = _settings(server.get("settings"))
    hidden = [s for s in sessions if s.hidden]
    if hidden:
        notes.append(f"{len(hidden)} sessions of other roles are hidden from role {server.get('user') or '?'} "
                     "(query, state and waits): grant it pg_monitor to see them")
    notes.extend(_other_sessions(sessions))
    return DatabaseEvidence(
        server_version=_str(server.get("server_version")), server_version_num=_int(server.get("server_version_num")),
        database=database, user=_str(server.get("user")), own_pid=_int(server.get("pid")),
        collected_at=_time(server.get("now")), settings=settings, sessions=tuple(sessions),
        chains=blocking_chains(sessions, locks), locks=tuple(locks),
        connections=_connections(sessions, settings_raw(server)), statements=tuple(statements),
        statements_note=_str(stmt_note), tables=tuple(tables),
        suggestions=suggest_indexes(statements, sessions, tables), upstream=upstream, notes=tuple(notes),
        no_data=f"could not read the sessions: {_one_line(activity['error'])}" if activity and activity.get("error")
        else None)


# ---- files ---------------------------------------------------------------------------------------

def _json(raw: bytes, name: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:      # RecursionError: [[[[... (tests/fuzz)
        raise EvidenceError(f"postgres/{name}: not JSON ({single_line(exc, 120)})") from None


def _server(raw: bytes | None, notes: list[str]) -> dict[str, Any]:
    if raw is None:
        notes.append("postgres/server.json missing: server version and settings unknown")
        return {}
    doc = _json(raw, "server.json")
    if not isinstance(doc, dict):
        raise EvidenceError("postgres/server.json: expected a JSON object")
    # Typed here, once, so that load() meets the shapes it reads (a list for `pid`, NaN: tests/fuzz).
    if not isinstance(doc.get("settings") or {}, dict):
        raise EvidenceError("postgres/server.json: field 'settings': expected a JSON object")
    for key in ("server_version_num", "pid"):
        try:
            _int(doc.get(key))
        except (TypeError, ValueError, OverflowError):
            raise EvidenceError(f"postgres/server.json: field {key!r}: not an integer") from None
    return doc


def _query(files: RawFiles, name: str, notes: list[str], required: bool = False) -> dict[str, Any] | None:
    raw = files.get(name)
    if raw is None:
        notes.append(f"postgres/{name} missing: not recorded")
        return None
    doc = _json(raw, name)
    if not isinstance(doc, dict) or not isinstance(doc.get("rows", []), list) \
            or not isinstance(doc.get("columns", []), list):
        raise EvidenceError(f"postgres/{name}: field 'rows'/'columns': expected lists in a JSON object")
    if doc.get("error"):
        what = {"activity.json": "sessions", "locks.json": "locks", "statements.json": "top statements",
                "tables.json": "table scan statistics"}.get(name, name)
        notes.append(f"could not read {what}: {_one_line(doc['error'])}")
    return doc


def _rows(doc: dict[str, Any] | None, name: str, build: Callable[[dict[str, Any]], T],
          notes: list[str]) -> list[T]:
    if not doc:
        return []
    cols = [str(c) for c in doc.get("columns") or []]
    out: list[T] = []
    skipped = 0
    for row in doc.get("rows") or []:
        try:
            if not isinstance(row, list) or len(row) != len(cols):
                raise ValueError("row shape")
            out.append(build(dict(zip(cols, row, strict=True))))
        except (KeyError, ValueError, TypeError, OverflowError):     # OverflowError: int() of an infinite float
            skipped += 1
    if skipped:
        notes.append(f"postgres/{name}: {skipped} malformed rows skipped")
    return out


# ---- values --------------------------------------------------------------------------------------

def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def _int(v: Any) -> int | None:
    if v is None or isinstance(v, bool):
        return None
    return int(v)


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _time(v: Any) -> datetime | None:
    if not v:
        return None
    try:
        return parse_iso(str(v))
    except ValueError:
        return None


def _one_line(text: Any) -> str:
    return single_line(text, 300)


def _matches(value: str | None, upstream: str | None) -> bool:
    return bool(value and upstream and upstream.lower() in value.lower())


# ---- rows ----------------------------------------------------------------------------------------

def _session(r: Mapping[str, Any], upstream: str | None, database: str | None) -> Session:
    query = _scrubbed(_str(r.get("query")))
    hidden = query == HIDDEN
    app, user, db = _str(r.get("application_name")) or None, _str(r.get("usename")), _str(r.get("datname"))
    relevant = (_matches(app, upstream) or _matches(user, upstream) or (db is not None and db == upstream)
                or (db is not None and db == database))
    blocked = r.get("blocked_by") or []
    if not isinstance(blocked, list):
        raise ValueError("blocked_by")
    return Session(
        pid=int(r["pid"]), user=user, application=app, database=db, state=_str(r.get("state")),
        wait_event_type=_str(r.get("wait_event_type")), wait_event=_str(r.get("wait_event")),
        query=None if hidden else query, backend_type=_str(r.get("backend_type")),
        client_addr=_str(r.get("client_addr")), xact_start=_time(r.get("xact_start")),
        query_start=_time(r.get("query_start")), state_change=_time(r.get("state_change")),
        xact_age_s=_float(r.get("xact_age_s")), query_age_s=_float(r.get("query_age_s")),
        state_age_s=_float(r.get("state_age_s")), blocked_by=tuple(int(p) for p in blocked if int(p) != 0),
        relevant=relevant, hidden=hidden)


def _lock(r: Mapping[str, Any]) -> HeldLock:
    return HeldLock(pid=int(r["pid"]), locktype=str(r["locktype"]), mode=str(r["mode"]), granted=bool(r["granted"]),
                    relation=_str(r.get("relation")), transactionid=_str(r.get("transactionid")),
                    tuple=_str(r.get("tuple")), relkind=_str(r.get("relkind")))


def _statement(r: Mapping[str, Any], upstream: str | None, database: str | None) -> StatementStat:
    db, user = _str(r.get("datname")), _str(r.get("rolname"))
    relevant = (db is not None and db in (database, upstream)) or _matches(user, upstream)
    return StatementStat(query=scrub_text(str(r["query"])), calls=int(r["calls"]), mean_ms=float(r["mean_ms"]),
                         total_ms=float(r["total_ms"]), rows=int(r.get("rows") or 0), database=db, user=user,
                         relevant=relevant)


def _table(r: Mapping[str, Any]) -> TableScan:
    return TableScan(schema=str(r["schemaname"]), table=str(r["relname"]), seq_scan=int(r["seq_scan"] or 0),
                     seq_tup_read=int(r["seq_tup_read"] or 0), idx_scan=_int(r.get("idx_scan")),
                     live_rows=int(r.get("n_live_tup") or 0), size_bytes=_int(r.get("size_bytes")),
                     columns=tuple(str(c) for c in r.get("columns") or ()),
                     indexed_first=tuple(str(c) for c in r.get("indexed_first") or ()))


# ---- settings and connections ---------------------------------------------------------------------

def settings_raw(server: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, val in (server.get("settings") or {}).items():
        out[str(name)] = str(val.get("value") if isinstance(val, dict) else val)
    return out


def _settings(raw: Any) -> dict[str, str]:
    """name -> value as a person reads it: "0" (disabled), "30s", "500ms", "100"."""
    out: dict[str, str] = {}
    for name, val in (raw or {}).items():
        value, unit = (val.get("value"), val.get("unit")) if isinstance(val, dict) else (val, None)
        text = str(value)
        if unit == "ms" and text.isdigit() and int(text) and int(text) % 1000 == 0:
            text = f"{int(text) // 1000}s"
        elif unit and text != "0" and text.lstrip("-").isdigit():
            text = f"{text}{unit}"
        out[str(name)] = text
    return out


def _connections(sessions: Sequence[Session], settings: Mapping[str, str]) -> Connections:
    by_state: dict[str, int] = {}
    clients = [s for s in sessions if s.is_client]
    for s in clients:
        key = s.state or ("hidden" if s.hidden else "unknown")
        by_state[key] = by_state.get(key, 0) + 1

    def num(name: str) -> int | None:
        v = settings.get(name)
        return int(v) if v is not None and v.isdigit() else None

    reserved = (num("superuser_reserved_connections") or 0) + (num("reserved_connections") or 0)
    return Connections(total=len(clients), by_state=dict(sorted(by_state.items(), key=lambda kv: -kv[1])),
                       max_connections=num("max_connections"), reserved=reserved)


# ---- blocking chains -----------------------------------------------------------------------------

def blocking_chains(sessions: Sequence[Session], locks: Sequence[HeldLock]) -> tuple[BlockingChain, ...]:
    """Root blockers (blocking, not blocked) with everyone behind them, most waiters first."""
    by_pid = {s.pid: s for s in sessions}
    blocks: dict[int, list[int]] = {}
    for s in sessions:
        for b in s.blocked_by:
            blocks.setdefault(b, []).append(s.pid)
    roots = [b for b in blocks if not (by_pid.get(b) and by_pid[b].blocked_by)]
    if not roots and blocks:
        # every blocker is itself blocked: a cycle the deadlock detector has yet to break; start at the oldest
        roots = [min(blocks, key=lambda p: -(by_pid[p].xact_age_s or 0) if p in by_pid else 0)]
    chains = []
    for root in roots:
        seen: dict[int, None] = {}
        todo = list(blocks.get(root, ()))
        while todo:
            pid = todo.pop()
            if pid in seen or pid == root:
                continue
            seen[pid] = None
            todo.extend(blocks.get(pid, ()))
        waiters = sorted((by_pid[p] for p in seen if p in by_pid), key=lambda s: -(s.query_age_s or 0))
        blocker = by_pid.get(root) or Session(pid=root, user=None, application=None, database=None, state=None,
                                              wait_event_type=None, wait_event=None, query=None, backend_type=None)
        held = tuple(lk for lk in locks if lk.pid == root and lk.granted)
        chains.append(BlockingChain(blocker=blocker, waiters=tuple(waiters), direct=tuple(blocks[root]), held=held))
    return tuple(sorted(chains, key=lambda c: -len(c.waiters)))


def _other_sessions(sessions: Sequence[Session]) -> list[str]:
    """Notes for long-running sessions of other applications and databases: seen, not counted."""
    others = [s for s in sessions if s.is_client and not s.relevant and not s.hidden and s.state
              and s.state != "idle"]
    others.sort(key=lambda s: -(s.query_age_s or 0))
    notes = [f"not counted (another application or database): {s.label} {s.state} for "
             f"{fmt_age(s.query_age_s)}: {_one_line(s.query or '')[:160]}" for s in others[:MAX_NOTES]]
    if len(others) > MAX_NOTES:
        notes.append(f"and {len(others) - MAX_NOTES} more sessions of other applications not counted")
    return notes



# ---- index suggestions ----------------------------------------------------------------------------

_NAME = r'(?:"[^"]+"|[A-Za-z_][\w$]*)'
_TABLE_REF = re.compile(rf"\b(?:FROM|JOIN|UPDATE|INTO)\s+(?:ONLY\s+)?({_NAME}(?:\.{_NAME})?)"
                        rf"(?:\s+(?:AS\s+)?(?!WHERE\b|SET\b|JOIN\b|ON\b|LEFT\b|INNER\b|GROUP\b|ORDER\b|LIMIT\b)"
                        rf"([A-Za-z_]\w*))?", re.I)
_WHERE = re.compile(r"\bWHERE\b(.*?)(?:\bGROUP\s+BY\b|\bORDER\s+BY\b|\bLIMIT\b|\bRETURNING\b|\bFOR\s+UPDATE\b|$)",
                    re.I | re.S)
# A bare name starts only where no identifier character precedes it: tried inside a 20k-character token (a
# comment, a long literal) at every offset, each try running to the token's end, the search was quadratic.
_COND = re.compile(rf"(?:(?<![\w$])|(?=\"))(?:({_NAME})\.)?({_NAME})\s*(?:=|<>|!=|<=|>=|<|>|\bIN\b|\bLIKE\b|\bILIKE\b|"
                   r"\bBETWEEN\b|\bIS\b|=\s*ANY)", re.I)
MAX_QUERY_CHARS = 100_000     # index suggestions read at most this much of a query: parsing stays bounded


def _unquote(name: str) -> str:
    return name[1:-1] if name.startswith('"') else name.lower()


def _quote(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


def where_columns(query: str) -> list[tuple[str | None, str, str | None]]:
    """[(table, column, qualifier)] for each column a WHERE clause compares, tables from FROM/UPDATE/JOIN."""
    query = query[:MAX_QUERY_CHARS]
    refs = [(m.group(1), m.group(2)) for m in _TABLE_REF.finditer(query)]
    if not refs:
        return []
    alias = {}
    for table, al in refs:
        name = _unquote(table.split(".")[-1])
        alias[name] = table
        if al:
            alias[al.lower()] = table
    out = []
    for where in _WHERE.finditer(query):
        for m in _COND.finditer(where.group(1)):
            qual = m.group(1)
            table = alias.get(_unquote(qual)) if qual else (refs[0][0] if len(refs) == 1 else None)
            out.append((table, _unquote(m.group(2)), qual))
    return out


def suggest_indexes(statements: Sequence[StatementStat], sessions: Sequence[Session],
                    tables: Sequence[TableScan]) -> tuple[IndexSuggestion, ...]:
    """CREATE INDEX CONCURRENTLY for a large, seq-scanned table filtered on a column no index leads with."""
    by_name: dict[str, TableScan] = {}
    for t in tables:
        if t.live_rows >= SUGGEST_MIN_ROWS and t.seq_scan > 0:
            by_name[t.table.lower()] = by_name[f"{t.schema}.{t.table}".lower()] = t
    if not by_name:
        return ()
    candidates: list[tuple[str, float | None, float | None]] = [(s.query, s.mean_ms, None) for s in
                                                               sorted(statements, key=lambda s: -s.mean_ms)]
    candidates += [(s.query, None, s.query_age_s) for s in sessions if s.query and s.state == "active"]
    out: dict[tuple[str, str], IndexSuggestion] = {}
    for query, mean_ms, age_s in candidates:
        for table_ref, column, _ in where_columns(query):
            if table_ref is None:
                continue
            key = ".".join(_unquote(p) for p in table_ref.split("."))
            hit = by_name.get(key)
            if hit is None or column not in hit.columns or column in hit.indexed_first or (hit.table, column) in out:
                continue
            qualified = f"{_quote(hit.schema)}.{_quote(hit.table)}"
            name = _quote(f"idx_{hit.table}_{column}"[:63].lower())
            sql = f"CREATE INDEX CONCURRENTLY {name} ON {qualified} ({_quote(column)});"
            out[(hit.table, column)] = IndexSuggestion(table=qualified, column=column, sql=sql, query=query,
                                                     mean_ms=mean_ms, age_s=age_s)
    return tuple(out.values())
