"""Parser and check on recorded rows: the fixture bundles' postgres/ folders and hand-made variants."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import json
from pathlib import Path

import pytest

from diagnose.checks.database import PARAMS, postgres
from diagnose.errors import EvidenceError
from diagnose.model.evidence import Evidence
from diagnose.model.incident import Incident, Window
from diagnose.parsers.postgres import load, suggest_indexes, where_columns
from diagnose.sources import postgres as source
from diagnose.sources.base import SourceOptions, Target
from fixtures.build import postgres as writer
from fixtures.build.scenario import CALLER, LAST, ONSET, UPSTREAM

INCIDENT = Incident(service=CALLER, upstream=UPSTREAM, events=40, first_seen=ONSET, last_seen=LAST, timeout_ms=10000)
TARGET = Target(INCIDENT, Window.around(INCIDENT, now=LAST))


def recorded(scenario: str, tmp_path: Path) -> dict[str, bytes]:
    writer.write(scenario, tmp_path)
    return {p.name: p.read_bytes() for p in tmp_path.iterdir()}


def run_check(files: dict[str, bytes], **params: object):
    ev = load(files, TARGET)
    return ev, postgres(Evidence(INCIDENT, TARGET.window, postgres=ev), {**PARAMS, **params})


def edit(files: dict[str, bytes], name: str, change) -> dict[str, bytes]:
    doc = json.loads(files[name])
    change(doc)
    return {**files, name: json.dumps(doc).encode()}


def test_database_scenario_names_the_blocker_its_query_and_transaction_age(tmp_path: Path) -> None:
    ev, findings = run_check(recorded("database", tmp_path))
    top = findings[0]
    assert top.direction == "for" and top.cause == "database"
    assert top.facts["pid"] == 4242
    assert top.facts["blocker_query"] == "UPDATE users SET last_login = now() WHERE id = $1"
    assert top.facts["blocker_user"] == "auth" and top.facts["blocker_app"] == "user-auth-service"
    assert top.facts["xact_age_s"] == 420 and top.facts["db"] == "auth"
    assert top.facts["terminate_sql"] == "SELECT pg_terminate_backend(4242);"
    assert "pid 4242" in top.summary and "7m00s" in top.summary and "40 sessions wait" in top.summary


def test_waiters_behind_a_waiter_belong_to_the_root_blockers_chain(tmp_path: Path) -> None:
    ev = load(recorded("database", tmp_path), TARGET)
    assert len(ev.chains) == 1
    chain = ev.chains[0]
    assert chain.blocker.pid == 4242 and chain.direct == (5001,)
    assert len(chain.waiters) == 40 and chain.locked_relations == ("users",)


def test_connections_near_max_count_against_the_usable_slots(tmp_path: Path) -> None:
    ev, findings = run_check(recorded("database", tmp_path))
    assert ev.connections is not None
    assert (ev.connections.total, ev.connections.max_connections, ev.connections.reserved) == (95, 100, 3)
    conn = [f for f in findings if "connections in use" in f.summary]
    assert conn and conn[0].direction == "for" and "95 of 100" in conn[0].summary


def test_healthy_database_argues_against_with_no_waits_and_spare_connections(tmp_path: Path) -> None:
    ev, findings = run_check(recorded("healthy", tmp_path))
    assert findings and all(f.direction == "against" for f in findings)
    summaries = " | ".join(f.summary for f in findings)
    assert "no lock waits" in summaries and "14 of 100 connections" in summaries


def test_analytics_query_in_another_database_is_noted_not_counted(tmp_path: Path) -> None:
    ev, findings = run_check(recorded("healthy", tmp_path), long_query_s=1.0)
    assert not [f for f in findings if f.direction == "for"]
    assert any("pid 6100" in n and "analytics" in n and "not counted" in n for n in ev.notes)


def test_long_query_of_the_upstream_raises_database(tmp_path: Path) -> None:
    def long_sleep(doc: dict) -> None:
        cols = doc["columns"]
        row = list(doc["rows"][-2])           # an active session of user-auth-service
        row[cols.index("query")] = "SELECT pg_sleep(600)"
        row[cols.index("query_age_s")] = 42.0
        row[cols.index("wait_event_type")], row[cols.index("wait_event")] = "Timeout", "PgSleep"
        doc["rows"][-2] = row
    ev, findings = run_check(edit(recorded("healthy", tmp_path), "activity.json", long_sleep))
    long = [f for f in findings if "long_query_pid" in f.facts]
    assert long and long[0].facts["long_query_age_s"] == 42 and "Timeout:PgSleep" in long[0].summary
    assert not [f for f in findings if "no lock waits" in f.summary]


def test_hidden_sessions_are_said_and_not_taken_as_healthy(tmp_path: Path) -> None:
    def hide(doc: dict) -> None:
        q, st = doc["columns"].index("query"), doc["columns"].index("state")
        for row in doc["rows"][5:]:
            row[q], row[st] = "<insufficient privilege>", None
    ev, findings = run_check(edit(recorded("healthy", tmp_path), "activity.json", hide))
    assert ev.hidden_count == 14
    assert any("hidden" in n and "pg_monitor" in n for n in ev.notes)
    assert not [f for f in findings if "no lock waits" in f.summary]


def test_statements_not_installed_is_a_plain_note(tmp_path: Path) -> None:
    def absent(doc: dict) -> None:
        doc.update(sql=None, rows=[], note="pg_stat_statements is not installed in database auth")
    ev = load(edit(recorded("healthy", tmp_path), "statements.json", absent), TARGET)
    assert ev.statements == () and ev.statements_note == "pg_stat_statements is not installed in database auth"


def test_a_query_refused_by_the_server_says_what_could_not_be_seen(tmp_path: Path) -> None:
    def refused(doc: dict) -> None:
        doc.update(rows=[], error="permission denied for view pg_stat_statements")
    ev = load(edit(recorded("healthy", tmp_path), "statements.json", refused), TARGET)
    assert any(n.startswith("could not read top statements: permission denied") for n in ev.notes)


def test_malformed_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    def break_rows(doc: dict) -> None:
        doc["rows"][6] = ["not", "a", "row"]
        doc["rows"][7][0] = "pid?"
    ev = load(edit(recorded("healthy", tmp_path), "activity.json", break_rows), TARGET)
    assert "postgres/activity.json: 2 malformed rows skipped" in ev.notes
    assert len(ev.sessions) == 5 + 14 - 2


def test_a_file_that_is_not_json_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    files = {**recorded("healthy", tmp_path), "locks.json": b"{not json"}
    with pytest.raises(EvidenceError, match=r"^postgres/locks.json: not JSON"):
        load(files, TARGET)
    with pytest.raises(EvidenceError, match="activity.json: missing"):
        load({}, TARGET)


def test_index_is_suggested_for_a_filter_on_an_unindexed_column_of_a_large_scanned_table() -> None:
    from diagnose.model.database import StatementStat, TableScan

    events = TableScan(schema="public", table="events", seq_scan=12, seq_tup_read=12_000_000, idx_scan=0,
                       live_rows=1_000_000, columns=("id", "account_id", "payload"), indexed_first=("id",))
    stmt = StatementStat(query="SELECT e.payload FROM events e WHERE e.account_id = $1 ORDER BY id", calls=9,
                         mean_ms=2300.0, total_ms=20700.0)
    (sug,) = suggest_indexes([stmt], [], [events])
    assert sug.sql == "CREATE INDEX CONCURRENTLY idx_events_account_id ON public.events (account_id);"
    indexed = TableScan(**{**events.__dict__, "indexed_first": ("id", "account_id")})
    assert suggest_indexes([stmt], [], [indexed]) == ()
    assert where_columns("UPDATE users SET last_login = now() WHERE id = $1") == [("users", "id", None)]


def test_rows_round_trip_through_json() -> None:
    stamp = dt.datetime(2023, 10, 27, 10, 30, tzinfo=dt.timezone.utc)
    row = [stamp, dt.timedelta(minutes=7), decimal.Decimal("1.5"), ipaddress.ip_address("10.0.1.23"), [1, 2]]
    assert json.loads(json.dumps([source.jsonable(v) for v in row])) == \
        ["2023-10-27T10:30:00+00:00", 420.0, 1.5, "10.0.1.23", [1, 2]]


@pytest.mark.parametrize("dsn", [
    "host=db user=auth password=Hunter2-pw dbname=auth",
    "host=db user=auth password='Hunter2-pw' dbname=auth",
    "postgresql://auth:Hunter2-pw@db:5432/auth",
    "postgresql://auth:Hunter2%2Dpw@db/auth",
    "postgresql://db/auth?user=auth&password=Hunter2-pw",
])
def test_the_password_is_scrubbed_from_messages_in_every_dsn_form(dsn: str) -> None:
    message = source.scrub(f"could not use {dsn}: Hunter2-pw rejected", source.dsn_secrets(dsn))
    assert "Hunter2" not in message
    assert "Hunter2" not in source.describe_dsn(dsn)


def test_source_is_skipped_without_a_dsn_or_pg_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PGHOST", "PGDATABASE", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)
    assert source.skip_reason(SourceOptions()) == "no --pg-dsn given (nor PG* variables)"
    assert source.skip_reason(SourceOptions(pg_dsn="dbname=auth")) is None
    monkeypatch.setenv("PGHOST", "db.internal")
    assert source.skip_reason(SourceOptions()) is None


def test_a_long_query_is_never_also_called_no_waits_whatever_the_weights():
    """Whether the database is called healthy depends on what was seen, not on how findings are weighed."""
    import dataclasses
    from pathlib import Path

    from diagnose.bundle.store import read
    from diagnose.checks.database import postgres as postgres_check
    from diagnose.engine.diagnose import from_bundle, load_evidence

    target, gathered = from_bundle(read(Path(__file__).resolve().parents[2] / "fixtures" / "healthy"))
    ev = load_evidence(target, gathered)
    db = ev.postgres
    assert db is not None
    # the healthy database, but one of the upstream's queries has run for 30 s (and nothing else fired)
    first = next(s for s in db.relevant_sessions if s.is_client)
    slow = dataclasses.replace(first, state="active", query_age_s=30.0)
    sessions = tuple(slow if s is first else s for s in db.sessions)
    ev = dataclasses.replace(ev, postgres=dataclasses.replace(db, sessions=sessions))
    params = {**postgres_check.__diagnose_check__.params, "weight_long_query": 0.8}  # type: ignore[attr-defined]
    found = postgres_check(ev, params)
    assert any(f.direction == "for" and "30" in f.summary for f in found), found
    assert not [f for f in found if f.direction == "against" and "no lock waits" in f.summary]
