"""PostgreSQL evidence: sessions, blocking chains, connection use, settings, top statements, scans.

Filled in by diagnose.parsers.postgres from the rows a live collection (or a bundle) recorded. Ages are
seconds at the moment of collection; `relevant` says whether a session belongs to the upstream (its
application or its database), so that checks count only those and merely note the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping


@dataclass(frozen=True)
class Session:
    """One backend from pg_stat_activity (diagnose's own session is never among them)."""

    pid: int
    user: str | None
    application: str | None
    database: str | None
    state: str | None                      # active, idle, idle in transaction, ... (None: hidden)
    wait_event_type: str | None
    wait_event: str | None
    query: str | None                      # the current or, when idle, the last statement
    backend_type: str | None = "client backend"
    client_addr: str | None = None
    xact_start: datetime | None = None
    query_start: datetime | None = None
    state_change: datetime | None = None
    xact_age_s: float | None = None
    query_age_s: float | None = None
    state_age_s: float | None = None
    blocked_by: tuple[int, ...] = ()        # pg_blocking_pids(pid)
    relevant: bool = False                  # the upstream's application or database
    hidden: bool = False                    # another role's session the collecting role may not read

    @property
    def is_client(self) -> bool:
        return self.backend_type in (None, "client backend")

    @property
    def label(self) -> str:
        """"pid 4242 (user auth, app user-auth-service, db auth)"."""
        parts = [f"user {self.user}" if self.user else "", f"app {self.application}" if self.application else "",
                 f"db {self.database}" if self.database else ""]
        inner = ", ".join(p for p in parts if p)
        return f"pid {self.pid}" + (f" ({inner})" if inner else "")


@dataclass(frozen=True)
class HeldLock:
    """A row of pg_locks: what a session holds (granted) or waits for."""

    pid: int
    locktype: str
    mode: str
    granted: bool
    relation: str | None = None            # schema-qualified name when it resolves in the current database
    transactionid: str | None = None
    tuple: str | None = None               # "(page,tuple)" for tuple locks
    relkind: str | None = None             # pg_class.relkind: r table, p partitioned, i index, ...


@dataclass(frozen=True)
class BlockingChain:
    """A session that blocks others and is not itself blocked, with everyone waiting behind it."""

    blocker: Session
    waiters: tuple[Session, ...]           # directly and transitively blocked, longest wait first
    direct: tuple[int, ...]                # pids blocked directly by the blocker
    held: tuple[HeldLock, ...] = ()         # granted locks of the blocker, besides its own virtualxid

    @property
    def relevant(self) -> bool:
        return self.blocker.relevant or any(w.relevant for w in self.waiters)

    @property
    def locked_relations(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for lock in self.held:
            # Tables only: the indexes a write also locks would only repeat the table's name.
            if lock.relation and not lock.relation.startswith("pg_") and lock.relkind in (None, "r", "p"):
                seen.setdefault(lock.relation, None)
        return tuple(seen)


@dataclass(frozen=True)
class Connections:
    """Client connections against the limit (diagnose's own connection not counted)."""

    total: int
    by_state: Mapping[str, int]
    max_connections: int | None
    reserved: int = 0                      # superuser_reserved_connections + reserved_connections (16+)

    @property
    def usable(self) -> int | None:
        return None if self.max_connections is None else max(1, self.max_connections - self.reserved)

    @property
    def ratio(self) -> float | None:
        usable = self.usable
        return None if usable is None else self.total / usable


@dataclass(frozen=True)
class StatementStat:
    """A row of pg_stat_statements."""

    query: str
    calls: int
    mean_ms: float
    total_ms: float
    rows: int = 0
    database: str | None = None
    user: str | None = None
    relevant: bool = False


@dataclass(frozen=True)
class TableScan:
    """A row of pg_stat_user_tables, with the table's columns and the first column of each index."""

    schema: str
    table: str
    seq_scan: int
    seq_tup_read: int
    idx_scan: int | None
    live_rows: int
    size_bytes: int | None = None
    columns: tuple[str, ...] = ()
    indexed_first: tuple[str, ...] = ()    # leading column of every index on the table

    @property
    def name(self) -> str:
        return self.table if self.schema == "public" else f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class IndexSuggestion:
    """A slow query filters a large, sequentially scanned table on a column no index leads with."""

    table: str                             # as written in `sql` (schema-qualified)
    column: str
    sql: str                               # CREATE INDEX CONCURRENTLY ...
    query: str                             # the statement that would use it
    mean_ms: float | None = None           # from pg_stat_statements, when the query came from there
    age_s: float | None = None             # from pg_stat_activity, when it came from there


@dataclass(frozen=True)
class DatabaseEvidence:
    server_version: str | None = None
    server_version_num: int | None = None
    database: str | None = None            # the database the DSN connected to
    user: str | None = None                # the role diagnose connected as
    own_pid: int | None = None
    collected_at: datetime | None = None   # the server's clock when the rows were read
    settings: Mapping[str, str] = field(default_factory=dict)   # name -> value with unit ("30s", "0")
    sessions: tuple[Session, ...] = ()
    chains: tuple[BlockingChain, ...] = ()
    locks: tuple[HeldLock, ...] = ()
    connections: Connections | None = None
    statements: tuple[StatementStat, ...] = ()
    statements_note: str | None = None     # why pg_stat_statements could not be read, when it could not
    tables: tuple[TableScan, ...] = ()
    suggestions: tuple[IndexSuggestion, ...] = ()
    upstream: str | None = None            # the application name sessions were matched against
    notes: tuple[str, ...] = ()            # what could not be seen; sessions noted but not counted
    # Set when the sessions themselves could not be read: the checks that need them are not run, so that
    # no row read off nothing ("0 of 100 connections in use") counts against the database.
    no_data: str | None = None

    @property
    def relevant_sessions(self) -> tuple[Session, ...]:
        return tuple(s for s in self.sessions if s.relevant)

    @property
    def hidden_count(self) -> int:
        return sum(1 for s in self.sessions if s.hidden)

    def suggestion_for(self, table: str) -> IndexSuggestion | None:
        for sug in self.suggestions:
            if sug.table == table or sug.table.endswith("." + table):
                return sug
        return None


def fmt_age(seconds: float | None) -> str:
    """"7m02s", "42s", "3.5s", "4ms", "1h05m": how long, as a person reads it."""
    if seconds is None:
        return "?"
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
