"""Against a real PostgreSQL: real sessions make the conditions, the source reads them, the check speaks.

The server is a throwaway cluster the tests start (tests/servers/postgres.py) or DIAGNOSE_TEST_PG_DSN.
"""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager
from typing import Iterator

import psycopg
import pytest
from servers.postgres import APP, AUTH_DB, OTHER_DB, ROLE_PASSWORDS, Scene, flush_stats, free_port, wait_until

from diagnose.checks.database import PARAMS, postgres
from diagnose.errors import SourceError
from diagnose.model.database import DatabaseEvidence
from diagnose.model.evidence import Evidence
from diagnose.model.incident import Incident, Window
from diagnose.parsers.postgres import load
from diagnose.sources import postgres as source
from diagnose.sources.base import RawFiles, SourceOptions, Target

pytestmark = pytest.mark.integration

INCIDENT = Incident(service="frontend-api", upstream=APP, events=12, first_seen=None, last_seen=None, timeout_ms=10000)
TARGET = Target(INCIDENT, Window.around(INCIDENT))
UPDATE = "UPDATE users SET last_login = now() WHERE id = 1"


def collect(dsn: str | None, budget: float = 15.0) -> RawFiles:
    return source.collect(SourceOptions(pg_dsn=dsn), TARGET, time.monotonic() + budget)


def diagnose_db(scene: Scene, role: str = "dg_monitor", **params: object) -> tuple[DatabaseEvidence, list]:
    ev = load(collect(scene.dsn(role)), TARGET)
    return ev, postgres(Evidence(INCIDENT, TARGET.window, postgres=ev), {**PARAMS, **params})


def lock_waiters(admin: psycopg.Connection) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                        [AUTH_DB]).fetchone()
    return int(row[0]) if row else 0


@contextmanager
def lock_chain(scene: Scene, waiters: int = 2) -> Iterator[psycopg.Connection]:
    """One session idle in transaction holding a row lock of users; `waiters` sessions queue behind it."""
    blocker = scene.connect()
    others: list[psycopg.Connection] = []
    try:
        blocker.execute(UPDATE)                       # transaction left open: idle in transaction
        for _ in range(waiters):
            c = scene.connect(autocommit=True)
            c.pgconn.send_query(UPDATE.encode())      # sent, not awaited: it waits on the blocker's row lock
            others.append(c)
        with scene.admin() as admin:
            wait_until(lambda: lock_waiters(admin) >= waiters, f"{waiters} sessions waiting on a lock")
        yield blocker
    finally:
        blocker.rollback()
        blocker.close()
        for c in others:
            c.close()


@contextmanager
def running(scene: Scene, sql: str, *, dbname: str = AUTH_DB, app: str = APP) -> Iterator[int]:
    """A session busy with `sql` until the block ends (then the test cancels its own query)."""
    c = scene.connect(dbname=dbname, app=app, autocommit=True)
    pid = c.info.backend_pid
    try:
        c.pgconn.send_query(sql.encode())
        with scene.admin() as admin:
            def active() -> bool:
                admin.execute("SELECT pg_stat_clear_snapshot()")
                row = admin.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
                return bool(row and row[0] == "active")
            wait_until(active, f"pid {pid} running {sql}")
        yield pid
    finally:
        c.cancel_safe()
        c.close()


def test_lock_chain_names_the_blocker_its_query_and_how_long_its_transaction_is_open(pg_scene: Scene) -> None:
    with lock_chain(pg_scene, waiters=3) as blocker:
        pid = blocker.info.backend_pid
        ev, findings = diagnose_db(pg_scene, lock_wait_s=0.0)
        top = findings[0]
        assert top.direction == "for" and top.facts["pid"] == pid
        assert top.facts["blocker_query"] == UPDATE
        assert top.facts["blocker_user"] == "dg_auth" and top.facts["blocker_app"] == APP
        assert top.facts["blocker_state"] == "idle in transaction" and top.facts["db"] == AUTH_DB
        assert isinstance(top.facts["xact_age_s"], int) and top.facts["xact_age_s"] >= 0
        assert top.facts["terminate_sql"] == f"SELECT pg_terminate_backend({pid});"
        assert top.facts["waiters"] == 3 and "transaction open" in top.summary
        # Harmless: the blocker's transaction is still open and its lock still held after the diagnosis.
        assert blocker.execute("SELECT txid_current_if_assigned() IS NOT NULL").fetchone() == (True,)
        with pg_scene.admin() as admin:
            assert lock_waiters(admin) == 3


