"""A throwaway PostgreSQL cluster for integration tests, or the server DIAGNOSE_TEST_PG_DSN names.

The cluster lives in a temp dir on a free port, runs as the `postgres` user when the tests run as root
(initdb refuses root), has a small max_connections so that "near the limit" can be reached with a
handful of sessions, loads pg_stat_statements when the server ships it, and is stopped at the end of
the test session. Password auth (scram) over TCP, so that a wrong password is a real refusal.

Use: `from servers.postgres import pg_server` in a conftest.py (tests/ is on pythonpath), then ask for `pg_server`.
With DIAGNOSE_TEST_PG_DSN set (a superuser, or a role that may CREATE ROLE and CREATE DATABASE), that
server is used instead and nothing is started.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Iterator

import pytest
from servers.ports import free_port

MAX_CONNECTIONS = 20
RESERVED = 3
SUPERUSER_PASSWORD = "pg-super-s3cret"


@dataclass
class PgServer:
    host: str
    port: int
    user: str = "postgres"
    password: str = SUPERUSER_PASSWORD
    dbname: str = "postgres"
    data_dir: str | None = None          # None when the server is not ours (DIAGNOSE_TEST_PG_DSN)
    bin_dir: str | None = None
    run_as: str | None = None
    stats_statements: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def dsn(self, *, user: str | None = None, password: str | None = None, dbname: str | None = None,
            **params: str) -> str:
        """A libpq key=value DSN; values quoted so that any password works."""
        parts = {"host": self.host, "port": str(self.port), "user": user or self.user,
                 "password": self.password if password is None else password,
                 "dbname": dbname or self.dbname, **self.extra, **params}
        return " ".join(f"{k}='{_quote(v)}'" for k, v in parts.items() if v != "")

    def stop(self) -> None:
        if self.data_dir is None or self.bin_dir is None:
            return
        _run_pg([os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data_dir, "-m", "immediate", "-w", "stop"],
                self.run_as, check=False)
        shutil.rmtree(os.path.dirname(self.data_dir), ignore_errors=True)


def _quote(v: str) -> str:
    return v.replace("\\", "\\\\").replace("'", "\\'")


def find_bin_dir() -> str | None:
    """DIAGNOSE_PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian), else initdb on PATH."""
    if os.environ.get("DIAGNOSE_PG_BIN"):
        return os.environ["DIAGNOSE_PG_BIN"]
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _run_pg(cmd: list[str], run_as: str | None, check: bool = True) -> subprocess.CompletedProcess[str]:
    if run_as:
        cmd = ["runuser", "-u", run_as, "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)


def start_cluster() -> PgServer:
    """initdb + pg_ctl start in a fresh temp dir; raises RuntimeError with the reason when it cannot."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries (apt-get install postgresql-15, or set DIAGNOSE_PG_BIN)")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and there is no `postgres` user to run the server as") from None
        run_as = "postgres"
    root = tempfile.mkdtemp(prefix="diagnose-pg-")
    data_dir = os.path.join(root, "data")
    pwfile = os.path.join(root, "pw")
    with open(pwfile, "w") as f:
        f.write(SUPERUSER_PASSWORD + "\n")
    if run_as:
        shutil.chown(root, run_as)
        shutil.chown(pwfile, run_as)
    proc = _run_pg([os.path.join(bin_dir, "initdb"), "-D", data_dir, "-U", "postgres", "--pwfile", pwfile,
                    "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"], run_as,
                   check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"initdb failed: {proc.stderr.strip()[-500:]}")
    lib_dir = _pkglibdir(bin_dir)
    stats = bool(lib_dir and os.path.exists(os.path.join(lib_dir, "pg_stat_statements.so")))
    port = free_port()
    conf = {
        "listen_addresses": "'127.0.0.1'", "port": str(port), "unix_socket_directories": f"'{root}'",
        "max_connections": str(MAX_CONNECTIONS), "superuser_reserved_connections": str(RESERVED),
        "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "shared_buffers": "64MB",
        "log_min_messages": "warning", "logging_collector": "off",
    }
    if stats:
        conf["shared_preload_libraries"] = "'pg_stat_statements'"
    with open(os.path.join(data_dir, "postgresql.auto.conf"), "a") as f:
        f.writelines(f"{k} = {v}\n" for k, v in conf.items())
    proc = _run_pg([os.path.join(bin_dir, "pg_ctl"), "-D", data_dir, "-l", os.path.join(root, "log"), "-w",
                    "-t", "60", "start"], run_as, check=False)
    if proc.returncode != 0:
        log = open(os.path.join(root, "log")).read()[-800:] if os.path.exists(os.path.join(root, "log")) else ""
        raise RuntimeError(f"pg_ctl start failed: {proc.stderr.strip()[-300:]} {log}")
    return PgServer(host="127.0.0.1", port=port, data_dir=data_dir, bin_dir=bin_dir, run_as=run_as,
                    stats_statements=stats)


