"""Each format and field spelling yields the same timeout event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnose.logs.scan import scan

DATA = Path(__file__).parent.parent / "data" / "logs"


def _write(tmp_path: Path, name: str, lines: list[str]) -> str:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(p)


def _only(result):
    assert len(result.incidents) == 1, result.incidents
    return result.incidents[0]


def test_seed_lines_become_one_incident_with_the_seed_numbers():
    r = scan([str(DATA / "seed.jsonl")])
    inc = _only(r)
    assert (inc.service, inc.upstream, inc.events) == ("frontend-api", "user-auth-service", 3)
    assert inc.timeout_ms == 10000
    assert (inc.duration_ms.p50, inc.duration_ms.p99, inc.duration_ms.max) == (15000, 15000, 15000)
    assert inc.first_seen.isoformat() == "2023-10-27T10:30:00+00:00"
    assert inc.last_seen.isoformat() == "2023-10-27T10:32:00+00:00"
    assert inc.rate_per_min == pytest.approx(1.5)
    assert r.formats == {"json": 4}
    assert (r.lines, r.skipped) == (4, 0)


@pytest.mark.parametrize("record", [
    {"service.name": "frontend-api", "upstream": "user-auth-service"},
    {"service": {"name": "frontend-api"}, "upstream_cluster": "user-auth-service"},
    {"app": "frontend-api", "upstream_service": "user-auth-service:8080"},
    {"kubernetes": {"labels": {"app": "frontend-api"}}, "upstream": "http://user-auth-service:8080/login"},
    {"kubernetes.labels.app": "frontend-api", "upstream": {"service": "user-auth-service"}},
])
def test_caller_and_upstream_spellings_are_all_read(tmp_path, record):
    rec = {"timestamp": "2023-10-27T10:30:00Z", "message": "upstream request timeout", **record}
    inc = _only(scan([_write(tmp_path, "a.jsonl", [json.dumps(rec)])]))
    assert (inc.service, inc.upstream) == ("frontend-api", "user-auth-service")


@pytest.mark.parametrize("field,value,expected_ms", [
    ("duration_ms", 15000, 15000), ("latency_ms", 15000, 15000), ("elapsed", "15s", 15000),
    ("elapsed", "1m2.5s", 62500), ("duration", "15000ms", 15000), ("duration_seconds", 15, 15000),
    ("request_time", 15.0, 15000), ("latency", 250, 250),
])
def test_durations_are_read_with_their_units(tmp_path, field, value, expected_ms):
    rec = {"service": "a", "upstream": "b", "msg": "deadline exceeded", field: value}
    inc = _only(scan([_write(tmp_path, "d.jsonl", [json.dumps(rec)])]))
    assert inc.duration_ms.max == expected_ms


@pytest.mark.parametrize("text", ["request failed: upstream response timeout", "Read timed out",
                                  "context deadline exceeded", "rpc error: code = DeadlineExceeded",
                                  "java.net.SocketTimeoutException: Read timed out", "connect ETIMEDOUT 10.0.0.5:8080",
                                  "io.grpc.StatusRuntimeException: DEADLINE_EXCEEDED: deadline exceeded after 9.99s",
                                  "TIMEOUT waiting for user-auth-service", "Timed out after 10000 ms",
                                  "READ TIMED OUT", "CALL TIME-OUT", "status=DEADLINE_EXCEEDED"])
def test_every_timeout_wording_is_an_event(tmp_path, text):
    rec = {"service": "a", "upstream_service": "b", "error": text}
    assert _only(scan([_write(tmp_path, "w.jsonl", [json.dumps(rec)])])).events == 1


def test_error_lines_without_a_signal_or_without_upstream_are_not_events(tmp_path):
    lines = [json.dumps({"service": "a", "upstream": "b", "message": "disk quota exceeded"}),
             json.dumps({"service": "a", "message": "upstream timeout"}),
             json.dumps({"service": "a", "message": "ok", "timeout_ms": 10000})]
    r = scan([_write(tmp_path, "n.jsonl", lines)])
    assert r.incidents == [] and (r.lines, r.skipped) == (3, 0)


def test_namespace_comes_from_kubernetes_metadata_or_the_upstream_fqdn(tmp_path):
    lines = [json.dumps({"kubernetes": {"namespace_name": "production", "labels": {"app": "frontend-api"}},
                         "upstream": "user-auth-service", "msg": "timeout"}),
             json.dumps({"service": "web", "upstream": "user-auth-service.staging.svc.cluster.local:8080",
                         "msg": "timeout"}),
             json.dumps({"service": "x", "k8s.namespace.name": "qa", "upstream": "y", "msg": "timeout"})]
    got = {(i.service, i.upstream): i.namespace for i in scan([_write(tmp_path, "k.jsonl", lines)]).incidents}
    assert got == {("frontend-api", "user-auth-service"): "production",
                   ("web", "user-auth-service"): "staging", ("x", "y"): "qa"}


def test_logfmt_lines_are_parsed_with_go_durations():
    r = scan([str(DATA / "app.logfmt")])
    inc = _only(r)
    assert (inc.service, inc.upstream, inc.events, inc.timeout_ms) == ("frontend-api", "user-auth-service", 2, 10000)
    assert inc.duration_ms.max == 15000 and inc.duration_ms.p50 == pytest.approx(10002, rel=0.01)
    assert r.formats == {"logfmt": 3}


def test_nginx_upstream_timed_out_lines_name_the_upstream_and_namespace(tmp_path):
    # Error lines alone: each upstream timeout is an event.
    errors = [ln for ln in (DATA / "nginx-error.log").read_text().splitlines() if "[error]" in ln]
    r = scan([_write(tmp_path, "error.log", errors)])
    inc = _only(r)
    assert (inc.service, inc.upstream, inc.namespace, inc.events) == ("nginx", "user-auth-service", "production", 2)


def test_nginx_file_with_upstreaminfo_access_lines_counts_the_access_line_not_its_error_line_again():
    # ingress-nginx writes both lines for one timed-out request (10:30:00, POST /login): the access line
    # is the request's record (upstream status 504, $request_time 60.001), the error line repeats it.
    r = scan([str(DATA / "nginx-error.log")])
    inc = _only(r)
    assert (inc.service, inc.upstream, inc.namespace, inc.events) == ("nginx", "user-auth-service", "production", 1)
    assert inc.duration_ms.max == 60001
    assert r.skipped == 0 and r.formats == {"nginx": 5}


def test_istio_access_log_ut_is_a_timeout_and_uf_503_an_unavailable_upstream():
    r = scan([str(DATA / "envoy-istio.log")])
    timeout, unavailable = r.incidents
    assert (timeout.signal, timeout.service, timeout.upstream, timeout.namespace, timeout.events) == (
        "upstream-timeout", "envoy", "user-auth-service", "production", 2)
    assert timeout.duration_ms.max == 10001
    assert (unavailable.signal, unavailable.upstream, unavailable.events) == ("upstream-unavailable",
                                                                               "user-auth-service", 1)
    assert r.failures == {}
    # Istio's %DOWNSTREAM_REMOTE_ADDRESS% of each outbound call: the app's pod, by which a caller known only
    # as "envoy" is named from the cluster (engine/address.py).
    peers = {k[0]: dict(acc.peers) for k, acc in r.groups.signals.items()}
    assert peers == {"upstream-timeout": {"10.244.2.11": 2}, "upstream-unavailable": {"10.244.2.11": 1}}


def test_envoy_default_format_reads_the_authority_as_upstream():
    inc = _only(scan([str(DATA / "envoy-default.log")]))
    assert (inc.upstream, inc.events, inc.duration_ms.max) == ("user-auth-service", 1, 15001)


def test_envoy_json_flags_ut_and_urx_504_are_timeouts_and_uf_503_an_unavailable_upstream():
    r = scan([str(DATA / "istio-json.jsonl")])
    timeout, unavailable = r.incidents
    assert (timeout.signal, timeout.service, timeout.upstream, timeout.events, timeout.namespace) == (
        "upstream-timeout", "envoy", "user-auth-service", 2, "production")
    assert (unavailable.signal, unavailable.events) == ("upstream-unavailable", 1)
    assert r.failures == {}


@pytest.mark.parametrize("code, signal", [("503", "upstream-unavailable"), ("0", None)])
def test_envoy_uf_is_a_failure_only_without_a_signal_code(tmp_path, code, signal):
    line = (f'[2023-10-27T10:30:04.771Z] "POST /login HTTP/1.1" {code} UF 312 91 2 - "10.0.3.8" "okhttp/4.9.3" '
            '"9d8e" "user-auth-service:8080" "10.244.1.6:8080"\n')
    r = scan([_write(tmp_path, "e.log", [line.strip()])])
    assert [i.signal for i in r.incidents] == ([signal] if signal else [])
    assert r.failures == ({} if signal else {("envoy", "user-auth-service"): 1})


def test_log_shipper_wrappers_are_opened():
    r = scan([str(DATA / "fluentbit.jsonl")])
    got = {(i.service, i.upstream): i for i in r.incidents}
    app = got[("frontend-api", "user-auth-service")]
    assert (app.namespace, app.timeout_ms, app.duration_ms.max) == ("production", 10000, 10004)
    assert ("ingress-nginx", "10.244.1.5:8080") in got


def test_keep_lines_keeps_raw_timeout_lines_per_group(tmp_path):
    r = scan([str(DATA / "seed.jsonl")], keep_lines=2)
    kept = r.kept_for(r.incidents[0])
    assert len(kept) == 2 and all(b"upstream response timeout" in k for k in kept)
