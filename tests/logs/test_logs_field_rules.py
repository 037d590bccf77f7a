"""The field rules' readers: units, names and roles found by meaning (the corpus covers whole layouts)."""

from __future__ import annotations

import pytest

from diagnose.logs.durations import to_ms
from diagnose.logs.fields import event_from_record, role_of
from diagnose.logs.names import split_upstream


@pytest.mark.parametrize("value,key,ms", [
    ("PT10S", "elapsed", 10000), ("PT1M2.5S", "latency", 62500), ("00:00:10.003", "duration", 10003),
    (10003000000, "duration", 10003), (12.5, "latency_seconds", 12500), (10, "timeoutSeconds", 10000),
    (250, "durationMs", 250), (10000000, "took_in_nanos", 10), (9000, "duration", 9000),
])
def test_durations_in_every_form_become_milliseconds(value, key, ms):
    assert to_ms(value, key) == pytest.approx(ms)


@pytest.mark.parametrize("raw,name,ns", [
    ("dns:///user-auth-service.production:443", "user-auth-service", "production"),
    ("dns:///api.example.com:443", "api.example.com", None),
    ("dns:///ledger.internal:50051", "ledger.internal", None),
    ("outbound|8080|v2|user-auth-service.production.svc.cluster.local", "user-auth-service", "production"),
])
def test_dial_targets_and_clusters_give_name_and_namespace_but_domains_do_not(raw, name, ns):
    assert split_upstream(raw) == (name, ns)


def test_keys_are_found_by_meaning_with_the_unit_their_name_says():
    assert role_of("client.readTimeoutMs") == ("timeout", 1_000_000, 1.0)
    assert role_of("jsonPayload.upstream")[0] == "upstream"
    assert role_of("callback_url")[:1] == ("upstream",)
    assert role_of("user_id") is None


def test_a_url_field_without_a_host_does_not_hide_the_next_upstream():
    ev = event_from_record({"msg": "upstream timeout", "req": {"url": "/login"}, "server.address": "auth"})
    assert ev is not None and ev.upstream == "auth"


def test_logger_name_is_not_taken_for_the_caller_outside_bunyan_and_pino():
    rec = {"name": "com.example.AuthClient", "message": "Read timed out", "upstream": "auth"}
    assert event_from_record(rec).service == "unknown"
    assert event_from_record({**rec, "hostname": "h", "pid": 1}).service == "com.example.AuthClient"


def test_a_record_that_nests_where_an_earlier_one_of_the_same_keys_did_not_is_still_read_nested():
    # Plans are shared by records of one shape; a line with `"kubernetes": null` first must not leave the
    # next lines' kubernetes.namespace_name unread (found by tests/fuzz: the manifest lost its namespace).
    from diagnose.logs.fields import Fields, first_str

    flat = {"service": "api", "upstream_service": "auth", "kubernetes": None}
    nested = {"service": "api", "upstream_service": "auth", "kubernetes": {"namespace_name": "shop-eu"}}
    Fields(flat)
    assert first_str(Fields(nested), "namespace") == "shop-eu"


def test_an_event_of_a_nested_record_is_read_after_a_flat_one_of_the_same_keys():
    from diagnose.logs.fields import event_from_record

    base = {"message": "upstream timeout", "service": "api", "upstream_service": "auth", "duration_ms": 10}
    event_from_record({**base, "kubernetes": "n/a"})
    ev = event_from_record({**base, "kubernetes": {"namespace_name": "shop-eu"}})
    assert ev is not None and ev.namespace == "shop-eu"


# ingress-nginx access records as JSON: the layout of a published ECS-style log-format-upstream (journal.
# petrausch.info, "Managing Kubernetes Ingress JSON Log Format with Sanity") and a flat one of the
# controller's documented variables ($proxy_upstream_name, $upstream_status, $namespace, $service_name).
ECS_INGRESS = {"timestamp": "2024-03-14T21:47:03+00:00", "http": {
    "request": {"method": "POST"}, "response": {"status_code": "504", "time": 10.001},
    "upstream": {"status_code": "504", "time": 10.0, "address": "10.244.1.5:8080", "name": "team-a-user-auth-8080"}},
    "url": {"domain": "api.example.com", "path": "/login"}}
FLAT_INGRESS = {"time": "2024-03-14T21:47:04+00:00", "request": "POST /login HTTP/1.1", "status": 504,
                "proxy_upstream_name": "team-a-user-auth-8080", "upstream_addr": "10.244.1.5:8080, 10.244.1.6:8080",
                "upstream_status": "504, 502", "upstream_response_time": "5.000, 0.001", "namespace": "team-a",
                "service_name": "user-auth", "ingress_name": "api"}


def test_an_ingress_nginx_json_record_names_the_service_not_the_backend_as_the_caller():
    ev = event_from_record(FLAT_INGRESS)
    # $service_name is the backend: the caller is the ingress; $namespace decides the dashed split
    assert (ev.kind, ev.service, ev.upstream, ev.namespace) == ("upstream-unavailable", "nginx", "user-auth", "team-a")
    assert (ev.via, ev.detail) == ("nginx", "502")        # the last upstream tried answered 502
    ecs = event_from_record(ECS_INGRESS)
    assert (ecs.kind, ecs.upstream, ecs.namespace, ecs.duration_ms, ecs.detail) == \
        ("upstream-timeout", "a-user-auth", "team", 10000.0, "504")   # no $namespace: read at the first dash


def test_an_ingress_record_that_succeeded_is_no_event():
    assert event_from_record({**FLAT_INGRESS, "status": 200, "upstream_status": "200"}) is None
