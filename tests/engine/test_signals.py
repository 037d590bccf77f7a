"""A second signal end to end: connection-refused lines become an upstream-unavailable incident, diagnosed
with the runbook whose `match:` names that signal; the catalogue a runbook must rank is its own data."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from diagnose.engine.runbook import CATALOGUE, for_signal
from tests.cli.helpers import NO_SOURCES, REPO, diagnose

REFUSED = [
    {"timestamp": f"2023-10-27T10:3{i}:00Z", "level": "error", "service": "frontend-api",
     "upstream_service": "user-auth-service", "kubernetes": {"namespace_name": "production"},
     "message": msg}
    for i, msg in enumerate(["dial tcp 10.96.14.2:8080: connect: connection refused",
                             "connect ECONNREFUSED 10.96.14.2:8080",
                             "java.net.ConnectException: Connection refused",
                             "read tcp 10.244.2.11:40012->10.96.14.2:8080: read: connection reset by peer"])
]


def _refused_log(tmp_path: Path) -> str:
    info = json.dumps({"timestamp": "2023-10-27T10:29:00Z", "level": "info", "message": "GET /login 200",
                       "service": "frontend-api"})
    p = tmp_path / "refused.jsonl"
    p.write_text("\n".join([info] * 500 + [json.dumps(r) for r in REFUSED] + [info] * 500) + "\n")
    return str(p)


def test_connection_refused_lines_are_an_upstream_unavailable_incident_diagnosed_with_its_runbook(tmp_path):
    p = diagnose("run", "--log", _refused_log(tmp_path), "--format", "json", env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["runbook"] == "upstream-unavailable"
    inc = report["incident"]
    assert (inc["signal"], inc["service"], inc["upstream"], inc["events"]) == (
        "upstream-unavailable", "frontend-api", "user-auth-service", 4)
    assert {c["id"] for c in report["causes"]} == {"upstream-down", "network-block", *CATALOGUE, "node-pressure"}
    # nothing was collected: every cause is unknown, none unlikely on no evidence
    assert {c["verdict"] for c in report["causes"]} == {"unknown"}


def test_the_text_report_words_the_incident_from_its_signal(tmp_path):
    p = diagnose("run", "--log", _refused_log(tmp_path), env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    assert "4 failed connections 2023-10-27T10:30:00Z" in p.stdout
    assert "(upstream-unavailable, runbook upstream-unavailable)" in p.stdout


def test_logs_json_gives_every_incident_its_signal(tmp_path):
    log = tmp_path / "both.jsonl"
    timeout = {"service": "frontend-api", "upstream_service": "user-auth-service", "message": "upstream timeout"}
    log.write_text("\n".join(json.dumps(r) for r in [*REFUSED, timeout]) + "\n")
    p = diagnose("logs", str(log), "--format", "json")
    assert p.returncode == 0, p.stderr
    got = [(i["signal"], i["upstream"], i["events"]) for i in json.loads(p.stdout)["incidents"]]
    assert got == [("upstream-unavailable", "user-auth-service", 4), ("upstream-timeout", "user-auth-service", 1)]


def test_runbooks_list_shows_the_second_runbook_and_validate_passes():
    listed = diagnose("runbooks", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith("upstream-unavailable"))
    assert "signals: upstream-unavailable" in line and "upstream-down, network-block, overload" in line
    valid = diagnose("runbooks", "validate")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "upstream-unavailable.yaml" in valid.stdout


def test_the_runbook_is_chosen_by_the_signal():
    assert for_signal("upstream-timeout").name == "upstream-timeout"
    assert for_signal("upstream-unavailable").name == "upstream-unavailable"


def test_the_shipped_upstream_timeout_runbook_requires_the_contract_catalogue():
    doc = yaml.safe_load((REPO / "runbooks" / "upstream-timeout.yaml").read_text())
    assert tuple(doc["requires_causes"]) == CATALOGUE
    assert for_signal("upstream-timeout").requires_causes == CATALOGUE


def test_every_shipped_runbook_ranks_the_contract_catalogue():
    # Contract section 1: every report ranks at least the six causes, whatever the signal.
    from diagnose.engine.runbook import load_all

    for rb in load_all():
        assert set(CATALOGUE) <= set(rb.requires_causes) <= {s.cause for s in rb.steps}, rb.name


def test_a_log_with_no_incident_of_any_signal_names_every_signal_it_looked_for(tmp_path):
    log = tmp_path / "quiet.jsonl"
    log.write_text('{"level": "INFO", "message": "ok", "service": "frontend-api"}\n' * 3)
    p = diagnose("run", "--log", str(log), env=NO_SOURCES)
    assert p.returncode == 3
    assert "no exhausted connection pool, upstream timeout or unavailable upstream found" in p.stderr


POOL_MESSAGES = [
    "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
    "failed to acquire connection: context deadline exceeded",
    "conn pool exhausted",
    "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00",
    "FATAL: sorry, too many clients already",
]


def _pool_log(tmp_path: Path, name: str, with_pool: bool) -> str:
    lines = [{"timestamp": f"2023-10-27T10:30:{i:02d}Z", "level": "error", "service": "frontend-api",
              "upstream": "user-auth-service", "msg": "upstream timeout", "duration_ms": 5000} for i in range(30)]
    if with_pool:
        lines += [{"timestamp": f"2023-10-27T10:29:{i:02d}Z", "level": "error", "service": "user-auth-service",
                   "peer.service": "postgres", "msg": POOL_MESSAGES[0]} for i in range(12)]
    p = tmp_path / name
    p.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    return str(p)


def test_every_library_s_pool_message_is_a_pool_exhausted_incident(tmp_path):
    p = tmp_path / "pool.jsonl"
    p.write_text("\n".join(json.dumps({"level": "error", "service": f"svc{i}", "peer.service": "postgres", "msg": m})
                           for i, m in enumerate(POOL_MESSAGES)) + "\n")
    out = diagnose("logs", str(p), "--format", "json", env=NO_SOURCES)
    assert out.returncode == 0, out.stderr
    incidents = json.loads(out.stdout)["incidents"]
    assert sorted((i["service"], i.get("signal")) for i in incidents) == [
        (f"svc{i}", "pool-exhausted") for i in range(len(POOL_MESSAGES))]


def test_logs_text_lists_every_signal_found(tmp_path):
    log = _pool_log(tmp_path, "both.jsonl", with_pool=True)
    out = diagnose("logs", log, env=NO_SOURCES)
    assert out.returncode == 0, out.stderr
    assert "upstream-timeout" in out.stdout and "pool-exhausted" in out.stdout


def _database(tmp_path: Path, with_pool: bool) -> dict:
    out = diagnose("run", "--log", _pool_log(tmp_path, f"{with_pool}.jsonl", with_pool), "--format", "json",
                   env=NO_SOURCES)
    report = json.loads(out.stdout)
    assert report["incident"]["service"] == "frontend-api"
    return next(c for c in report["causes"] if c["id"] == "database")


def test_the_upstream_s_own_pool_exhaustion_is_database_evidence_for_a_timeout(tmp_path):
    without, with_pool = _database(tmp_path, False), _database(tmp_path, True)
    assert with_pool["confidence"] > without["confidence"]
    summaries = [e["summary"] for e in with_pool["evidence"]]
    assert any("user-auth-service's own log" in s and "exhausted 12 times since 10:29Z" in s for s in summaries)


def test_the_pool_exhausted_runbook_ranks_the_catalogue_with_database_first():
    doc = yaml.safe_load((REPO / "runbooks" / "pool-exhausted.yaml").read_text())
    assert set(doc["requires_causes"]) >= set(CATALOGUE)
    assert max(doc["steps"], key=lambda s: s["prior"])["cause"] == "database"
