"""Query planning: range and step from the incident window, selectors, skip reasons, safe messages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from diagnose.sources import prometheus as source
from diagnose.sources.base import SourceOptions
from fixtures.build import prometheus as gen

T0 = datetime(2023, 10, 27, 10, 0, tzinfo=timezone.utc)


def test_step_keeps_series_short_for_any_window() -> None:
    for hours in (0.75, 6, 24, 24 * 7):
        step = source.step_for(T0, T0 + timedelta(hours=hours))
        assert step % source.MIN_STEP == 0
        assert hours * 3600 / step <= source.MAX_POINTS
    assert source.step_for(T0, T0 + timedelta(minutes=45)) == source.MIN_STEP


def test_range_is_the_incidents_window_not_now() -> None:
    start, end, step, qs = source.plan(gen.target())  # type: ignore[arg-type]
    assert start == gen.cast.WINDOW_START and end == gen.cast.WINDOW_END
    assert set(qs) == set(source.FAMILIES)


def test_queries_select_the_namespace_and_the_upstreams_pods_aggregated_by_pod() -> None:
    qs = source.queries("production", "user-auth-service", "frontend-api", 15)
    assert 'namespace="production", pod=~"user-auth-service-.*"' in qs["cpu"]
    assert "by (namespace, pod)" in qs["cpu"] and 'container!="POD"' in qs["cpu"]
    assert 'reporter="source"' in qs["latency_caller"] and 'source_workload="frontend-api"' in qs["latency_caller"]
    assert 'reporter="destination"' in qs["latency_upstream"]
    # both naming flavours in one query
    assert "jvm_gc_collection_seconds_sum" in qs["jvm_gc"] and "jvm_gc_pause_seconds_max" in qs["jvm_gc"]
    assert "kube_pod_container_resource_limits_cpu_cores" in qs["resources"]
    assert "pod_name" in qs["memory"]


def test_names_are_quoted_so_they_cannot_change_the_query() -> None:
    qs = source.queries('ns"x', "svc.a", "c", 15)
    assert 'namespace="ns\\"x"' in qs["cpu"] and 'pod=~"svc\\\\.a-.*"' in qs["cpu"]


def test_skip_reason_names_the_option_and_the_variable(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    assert source.skip_reason(SourceOptions()) == "no --prometheus-url given (nor PROMETHEUS_URL)"
    assert source.skip_reason(SourceOptions(prometheus_url="http://p:9090")) is None
    monkeypatch.setenv("PROMETHEUS_URL", "http://p:9090")
    assert source.skip_reason(SourceOptions()) is None


def test_credentials_in_the_url_never_reach_messages() -> None:
    assert source.safe_url("https://admin:s3cret@prom.example:9090/prom") == "https://prom.example:9090/prom"


def test_http_errors_become_one_line_with_prometheus_own_message() -> None:
    # the exception text prometheus-api-client raises, one line
    text = ('HTTP Status Code 422 (b\'{"status":"error","errorType":"execution",'
            '"error":"query processing would load too many samples into memory in query execution"}\')')
    assert source._http_error(text) == ("Prometheus answered 422 Unprocessable Entity for /api/v1/query_range: "
                                        "query processing would load too many samples into memory in query execution")


def test_an_http_error_with_no_text_is_worded_with_what_to_check() -> None:
    # what a URL that is not Prometheus's base (a path prefix, another server) answers
    assert source._http_error("HTTP Status Code 404 (b'')") == (
        "Prometheus answered 404 Not Found for /api/v1/query_range: is --prometheus-url the Prometheus base URL?")
    assert source._http_error("HTTP Status Code 404 (b'404 page not found\\n')") == (
        "Prometheus answered 404 Not Found for /api/v1/query_range: is --prometheus-url the Prometheus base URL?")
    assert source._http_error("HTTP Status Code 401 (b'Unauthorized')") == (
        "Prometheus answered 401 Unauthorized for /api/v1/query_range: the server wants credentials")
    assert source._http_error("HTTP Status Code 502 (b'<html><body>Bad Gateway</body></html>')") == (
        "Prometheus answered 502 Bad Gateway for /api/v1/query_range: a proxy in front of the server could not "
        "reach it")