def test_its_own_session_is_left_out_and_its_transaction_is_read_only(pg_scene: Scene) -> None:
    import json

    files = collect(pg_scene.dsn("dg_monitor"))
    server = json.loads(files["server.json"])
    ev = load(files, TARGET)
    assert server["read_only"] is True
    assert server["pid"] not in {s.pid for s in ev.sessions}
    assert "diagnose" not in {s.application for s in ev.sessions}
    # The settings reported are the server's, not the short timeouts diagnose set for itself.
    assert ev.settings["statement_timeout"] == "0" and server["own_statement_timeout"] != "0"


def test_a_long_pg_sleep_of_the_upstream_is_a_long_active_query(pg_scene: Scene) -> None:
    with running(pg_scene, "SELECT pg_sleep(120)") as pid:
        ev, findings = diagnose_db(pg_scene, long_query_s=0.0)
    long = [f for f in findings if f.facts.get("long_query_pid") == pid]
    assert long and "pg_sleep" in long[0].summary and "Timeout:PgSleep" in long[0].summary


def test_an_analytics_query_in_another_database_is_noted_but_not_counted(pg_scene: Scene) -> None:
    with running(pg_scene, "SELECT pg_sleep(120)", dbname=OTHER_DB, app="Metabase") as pid:
        ev, findings = diagnose_db(pg_scene, long_query_s=0.0)
    assert not [f for f in findings if f.direction == "for"]
    assert any(f"pid {pid}" in n and "not counted" in n for n in ev.notes)


def test_connections_near_the_limit_raise_database(pg_scene: Scene) -> None:
    opened: list[psycopg.Connection] = []
    try:
        with pg_scene.admin() as admin:
            max_conn = int(admin.execute("SHOW max_connections").fetchone()[0])
            reserved = int(admin.execute("SHOW superuser_reserved_connections").fetchone()[0])
            admin.execute("SELECT pg_stat_clear_snapshot()")
            now = int(admin.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
                      .fetchone()[0])
        # Fill the usable slots but one (the admin session above has closed by now).
        for _ in range(max(0, max_conn - reserved - 1 - (now - 1))):
            opened.append(pg_scene.connect(app="user-auth-service-pool", autocommit=True))
        ev, findings = diagnose_db(pg_scene, role=None)          # superuser: it may take a reserved slot
    finally:
        for c in opened:
            c.close()
    near = [f for f in findings if "connections in use" in f.summary]
    assert near and near[0].direction == "for" and near[0].facts["max_connections"] == max_conn
    assert ev.connections is not None and ev.connections.ratio is not None and ev.connections.ratio >= 0.9


def test_a_sequential_scan_of_a_million_rows_suggests_the_index(pg_scene: Scene) -> None:
    query = "SELECT count(*) FROM events WHERE account_id = 42"
    with pg_scene.connect(autocommit=True) as c:
        before = _seq_read(c)
        for _ in range(3):
            c.execute(query)
        flush_stats(c)
        wait_until(lambda: _seq_read(c) >= before + 3 * 900_000, "scan statistics of events")
    ev, findings = diagnose_db(pg_scene, seq_read_factor=3.0)
    events = next(t for t in ev.tables if t.table == "events")
    assert events.live_rows >= 900_000 and "account_id" not in events.indexed_first
    scan = [f for f in findings if f.facts.get("table") == "events"]
    assert scan and scan[0].direction == "for"
    if pg_scene.server.stats_statements:
        assert scan[0].facts["index_sql"] == \
            "CREATE INDEX CONCURRENTLY idx_events_account_id ON public.events (account_id);"
    else:
        assert ev.statements_note and "pg_stat_statements" in ev.statements_note


def _seq_read(c: psycopg.Connection) -> int:
    c.execute("SELECT pg_stat_clear_snapshot()")
    row = c.execute("SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'events'").fetchone()
    return int(row[0]) if row else 0


