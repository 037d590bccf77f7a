"""End to end: `diagnose run --log LOG --pg-dsn DSN` against a real PostgreSQL, as a user runs it.

A real lock chain (one session idle in transaction holding a row of users, others queued behind it)
must rank `database` first, name the blocking pid, its query and its transaction's age, and print the
command that would end it. A database that refuses, is down, or never answers leaves `database`
unknown with the reason, and the run still completes.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
from servers.postgres import APP, AUTH_DB, ROLE_PASSWORDS, Scene, free_port, wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UPDATE = "UPDATE users SET last_login = now() WHERE id = 2"


def seed_log(path: Path) -> Path:
    """The seed's timeout line, a few times over the last minutes."""
    now = datetime.now(timezone.utc)
    lines = [json.dumps({"timestamp": (now - timedelta(seconds=20 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "level": "ERROR", "message": "request failed: upstream response timeout",
                         "service": "frontend-api", "upstream_service": APP, "duration_ms": 15000,
                         "timeout_ms": 10000}) for i in range(6, 0, -1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(log: Path, dsn: str, timeout: float) -> tuple[dict[str, Any], str]:
    # A hang guard, far above the budget: a run that never ends fails here instead of stalling CI.
    p = subprocess.run([sys.executable, "-m", "diagnose", "run", "--log", str(log), "--pg-dsn", dsn,
                        "--format", "json", "--timeout", str(timeout)],
                       capture_output=True, text=True, cwd=REPO, timeout=timeout * 4 + 60)
    assert p.returncode == 0, (p.returncode, p.stderr[-800:])
    return json.loads(p.stdout), p.stdout + p.stderr


def cause(report: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in report["causes"] if c["id"] == cid)


@pytest.fixture
def blocker(pg_scene: Scene) -> Iterator[psycopg.Connection]:
    """Idle in transaction holding a row of users, three sessions of the upstream queued behind it."""
    b = pg_scene.connect()
    waiters: list[psycopg.Connection] = []
    try:
        b.execute(UPDATE)
        for _ in range(3):
            c = pg_scene.connect(autocommit=True)
            c.pgconn.send_query(UPDATE.encode())
            waiters.append(c)
        with pg_scene.admin() as admin:
            def waited() -> bool:
                admin.execute("SELECT pg_stat_clear_snapshot()")
                row = admin.execute(
                    "SELECT count(*), min(extract(epoch FROM clock_timestamp() - query_start)) "
                    "FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [AUTH_DB]).fetchone()
                # The runbook counts a chain once its waiters have waited a second.
                return bool(row and row[0] >= 3 and float(row[1]) >= 1.5)
            wait_until(waited, "three sessions waiting on the row lock for 1.5 s")
        yield b
    finally:
        b.rollback()
        b.close()
        for c in waiters:
            c.close()


def test_run_with_a_real_lock_chain_ranks_database_first_and_names_the_blocker(
        pg_scene: Scene, blocker: psycopg.Connection, tmp_path: Path) -> None:
    pid = blocker.info.backend_pid
    report, text = run(seed_log(tmp_path / "frontend.log"), pg_scene.dsn("dg_monitor"), timeout=10)
    top = report["causes"][0]
    assert top["id"] == "database", [(c["id"], c["confidence"]) for c in report["causes"]]
    evidence = " | ".join(e["summary"] for e in top["evidence"])
    assert f"pid {pid}" in evidence and UPDATE in evidence and "transaction open" in evidence
    commands = [cmd for fix in top["fixes"] for cmd in fix["commands"]]
    assert any(f"pg_terminate_backend({pid})" in cmd for cmd in commands), commands
    assert ROLE_PASSWORDS["dg_monitor"] not in text
    # The run only suggested it: the blocker is still there, its transaction open.
    assert blocker.execute("SELECT txid_current_if_assigned() IS NOT NULL").fetchone() == (True,)


@contextmanager
def fault_port(fault: str, scene: Scene) -> Iterator[int]:
    """The port to point --pg-dsn at: the real server (for a wrong password), nothing, or a silent listener."""
    if fault == "never-answers":
        # The kernel completes the handshake for a listening socket nobody accepts; nothing ever answers.
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen(8)
            yield sock.getsockname()[1]
    else:
        yield scene.server.port if fault == "wrong-password" else free_port()


@pytest.mark.parametrize("fault", ["wrong-password", "server-down", "never-answers"])
def test_a_database_that_cannot_be_read_leaves_database_unknown_with_the_reason(
        pg_scene: Scene, fault: str, tmp_path: Path) -> None:
    secret = "Fault-pw-41x"
    with fault_port(fault, pg_scene) as port:
        dsn = f"host=127.0.0.1 port={port} user=dg_monitor dbname={AUTH_DB} password={secret}"
        report, text = run(seed_log(tmp_path / "frontend.log"), dsn, timeout=3)
    db = cause(report, "database")
    assert db["verdict"] == "unknown"
    reason = {"wrong-password": "password authentication failed", "server-down": "refused",
              "never-answers": "no answer"}[fault]
    assert reason in json.dumps(report).lower()
    assert secret not in text
