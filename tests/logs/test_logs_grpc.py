"""gRPC deadlines (status 4, DEADLINE_EXCEEDED) and Go's "context deadline exceeded" are timeouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnose.logs.scan import scan
from tests.logs.log_helpers import scan_lines

DATA = Path(__file__).parent.parent / "data" / "logs"


def _by_pair(result, signal="upstream-timeout"):
    return {(i.service, i.upstream): i for i in result.incidents if i.signal == signal}


def test_grpc_client_logs_give_one_incident_per_caller_and_upstream():
    r = scan([str(DATA / "grpc.jsonl")])
    got = _by_pair(r)
    assert {k: i.events for k, i in got.items()} == {
        ("frontend-api", "user-auth-service"): 1,       # rpc error: code = DeadlineExceeded, grpc.target
        ("frontend-api", "auth.v1.AuthService"): 1,     # "grpc.code": "DeadlineExceeded", grpc.service
        ("checkout", "payments"): 3,                    # DEADLINE_EXCEEDED only; Java; context deadline exceeded
    }
    assert (r.lines, r.skipped) == (7, 0)
    # "grpc.code": "Unavailable" (status 14) is the other signal, not a timeout
    assert {k: i.events for k, i in _by_pair(r, "upstream-unavailable").items()} == {
        ("frontend-api", "catalog.v1.CatalogService"): 1}
    assert got[("frontend-api", "user-auth-service")].namespace == "production"
    assert got[("frontend-api", "user-auth-service")].duration_ms.max == 10001
    assert got[("frontend-api", "auth.v1.AuthService")].duration_ms.max == pytest.approx(10000.7)
    assert got[("checkout", "payments")].duration_ms.max == 2003


@pytest.mark.parametrize("fields", [
    {"grpc.code": "DEADLINE_EXCEEDED"},
    {"grpc_status": "DEADLINE_EXCEEDED"},
    {"error": "io.grpc.StatusRuntimeException: DEADLINE_EXCEEDED"},
    {"grpc": {"code": "DEADLINE_EXCEEDED"}},
])
def test_all_caps_deadline_exceeded_alone_is_found_among_many_json_lines(tmp_path, fields):
    # The only timeout word on the line is DEADLINE_EXCEEDED; the line is well-formed JSON among thousands,
    # so it is found by the marker search, not by a full parse of every line.
    info = json.dumps({"level": "info", "msg": "GET /x 200", "service": "checkout", "duration_ms": 3})
    rec = {"level": "error", "msg": "charge failed", "service": "checkout", "peer.service": "payments", **fields}
    p = tmp_path / "app.jsonl"
    p.write_text("\n".join([info] * 3000 + [json.dumps(rec)] + [info] * 3000) + "\n")
    r = scan([str(p)])
    assert [(i.service, i.upstream, i.events) for i in r.incidents] == [("checkout", "payments", 1)]


def test_other_grpc_codes_are_not_timeouts_and_unavailable_is_an_unavailable_upstream(tmp_path):
    lines = [json.dumps({"msg": "finished client unary call", "service": "a", "grpc.service": "b.v1.B",
                         "grpc.code": code}) for code in ("OK", "Unavailable", "Canceled", "ResourceExhausted")]
    r = scan_lines(tmp_path / "app.jsonl", lines)
    assert [(i.signal, i.upstream, i.events) for i in r.incidents] == [("upstream-unavailable", "b.v1.B", 1)]
    assert r.skipped == 0


def test_grpc_deadline_in_logfmt_lines(tmp_path):
    lines = [
        'ts=2023-10-27T10:30:00Z level=info msg="finished client unary call" service=frontend-api grpc.code=OK',
        'ts=2023-10-27T10:30:01Z level=error msg="rpc error: code = DeadlineExceeded desc = context deadline '
        'exceeded" service=frontend-api grpc.target=dns:///user-auth-service.production.svc.cluster.local:50051',
        'ts=2023-10-27T10:30:02Z level=warn msg="finished client unary call" service=frontend-api '
        'grpc.service=auth.v1.AuthService grpc.code=DEADLINE_EXCEEDED grpc.time_ms=10000.5',
    ]
    r = scan_lines(tmp_path / "app.logfmt", lines)
    assert r.formats == {"logfmt": 3}
    assert {(i.service, i.upstream): i.events for i in r.incidents} == {
        ("frontend-api", "user-auth-service"): 1, ("frontend-api", "auth.v1.AuthService"): 1}