def test_a_role_with_only_pg_monitor_sees_every_session(pg_scene: Scene) -> None:
    with lock_chain(pg_scene, waiters=1):
        ev, _ = diagnose_db(pg_scene, role="dg_monitor")
    assert ev.hidden_count == 0 and not [n for n in ev.notes if "could not read" in n or "hidden" in n]
    assert ev.chains and ev.chains[0].blocker.query == UPDATE


def test_a_role_without_pg_monitor_says_what_it_could_not_see(pg_scene: Scene) -> None:
    with lock_chain(pg_scene, waiters=1):
        ev, findings = diagnose_db(pg_scene, role="dg_nobody")
    assert ev.hidden_count >= 2
    assert any("hidden" in n and "pg_monitor" in n for n in ev.notes)
    assert not [f for f in findings if f.direction == "against" and "no lock waits" in f.summary]


def test_the_password_is_in_no_file_collected(pg_scene: Scene) -> None:
    password = ROLE_PASSWORDS["dg_monitor"]
    uri = (f"postgresql://dg_monitor:{password}@{pg_scene.server.host}:{pg_scene.server.port}/{AUTH_DB}")
    for dsn in (pg_scene.dsn("dg_monitor"), uri):
        files = collect(dsn)
        assert files and not [name for name, data in files.items() if password.encode() in data]


def test_pg_variables_are_honoured_without_a_dsn(pg_scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    s = pg_scene.server
    env = {"PGHOST": s.host, "PGPORT": str(s.port), "PGUSER": "dg_monitor",
           "PGPASSWORD": ROLE_PASSWORDS["dg_monitor"], "PGDATABASE": AUTH_DB}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert source.skip_reason(SourceOptions()) is None
    ev = load(collect(None), TARGET)
    assert ev.database == AUTH_DB and ev.user == "dg_monitor"


def test_a_wrong_password_is_a_one_line_error_without_the_password(pg_scene: Scene) -> None:
    wrong = "Wrong-Pa55-zq81"
    with pytest.raises(SourceError) as err:
        collect(pg_scene.server.dsn(user="dg_monitor", password=wrong, dbname=AUTH_DB))
    message = str(err.value)
    assert "password authentication failed" in message and "\n" not in message
    assert wrong not in message


def test_an_unparsable_dsn_is_an_error_without_the_password() -> None:
    with pytest.raises(SourceError) as err:
        collect("host=127.0.0.1 password=Zx9-secret-pw bogus")
    assert "Zx9-secret-pw" not in str(err.value) and "Zx9" not in str(err.value)


def test_a_server_that_is_down_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="(?i)refused"):
        collect(f"host=127.0.0.1 port={free_port()} user=x dbname=x password=Down-pw-1 sslmode=disable")


def test_a_port_that_accepts_and_never_answers_ends_at_the_connect_timeout() -> None:
    # The kernel completes the TCP handshake for a listening socket nobody accepts: connect succeeds,
    # the startup packet is never answered. libpq's connect_timeout (from the deadline) must end it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        port = sock.getsockname()[1]
        with pytest.raises(SourceError, match="no answer within 2s"):
            collect(f"host=127.0.0.1 port={port} user=x dbname=x password=Silent-pw-2", budget=2.5)



def test_an_idle_transaction_holding_a_write_lock_is_reported_with_the_command_to_end_it(pg_scene: Scene) -> None:
    idle = pg_scene.connect()
    try:
        idle.execute("UPDATE users SET last_login = now() WHERE id = 3")     # nobody waits on this one
        pid = idle.info.backend_pid
        ev, findings = diagnose_db(pg_scene, idle_xact_s=0.0)
    finally:
        idle.rollback()
        idle.close()
    held = [f for f in findings if f.facts.get("idle_pid") == pid]
    assert held and held[0].direction == "for" and "users" in held[0].summary
    assert held[0].facts["terminate_sql"] == f"SELECT pg_terminate_backend({pid});"
    # Its role gets the idle-transaction timeout fix (blocker_user: the role whose sessions hold locks).
    assert held[0].facts["blocker_user"] == "dg_auth"
