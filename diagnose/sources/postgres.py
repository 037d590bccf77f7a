"""Live PostgreSQL evidence for the `database` cause, read with psycopg 3 and kept as JSON rows.

Harmless on a sick database: one connection, a connect timeout taken from the deadline, a read-only
transaction, short statement and lock timeouts, application_name=diagnose, its own session left out of
every query. Nothing here cancels, terminates or changes anything; each query runs in its own savepoint
so that one permission error leaves the others readable, and the error is kept in that query's file.

Files written (under <bundle>/postgres/):
    server.json                  version, current database and role, role memberships, settings, extensions
    activity.json locks.json statements.json tables.json
                                 {"sql", "columns", "rows", "error", "note", "server_version"} each
The password never leaves this module: it is not in any file, and it is scrubbed from every message.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import ipaddress
import json
import os
import re
import time
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import SourceError
from ..model.text import single_line
from .base import Option, RawFiles, SourceOptions, Target

if TYPE_CHECKING:
    import psycopg

NAME = "postgres"
# Client libraries the engine imports before the sources start (see engine.gather._preload).
IMPORTS = ("psycopg",)
OPTIONS = (Option("pg-dsn", "The upstream's PostgreSQL (libpq DSN or URI; PG* variables also work)."),)
APPLICATION_NAME = "diagnose"
# Marks our own statements so that they can be left out of pg_stat_statements.
TAG = "/* diagnose */ "

# Settings that matter for the diagnosis; reset_val is read so that our own SETs do not show.
SETTINGS = ("statement_timeout", "idle_in_transaction_session_timeout", "lock_timeout", "idle_session_timeout",
            "max_connections", "superuser_reserved_connections", "reserved_connections", "deadlock_timeout",
            "log_lock_waits", "track_activity_query_size", "shared_preload_libraries", "track_counts")

SERVER_SQL = TAG + """SELECT version() AS version, current_setting('server_version') AS server_version,
  current_setting('server_version_num')::int AS server_version_num, current_database() AS database,
  current_user AS "user", pg_backend_pid() AS pid, clock_timestamp() AS now,
  current_setting('transaction_read_only') AS read_only, current_setting('statement_timeout') AS own_statement_timeout,
  pg_is_in_recovery() AS in_recovery,
  (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
  pg_has_role(current_user, 'pg_monitor', 'USAGE') AS pg_monitor,
  pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS pg_read_all_stats"""

SETTINGS_SQL = TAG + "SELECT name, reset_val, unit, source FROM pg_settings WHERE name = ANY(%s)"
EXTENSIONS_SQL = TAG + ("SELECT e.extname, e.extversion, n.nspname FROM pg_extension e "
                        "JOIN pg_namespace n ON n.oid = e.extnamespace")

# pg_blocking_pids takes the lock manager's locks briefly, so it is asked only of sessions waiting on one.
ACTIVITY_SQL = TAG + """SELECT a.pid, a.usename, a.application_name, a.datname, a.client_addr::text AS client_addr,
  a.backend_type, a.state, a.wait_event_type, a.wait_event, a.query,
  a.backend_start, a.xact_start, a.query_start, a.state_change,
  EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start)::float8 AS xact_age_s,
  EXTRACT(EPOCH FROM clock_timestamp() - a.query_start)::float8 AS query_age_s,
  EXTRACT(EPOCH FROM clock_timestamp() - a.state_change)::float8 AS state_age_s,
  CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) ELSE '{}'::int[] END AS blocked_by
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid()
ORDER BY a.xact_start NULLS LAST, a.pid
LIMIT 5000"""

# relation::regclass reads the catalog only; it takes no lock on the table.
LOCKS_SQL = TAG + """SELECT l.pid, l.locktype, l.mode, l.granted,
  CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation,
  l.transactionid::text AS transactionid,
  CASE WHEN l.locktype = 'tuple' THEN '(' || l.page || ',' || l.tuple || ')' END AS tuple,
  c.relkind::text AS relkind
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
WHERE l.pid IS NOT NULL AND l.pid <> pg_backend_pid() AND l.locktype <> 'virtualxid'
ORDER BY l.granted, l.pid
LIMIT 5000"""

# relpages rather than pg_relation_size(): the latter opens the table and would queue behind an
# exclusive lock.
TABLES_SQL = TAG + """SELECT t.schemaname, t.relname, t.seq_scan, t.seq_tup_read, t.idx_scan, t.n_live_tup,
  c.relpages::bigint * current_setting('block_size')::bigint AS size_bytes,
  ARRAY(SELECT a.attname::text FROM pg_attribute a
        WHERE a.attrelid = t.relid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
  ARRAY(SELECT a.attname::text FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = t.relid) AS indexed_first
FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
WHERE t.seq_scan > 0
ORDER BY t.seq_tup_read DESC
LIMIT 20"""

_STATEMENTS_SQL = TAG + """WITH s AS (
  SELECT s.queryid, s.query, s.calls, s.{total}::float8 AS total_ms, s.{mean}::float8 AS mean_ms, s.rows,
         d.datname, r.rolname
  FROM {schema}.pg_stat_statements s
  LEFT JOIN pg_database d ON d.oid = s.dbid LEFT JOIN pg_roles r ON r.oid = s.userid
  WHERE s.calls > 0 AND s.query NOT LIKE '/* diagnose */%'
    AND s.query !~* '^\\s*(BEGIN|START TRANSACTION|SAVEPOINT|RELEASE|SET|SHOW|DISCARD|DEALLOCATE)\\y'
)
(SELECT * FROM s ORDER BY mean_ms DESC LIMIT 15) UNION (SELECT * FROM s ORDER BY total_ms DESC LIMIT 15)
ORDER BY mean_ms DESC"""


def statements_sql(version_num: int, schema: str) -> str:
    """pg_stat_statements renamed total_time/mean_time to total_exec_time/mean_exec_time in 13."""
    exec_ = "_exec" if version_num >= 130000 else ""
    return _STATEMENTS_SQL.format(total=f"total{exec_}_time", mean=f"mean{exec_}_time", schema=_ident(schema))


def skip_reason(opts: SourceOptions) -> str | None:
    if opts.pg_dsn or any(os.environ.get(v) for v in ("PGHOST", "PGDATABASE", "PGSERVICE")):
        return None
    return "no --pg-dsn given (nor PG* variables)"


def collect(opts: SourceOptions, target: Target, deadline: float) -> RawFiles:
    import psycopg

    dsn = opts.pg_dsn or ""
    secrets = dsn_secrets(dsn)
    where = describe_dsn(dsn)
    remaining = deadline - time.monotonic()
    if remaining < 1.0:
        raise SourceError(f"{where}: no time left in the budget to connect")
    try:
        conn = psycopg.connect(dsn, connect_timeout=connect_timeout(dsn, remaining),
                               application_name=APPLICATION_NAME, autocommit=True)
    except psycopg.errors.ConnectionTimeout:
        raise SourceError(f"{where}: no answer within {connect_timeout(dsn, remaining)}s "
                          "(connect timeout)") from None
    except psycopg.Error as exc:
        raise SourceError(scrub(f"{where}: {one_line(exc)}", secrets)) from None
    try:
        with conn:
            return _read_all(conn, deadline)
    except psycopg.Error as exc:
        raise SourceError(scrub(f"{where}: {one_line(exc)}", secrets)) from None


def _read_all(conn: "psycopg.Connection[Any]", deadline: float) -> RawFiles:
    remaining_ms = (deadline - time.monotonic()) * 1000
    # Five queries share what is left; each gets at most 3 s, and a blocked lock request gives up fast.
    stmt_ms = int(min(3000, max(100, remaining_ms / 6)))
    for sql in (f"SET statement_timeout = {stmt_ms}", "SET lock_timeout = 500",
                "SET idle_in_transaction_session_timeout = 10000", "SET default_transaction_read_only = on"):
        conn.execute(TAG + sql)
    conn.read_only = True
    files: RawFiles = {}
    with conn.transaction():
        server = _server_doc(conn)
        version = server.get("server_version")
        version_num = int(server.get("server_version_num") or 0)
        stmt_note, stmt_sql = _statements_plan(server)
        queries = [("activity.json", ACTIVITY_SQL), ("locks.json", LOCKS_SQL), ("tables.json", TABLES_SQL)]
        for name, sql in queries:
            files[name] = _dump(_run(conn, sql, deadline, version))
        if stmt_sql is None:
            files["statements.json"] = _dump({"sql": None, "columns": [], "rows": [], "error": None,
                                              "note": stmt_note, "server_version": version})
        else:
            files["statements.json"] = _dump(_run(conn, stmt_sql, deadline, version))
        server["server_version_num"] = version_num
        files["server.json"] = _dump(server)
    return files


def _server_doc(conn: "psycopg.Connection[Any]") -> dict[str, Any]:
    cur = conn.execute(SERVER_SQL)
    cols = [d.name for d in cur.description or ()]
    row = cur.fetchone() or ()
    doc: dict[str, Any] = {k: jsonable(v) for k, v in zip(cols, row, strict=False)}
    doc["roles"] = {k: doc.pop(k) for k in ("superuser", "pg_monitor", "pg_read_all_stats")}
    doc["read_only"] = doc.get("read_only") == "on"
    info = conn.info
    doc["host"], doc["port"] = info.host, info.port
    doc["settings"] = {r[0]: {"value": r[1], "unit": r[2], "source": r[3]}
                       for r in conn.execute(SETTINGS_SQL, [list(SETTINGS)]).fetchall()}
    doc["extensions"] = {r[0]: {"version": r[1], "schema": r[2]} for r in conn.execute(EXTENSIONS_SQL).fetchall()}
    return doc


def _statements_plan(server: dict[str, Any]) -> tuple[str | None, str | None]:
    """(note, sql): the query to run, or a plain note saying why pg_stat_statements cannot be read."""
    ext = server["extensions"].get("pg_stat_statements")
    if ext is None:
        return (f"pg_stat_statements is not installed in database {server.get('database')} "
                "(CREATE EXTENSION pg_stat_statements; it also needs shared_preload_libraries)"), None
    return None, statements_sql(int(server.get("server_version_num") or 0), ext["schema"])


def _run(conn: "psycopg.Connection[Any]", sql: str, deadline: float, version: Any) -> dict[str, Any]:
    """One query in its own savepoint; a server-side refusal is recorded in the file, not raised."""
    import psycopg

    doc: dict[str, Any] = {"sql": sql.removeprefix(TAG), "columns": [], "rows": [], "error": None,
                           "note": None, "server_version": version}
    if time.monotonic() >= deadline:
        doc["error"] = "not run: the time budget (--timeout) ran out"
        return doc
    try:
        with conn.transaction():
            cur = conn.execute(sql)
            doc["columns"] = [d.name for d in cur.description or ()]
            doc["rows"] = [[jsonable(v) for v in row] for row in cur.fetchall()]
    except psycopg.Error as exc:
        if conn.broken:             # the connection itself is gone: the whole source failed
            raise
        doc["error"] = one_line(exc)
    return doc


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"


def jsonable(value: Any) -> Any:
    """Rows round-trip via JSON: timestamps as ISO strings, intervals as seconds, numerics as floats."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network,
                          ipaddress.IPv6Network, ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---- the DSN: its parts for messages, its secrets for scrubbing -------------------------------------

def _dsn_params(dsn: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    except Exception:           # an unparsable DSN is reported by connect(); here it only names nothing
        return {}


def describe_dsn(dsn: str) -> str:
    """`host:port/db as user`, from the DSN or the PG* variables; never the password."""
    p = _dsn_params(dsn)
    host = p.get("host") or p.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
    port = p.get("port") or os.environ.get("PGPORT") or "5432"
    db = p.get("dbname") or os.environ.get("PGDATABASE") or ""
    user = p.get("user") or os.environ.get("PGUSER") or ""
    out = f"{host}:{port}" + (f"/{db}" if db else "")
    return out + (f" as {user}" if user else "")


_PW_KV = re.compile(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.I)
_PW_URI = re.compile(r"^[a-z0-9+.-]+://[^/@:?]*:([^@/?]*)@", re.I)
_PW_QUERY = re.compile(r"[?&]password=([^&#]*)", re.I)


def dsn_secrets(dsn: str) -> tuple[str, ...]:
    """Every form the password may take in messages: parsed, raw, quoted, percent-encoded."""
    from urllib.parse import unquote

    found: set[str] = set()
    pw = _dsn_params(dsn).get("password")
    if pw:
        found.add(pw)
    for rx in (_PW_KV, _PW_URI, _PW_QUERY):
        for m in rx.finditer(dsn):
            raw = m.group(1)
            found.update({raw, raw.strip("'"), unquote(raw)})
    if os.environ.get("PGPASSWORD"):
        found.add(os.environ["PGPASSWORD"])
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def scrub(message: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, "***")
    return message


def one_line(exc: BaseException) -> str:
    return single_line(exc, 403, mark="...") or type(exc).__name__


def connect_timeout(dsn: str, remaining: float) -> int:
    """libpq's connect_timeout is per host and at least 2 s. Connecting may take 60% of what is left (the
    queries need the rest), shared among the hosts the DSN lists."""
    hosts = (_dsn_params(dsn).get("host") or os.environ.get("PGHOST") or "").count(",") + 1
    return max(2, int(remaining * 0.6 / hosts))