def _pkglibdir(bin_dir: str) -> str | None:
    pg_config = os.path.join(bin_dir, "pg_config")
    if os.path.exists(pg_config):
        out = subprocess.run([pg_config, "--pkglibdir"], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.strip()
    guess = os.path.join(os.path.dirname(bin_dir), "lib")
    return guess if os.path.isdir(guess) else None


def server_from_env(dsn: str) -> PgServer:
    from psycopg.conninfo import conninfo_to_dict

    p = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    known = ("host", "port", "user", "password", "dbname")
    return PgServer(host=p.get("host", "localhost"), port=int(p.get("port", "5432")),
                    user=p.get("user", "postgres"), password=p.get("password", ""),
                    dbname=p.get("dbname", "postgres"), extra={k: v for k, v in p.items() if k not in known},
                    stats_statements=True)


def unavailable(reason: str) -> None:
    """A missing server fails in CI and skips elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL test server unavailable: {reason}")
    pytest.skip(f"PostgreSQL test server unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    env_dsn = os.environ.get("DIAGNOSE_TEST_PG_DSN")
    if env_dsn:
        yield server_from_env(env_dsn)
        return
    try:
        server = start_cluster()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        unavailable(str(exc))
        return
    try:
        yield server
    finally:
        server.stop()


# ---- a scene on the server: the upstream's database, roles, tables and real sessions ---------------

AUTH_DB, OTHER_DB = "dg_auth", "dg_analytics"
APP = "user-auth-service"
ROLE_PASSWORDS = {"dg_auth": "auth-Pw-7781", "dg_monitor": "mon-Pw-5512", "dg_nobody": "nob-Pw-3390"}
EVENTS_ROWS = 1_000_000


@dataclass
class Scene:
    server: PgServer

    def dsn(self, role: str | None = None, *, dbname: str = AUTH_DB, app: str | None = None, **params: str) -> str:
        """A DSN for one of the scene's roles (None: the server's superuser)."""
        extra = {"application_name": app} if app else {}
        if role is None:
            return self.server.dsn(dbname=dbname, **extra, **params)
        return self.server.dsn(user=role, password=ROLE_PASSWORDS[role], dbname=dbname, **extra, **params)

    def connect(self, role: str | None = "dg_auth", *, dbname: str = AUTH_DB, app: str | None = APP,
                autocommit: bool = False):  # noqa: ANN201 - a psycopg connection
        import psycopg

        return psycopg.connect(self.dsn(role, dbname=dbname, app=app), autocommit=autocommit, connect_timeout=10)

    def admin(self, dbname: str = AUTH_DB):  # noqa: ANN201
        return self.connect(None, dbname=dbname, app="diagnose-tests", autocommit=True)


def wait_until(predicate, what: str, limit_s: float = 60.0) -> None:  # noqa: ANN001
    """Setup waits for the server to reach a state (a lock wait, flushed statistics); not an assertion."""
    import time

    end = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"test setup: {what} was not reached in {limit_s:g} s")
        time.sleep(0.05)


def prepare_scene(server: PgServer) -> Scene:
    """Roles, two databases, users (1,000 rows) and events (1,000,000 rows, account_id not indexed)."""
    scene = Scene(server)
    with scene.admin("postgres" if server.data_dir else server.dbname) as c:
        for role, pw in ROLE_PASSWORDS.items():
            if not c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                c.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{pw}'")
            else:
                c.execute(f"ALTER ROLE {role} LOGIN PASSWORD '{pw}'")
        c.execute("GRANT pg_monitor TO dg_monitor")
        for db in (AUTH_DB, OTHER_DB):
            if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone():
                c.execute(f"CREATE DATABASE {db} OWNER dg_auth")
    with scene.admin() as c:
        if server.stats_statements:
            try:
                c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            except Exception:  # noqa: BLE001 - a server without the library: the tests see the note instead
                server.stats_statements = False
    with scene.connect("dg_auth", app="diagnose-tests", autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS users, events")
        c.execute("CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE, last_login timestamptz)")
        c.execute("INSERT INTO users SELECT g, 'user' || g || '@example.com', now() FROM generate_series(1, 1000) g")
        c.execute("CREATE TABLE events (id bigserial PRIMARY KEY, account_id int, payload text)")
        c.execute(f"INSERT INTO events (account_id, payload) SELECT g % 5000, 'login' "
                  f"FROM generate_series(1, {EVENTS_ROWS}) g")
        c.execute("ANALYZE users, events")
        flush_stats(c)
    with scene.admin() as c:
        wait_until(lambda: _live_rows(c, "events") >= EVENTS_ROWS * 0.9, "row statistics of events")
        if server.stats_statements:         # the set-up's own bulk insert is not the upstream's slow query
            c.execute("SELECT pg_stat_statements_reset()")
    return scene


def flush_stats(conn) -> None:  # noqa: ANN001
    """Statistics reach pg_stat_* when a backend flushes them; 15+ can be told to at the next idle."""
    if conn.info.server_version >= 150000:
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")


def _live_rows(conn, table: str) -> int:  # noqa: ANN001
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute("SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = %s", [table]).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture(scope="session")
def pg_scene(pg_server: PgServer) -> Scene:
    return prepare_scene(pg_server)
