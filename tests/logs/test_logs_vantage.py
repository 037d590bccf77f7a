"""One incident seen from several vantage points (diagnose/logs/vantage.py): the caller's app log, its
sidecar's access log and an ingress controller's log of the same calls become one incident, whose caller
is the workload, never the proxy, and whose count is the calls', not the sum of the lines."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from diagnose.logs.scan import scan
from diagnose.logs.vantage import caller_of_path
from tests.cli.helpers import NO_SOURCES, diagnose

T0 = datetime(2024, 3, 14, 21, 47, 0, tzinfo=timezone.utc)


def app_line(i: int, caller: str = "frontend-api", upstream: str = "user-auth-service", at: datetime = T0) -> str:
    t = at + timedelta(seconds=5 * i)
    return json.dumps({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "level": "ERROR",
                       "message": "request failed: upstream response timeout", "service": caller,
                       "upstream_service": upstream, "duration_ms": 10004 + i, "timeout_ms": 10000})


def envoy_line(i: int, upstream: str = "user-auth-service", flags: str = "UT", at: datetime = T0,
               ns: str = "identity") -> str:
    # Istio's default text access log (envoy.py cites the format string): the call ends with the caller's
    # deadline a few ms later than the app's log line says, as a sidecar stamps the request's start.
    t = at + timedelta(seconds=5 * i, milliseconds=-3)
    return (f'[{t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}Z] "POST /login HTTP/1.1" 504 {flags} response_timeout - "-" '
            f'312 24 10001 - "10.0.3.7" "okhttp/4.9.3" "7c3a6b9e-2f1d-4a8e-9b0c-{i:012d}" "{upstream}:8080" '
            f'"10.244.1.5:8080" outbound|8080||{upstream}.{ns}.svc.cluster.local 10.244.2.11:51234 '
            '10.96.14.2:8080 10.244.2.11:40012 - default')


def write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_an_app_log_and_its_sidecars_log_of_the_same_calls_are_one_incident_with_the_callers_timeout(tmp_path):
    app = write(tmp_path / "app.log", [app_line(i) for i in range(12)])
    # 10 of the 12 calls are in the sidecar's log (it was rotated): the incident counts the calls, 12.
    side = write(tmp_path / "envoy.log", [envoy_line(i) for i in range(2, 12)])
    r = scan([app, side])
    assert len(r.incidents) == 1
    inc = r.incidents[0]
    assert (inc.service, inc.upstream, inc.events, inc.timeout_ms) == ("frontend-api", "user-auth-service", 12, 10000)
    assert inc.namespace == "identity"                       # only the proxy's cluster name said it
    assert inc.duration_ms.max == 10015                      # the app's own clock, not the proxy's 10001
    assert [(v.log, v.events, v.details) for v in inc.seen_by] == [("app", 12, ()), ("envoy", 10, (("UT", 10),))]


def test_the_sidecars_calls_go_to_the_caller_whose_count_they_match_among_callers_of_the_same_upstream(tmp_path):
    logs = [write(tmp_path / "a.log", [app_line(i, caller="checkout") for i in range(30)]),
            write(tmp_path / "b.log", [app_line(i, caller="frontend-api") for i in range(6)]),
            write(tmp_path / "side.log", [envoy_line(i, flags="URX") for i in range(6)])]
    by = {i.service: i for i in scan(logs).incidents}
    assert set(by) == {"checkout", "frontend-api"}
    assert [(v.log, v.events) for v in by["frontend-api"].seen_by] == [("app", 6), ("envoy", 6)]
    assert by["checkout"].seen_by == ()


def test_a_proxys_log_of_another_hour_stays_an_incident_of_its_own(tmp_path):
    app = write(tmp_path / "app.log", [app_line(i) for i in range(5)])
    later = write(tmp_path / "envoy.log", [envoy_line(i, at=T0 + timedelta(hours=3)) for i in range(5)])
    got = sorted((i.service, i.events) for i in scan([app, later]).incidents)
    assert got == [("envoy", 5), ("frontend-api", 5)]


def test_a_proxy_log_named_for_its_workload_or_at_a_kubelet_path_is_that_workloads(tmp_path):
    named = write(tmp_path / "frontend-api-istio-proxy.log", [envoy_line(i) for i in range(3)])
    assert [(i.service, i.events) for i in scan([named]).incidents] == [("frontend-api", 3)]
    # The kubelet's file for the ingress controller's pod: /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log
    pod_dir = tmp_path / "ingress-nginx_ingress-nginx-controller-5c9fd6d8d-x7k2q_0d3c5e1a-6b7f-4c2d-9e8a-1f2b3c4d5e6f"
    (pod_dir / "controller").mkdir(parents=True)
    nginx = write(pod_dir / "controller" / "0.log", [
        "2024/03/14 21:47:05 [error] 31#31: *5001 upstream timed out (110: Connection timed out) while reading "
        "response header from upstream, client: 10.0.3.7, server: api.example.com, request: \"POST /login "
        "HTTP/1.1\", upstream: \"http://user-auth-service.identity.svc.cluster.local:8080/login\", host: "
        "\"api.example.com\""])
    inc = scan([nginx]).incidents[0]
    assert (inc.service, inc.upstream, inc.namespace) == ("ingress-nginx-controller", "user-auth-service", "identity")
    assert [(v.log, v.details) for v in inc.seen_by] == [("nginx", (("504", 1),))]


@pytest.mark.parametrize("path, caller", [
    ("/var/log/pods/prod_checkout-web-7d9f8b6c5d-x2x4z_4f1e2d3c-0000-4000-8000-123456789abc/istio-proxy/0.log",
     ("checkout-web", True)),
    ("/var/log/containers/checkout-web-7d9f8b6c5d-x2x4z_prod_istio-proxy-"
     "0f5b4c3a2d1e0f5b4c3a2d1e0f5b4c3a2d1e0f5b4c3a2d1e0f5b4c3a2d1e0f5b.log", ("checkout-web", True)),
    ("pod-logs/db-0/app.log", ("db", True)),
    ("logs/frontend-api-envoy.log.gz", ("frontend-api", False)),
    ("frontend-api_istio-proxy.log", ("frontend-api", False)),
    ("payments-sidecar-20240314.log", ("payments", False)),
    # names that do not say whose calls the lines are
    ("app.log", None), ("envoy.log", None), ("k.log", None), ("spring-boot-sample.log", None),
    ("envoy-json-subset-cluster.jsonl", None), ("ingress-nginx-controller.log", None), ("-", None),
])
def test_the_workload_a_log_path_names(path, caller):
    assert caller_of_path(path) == caller


def test_run_diagnoses_the_folded_incident_and_the_report_says_who_saw_it(tmp_path):
    app = write(tmp_path / "app.log", [app_line(i) for i in range(8)])
    side = write(tmp_path / "envoy.log", [envoy_line(i) for i in range(8)])
    p = diagnose("run", "--log", app, "--log", side, "--format", "json", env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    inc = json.loads(p.stdout)["incident"]
    assert (inc["service"], inc["events"], inc["timeout_ms"]) == ("frontend-api", 8, 10000)
    assert inc["seen_by"] == [{"log": "app", "events": 8}, {"log": "envoy", "events": 8, "details": {"UT": 8}}]
    text = diagnose("run", "--log", app, "--log", side, env=NO_SOURCES).stdout
    assert "seen by: app 8; envoy 8 (UT 8)" in text


def test_calls_are_counted_once_per_pod_so_two_pods_seen_by_different_logs_add_up(tmp_path):
    # `kubectl logs --prefix --timestamps --all-containers`: pod -a's app and sidecar logged the same 6 calls;
    # pod -b's app container logged nothing of its 4 calls (a library that does not log timeouts), its
    # sidecar did; pod -c (no sidecar injected) only its app, 5 calls. 15 calls: the most of each pod's views,
    # added up; not 10 (the larger view), not 21 (every line).
    a, b = "frontend-api-5c8d7f9b4-x2x4z", "frontend-api-5c8d7f9b4-q9m4v"

    def prefixed(pod: str, container: str, line: str, i: int) -> str:
        stamp = (T0 + timedelta(seconds=5 * i)).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
        return f"[pod/{pod}/{container}] {stamp} {line}"

    lines = [prefixed(a, "app", app_line(i), i) for i in range(6)]
    lines += [prefixed(a, "istio-proxy", envoy_line(i), i) for i in range(6)]
    lines += [prefixed(b, "istio-proxy", envoy_line(i), i) for i in range(4)]
    lines += [prefixed("frontend-api-5c8d7f9b4-m7k2w", "app", app_line(i), i) for i in range(5)]
    (inc,) = scan([write(tmp_path / "all.log", lines)]).incidents
    assert (inc.service, inc.events, inc.timeout_ms) == ("frontend-api", 15, 10000)
    assert [(v.log, v.events) for v in inc.seen_by] == [("app", 11), ("envoy", 10)]
