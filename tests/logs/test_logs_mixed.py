"""A line of another format than its file's is parsed as that format; only lines no parser takes are skipped."""

from __future__ import annotations

import json
from pathlib import Path

from diagnose.logs.scan import scan
from tests.logs.log_helpers import scan_both_ways

DATA = Path(__file__).parent.parent / "data" / "logs"


def _pairs(result) -> dict[tuple[str, str], int]:
    return {(i.service, i.upstream): i.events for i in result.incidents}


def test_json_log_with_logfmt_nginx_and_envoy_lines_finds_all_their_timeouts():
    r = scan([str(DATA / "mixed.log")])
    # The Envoy line is one of frontend-api's calls to user-auth-service, seen by its sidecar: folded in.
    assert _pairs(r) == {("frontend-api", "user-auth-service"): 30, ("checkout", "payments"): 1,
                         ("nginx", "10.0.2.15:8080"): 1}
    front = next(i for i in r.incidents if i.service == "frontend-api")
    assert [(v.log, v.events) for v in front.seen_by] == [("app", 30), ("envoy", 1)]
    assert r.formats == {"json": 34}
    assert (r.lines, r.skipped) == (34, 1)
    # Only the ANSI-coloured garbage line is skipped, with the file format's reason.
    assert r.skip_samples == [(str(DATA / "mixed.log"), 34, "not JSON (Expecting value)")]
    checkout = next(i for i in r.incidents if i.service == "checkout")
    assert (checkout.duration_ms.max, checkout.timeout_ms) == (2500, 2000)


def test_ingress_nginx_output_with_klog_json_envoy_and_logfmt_lines():
    r = scan([str(DATA / "ingress-mixed.log")])
    assert r.formats == {"nginx": 8}
    assert _pairs(r) == {("nginx", "user-auth-service"): 1, ("auth-sidecar", "token-service"): 1,
                         ("envoy", "user-auth-service"): 1, ("checkout", "payments"): 1}
    # The banner rule is the one line no format takes.
    assert (r.lines, r.skipped) == (8, 1)
    assert r.skip_samples[0][1:] == (8, "not a nginx line")


def test_logfmt_log_takes_json_and_nginx_lines(tmp_path):
    lines = [
        'time=2023-10-27T10:30:00Z level=info msg="GET /profile 200" service=frontend-api duration=42ms',
        'time=2023-10-27T10:30:01Z level=info msg="GET /cart 200" service=frontend-api duration=40ms',
        'time=2023-10-27T10:30:01Z level=info msg="GET /cart 200" service=frontend-api duration=41ms',
        'time=2023-10-27T10:30:01Z level=info msg="GET /cart 200" service=frontend-api duration=39ms',
        json.dumps({"ts": "2023-10-27T10:30:02Z", "msg": "context deadline exceeded", "service": "frontend-api",
                    "upstream": "user-auth-service"}),
        '2023/10/27 10:30:03 [error] 31#31: *9 upstream timed out (110: Connection timed out) while reading '
        'response header from upstream, client: 10.0.0.1, server: _, request: "GET / HTTP/1.1", '
        'upstream: "http://search:8080/", host: "x"',
        "plain prose nobody parses",
    ]
    p = tmp_path / "app.logfmt"
    p.write_text("\n".join(lines) + "\n")
    r = scan([str(p)])
    assert r.formats == {"logfmt": 7}
    assert _pairs(r) == {("frontend-api", "user-auth-service"): 1, ("nginx", "search"): 1}
    assert (r.skipped, r.skip_samples[0][1:]) == (1, (7, "not a logfmt line"))


def test_non_json_timeout_line_does_not_stop_its_chunk_neighbours_from_counting(tmp_path):
    # Every JSON timeout line of a chunk is loaded in one json.loads; a logfmt timeout line among them
    # must neither fail that nor be lost.
    seed = json.dumps({"message": "upstream timeout", "service": "a", "upstream": "b", "duration_ms": 5})
    body = "\n".join([seed] * 20 + ['msg="upstream timeout" service=c upstream=d'] + [seed] * 20) + "\n"
    p = tmp_path / "x.jsonl"
    p.write_text(body)
    r = scan([str(p)])
    assert _pairs(r) == {("a", "b"): 40, ("c", "d"): 1}
    assert r.skipped == 0


def test_mixed_log_scans_the_same_in_parallel_and_in_one_process(tmp_path, monkeypatch):
    body = (DATA / "mixed.log").read_bytes() * 50 + (DATA / "ingress-mixed.log").read_bytes() * 20
    one, many = scan_both_ways(tmp_path / "big.log", body, monkeypatch)
    assert many.skip_samples == one.skip_samples and many.kept == one.kept
    assert _pairs(one)[("checkout", "payments")] == 70
    assert one.skipped == 50 + 20
