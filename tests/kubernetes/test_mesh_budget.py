"""Retry and timeout semantics of Istio, Linkerd and ingress-nginx, and the budgets the report proposes.

A proposal is checked the way an on-call engineer would use it: the fix command the runbook prints is
applied (as `kubectl patch --type json` would) to the object as the parser read it, and the patched
object is read again: its bound must end before the caller's deadline, and no try may be cut below the
upstream's p99.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import shlex
import string
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from diagnose.bundle.store import read
from diagnose.checks.kubernetes import readiness_probes
from diagnose.checks.mesh import mesh_routes, reference_p99_ms
from diagnose.checks.retry_budget import budget, envoy_backoff_ms, plan
from diagnose.engine.commands import fill_command
from diagnose.engine.diagnose import from_bundle, load_evidence
from diagnose.engine.registry import checks
from diagnose.engine.runbook import Runbook, for_signal
from diagnose.model.evidence import Evidence
from diagnose.model.finding import Finding
from diagnose.model.incident import Incident, Percentiles, Window
from diagnose.model.kube import Container, KubeEvidence, Pod, Probe, RouteTimeout
from diagnose.model.metrics import MetricsEvidence, Signal
from diagnose.parsers.mesh import ingress_routes, parse_duration_ms, service_profile_routes, virtual_service_routes

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted(p.parent for p in (ROOT / "fixtures").glob("*/expected.json"))
NS, UP, CALLER = "production", "user-auth-service", "frontend-api"
T0 = datetime(2023, 10, 27, 10, 30, tzinfo=timezone.utc)


def vs_doc(http: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": UP, "namespace": NS},
            "spec": {"hosts": [UP], "http": [{"route": [{"destination": {"host": UP}}], **http}]}}


def vs(**http: Any) -> RouteTimeout:
    (route,) = virtual_service_routes(vs_doc(http), UP, NS)
    return route


# ---- semantics, one edge at a time --------------------------------------------------------------------

def test_attempts_counts_retries_so_attempts_2_is_three_tries_plus_envoy_backoff() -> None:
    b = budget(vs(retries={"attempts": 2, "perTryTimeout": "5s"}))
    assert b.tries == 3
    assert b.bound_ms == 3 * 5000 + 25 + 75      # retry N waits under (2^N - 1) x 25 ms


def test_attempts_0_is_one_try() -> None:
    assert budget(vs(retries={"attempts": 0, "perTryTimeout": "5s"})).bound_ms == 5000


def test_a_route_timeout_shorter_than_the_retry_budget_caps_it() -> None:
    b = budget(vs(timeout="8s", retries={"attempts": 3, "perTryTimeout": "5s"}))
    assert b.bound_ms == 8000 and b.capped


def test_a_missing_per_try_timeout_gives_each_try_the_whole_route_timeout() -> None:
    b = budget(vs(timeout="7s", retries={"attempts": 3}))
    assert b.per_try_ms == 7000 and b.bound_ms == 7000


def test_no_timeout_and_no_per_try_timeout_leave_a_request_unbounded() -> None:
    assert budget(vs(retries={"attempts": 3})).bound_ms is None
    assert budget(vs(timeout="0s")).bound_ms is None      # Istio: 0s disables the route timeout


def test_envoy_backoff_grows_per_retry_and_stops_at_250ms() -> None:
    assert [envoy_backoff_ms(n) for n in (0, 1, 2, 3, 5)] == [0, 25, 100, 275, 775]


def test_the_demo_route_ends_requests_at_exactly_the_15000_ms_the_caller_logs() -> None:
    ev = _bundle_evidence(ROOT / "fixtures" / "mesh-timeout")
    assert ev.kubernetes is not None
    (route,) = ev.kubernetes.routes
    assert (route.attempts, route.per_try_timeout_ms, route.timeout_ms) == (2, 5000, 15000)
    assert budget(route).bound_ms == ev.incident.duration_ms.p50 == 15000


def test_a_linkerd_route_without_timeout_gets_the_10s_default_including_retries() -> None:
    doc = {"apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile",
           "metadata": {"name": f"{UP}.{NS}.svc.cluster.local", "namespace": NS},
           "spec": {"routes": [{"name": "GET /a", "condition": {"method": "GET"}, "isRetryable": True},
                               {"name": "POST /b", "condition": {"method": "POST"}, "timeout": "25s"}]}}
    first, second = service_profile_routes(doc, UP, NS)
    assert budget(first).bound_ms == 10000 and "default 10s" in first.notes[0]
    assert budget(second).bound_ms == 25000 and second.index == 1


@pytest.mark.parametrize("value,seconds,ignored", [("30", 30, False), ("30s", 60, True), ("1m", 60, True),
                                                    (None, 60, False)])
def test_ingress_nginx_reads_whole_seconds_and_ignores_a_value_with_a_unit(value: str | None, seconds: int,
                                                                           ignored: bool) -> None:
    ann = {} if value is None else {"nginx.ingress.kubernetes.io/proxy-read-timeout": value}
    doc = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": "web", "namespace": NS, "annotations": ann},
           "spec": {"rules": [{"http": {"paths": [{"backend": {"service": {"name": UP}}}]}}]}}
    (route,) = ingress_routes(doc, UP, NS)
    assert route.per_try_timeout_ms == seconds * 1000
    assert bool(route.notes) is ignored
    # default proxy-next-upstream-tries is 3 tries in all, each cut at the read timeout
    assert budget(route).bound_ms == 3 * seconds * 1000


# ---- proposals: applied to the object, read again -----------------------------------------------------

def apply_json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 add/replace/remove, as `kubectl patch --type json` applies them; a missing parent fails."""
    out = copy.deepcopy(doc)
    for op in ops:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node: Any = out
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        key: Any = int(last) if isinstance(node, list) else last
        if op["op"] == "remove":
            del node[key]
        elif op["op"] == "replace":
            node[key]  # noqa: B018 -- must exist
            node[key] = op["value"]
        else:
            assert op["op"] == "add", op
            node[key] = op["value"]
    return out


def mesh_commands(findings: list[Finding], extra: dict[str, Any]) -> list[str]:
    """The mesh-timeout fix commands the runbook prints for these findings (facts as ranking merges them)."""
    step = next(s for s in _runbook().steps if s.cause == "mesh-timeout")
    facts: dict[str, Any] = dict(extra)
    for f in reversed(findings):
        if f.direction == "for":
            facts.update(f.facts)
    out = []
    for t in step.fixes:
        # as ranking does: a fix whose summary names a fact not found is left out, commands and all
        if t.fallback or not {n for _, n, _, _ in string.Formatter().parse(t.summary) if n} <= set(facts):
            continue
        for c in t.commands:
            filled = fill_command(c, facts)
            if isinstance(filled, str) and filled:
                out.append(filled)
    return out


def patched_route(doc: dict[str, Any], command: str) -> RouteTimeout:
    args = shlex.split(command)
    assert args[:3] == ["kubectl", "patch", "virtualservice/" + doc["metadata"]["name"]], command
    ops = json.loads(args[args.index("-p") + 1])
    (route,) = virtual_service_routes(apply_json_patch(doc, ops), UP, NS)
    return route


def assert_proposal_is_safe(route: RouteTimeout, deadline: float, p99: float | None) -> None:
    b = budget(route)
    assert b.bound_ms is not None and b.bound_ms < deadline, (route, b)
    if p99 is not None and b.tries > 1:
        assert b.per_try_ms is not None and b.per_try_ms >= p99, (route, b, p99)


def evidence(route: RouteTimeout, deadline: float, p99: float | None, *, durations: float | None = None) -> Evidence:
    signals = {}
    if p99 is not None:
        signals["upstream_latency_p99_ms"] = Signal("upstream_latency_p99_ms", "ms", {}, peak=p99, baseline=p99 / 4,
                                                    onset=None)
    inc = Incident(service=CALLER, upstream=UP, events=10, first_seen=T0, last_seen=T0, timeout_ms=deadline,
                   duration_ms=Percentiles(p50=durations or deadline, max=durations or deadline))
    return Evidence(incident=inc, window=Window(T0, T0, T0), kubernetes=KubeEvidence(namespace=NS, upstream=UP,
                    caller=CALLER, routes=(route,)),
                    prometheus=MetricsEvidence(signals=signals) if signals else None)


@functools.lru_cache(maxsize=1)
def _runbook() -> Runbook:
    return for_signal("upstream-timeout")


def _params(check_id: str) -> dict[str, Any]:
    return _runbook().params_for(checks()[check_id])


ATTEMPTS = (None, 0, 1, 2, 4)
PER_TRY = (None, "500ms", "2s", "5s")
ROUTE = (None, "3s", "8s", "15s", "45s")
DEADLINE = (1000.0, 3000.0, 10000.0, 30000.0)
P99 = (None, 120.0, 900.0, 3750.0, 9000.0, 40000.0)


@pytest.mark.parametrize("deadline,p99", list(itertools.product(DEADLINE, P99)))
def test_every_proposed_budget_fits_the_deadline_and_keeps_each_try_above_p99(deadline: float,
                                                                               p99: float | None) -> None:
    params = _params("mesh-routes")
    proposals = 0
    for attempts, per_try, timeout in itertools.product(ATTEMPTS, PER_TRY, ROUTE):
        retries = {k: v for k, v in (("attempts", attempts), ("perTryTimeout", per_try)) if v is not None}
        http = {k: v for k, v in (("timeout", timeout), ("retries", retries or None)) if v is not None}
        doc = vs_doc(http)
        (route,) = virtual_service_routes(doc, UP, NS)
        ev = evidence(route, deadline, p99)
        ref = reference_p99_ms(ev)
        for command in mesh_commands(mesh_routes(ev, params), {"caller": CALLER}):
            proposals += 1
            assert_proposal_is_safe(patched_route(doc, command), deadline, ref)
            if "perTryTimeout" in command:
                per = json.loads(shlex.split(command)[-1])[1]["value"]
                assert ref is None or parse_duration_ms(per) >= ref, (http, command)
    assert proposals, "some generated route must be over the deadline and get a proposal"


def test_when_no_per_try_value_fits_the_advice_drops_retries_with_a_route_timeout_below_the_deadline() -> None:
    # 4 s p99 x 1.2 -> tries of at least 5 s: two of them do not fit before a 10 s deadline
    doc = vs_doc({"timeout": "20s", "retries": {"attempts": 3, "perTryTimeout": "5s"}})
    (route,) = virtual_service_routes(doc, UP, NS)
    commands = mesh_commands(mesh_routes(evidence(route, 10000, 4000), _params("mesh-routes")), {"caller": CALLER})
    assert commands and not [c for c in commands if "perTryTimeout" in c], commands
    (after,) = [patched_route(doc, c) for c in commands]
    assert after.attempts == 0 and after.timeout_ms == 9000


def test_fewer_tries_are_proposed_when_all_of_them_cannot_stay_above_p99() -> None:
    pl = plan(vs(timeout="30s", retries={"attempts": 4, "perTryTimeout": "5s"}), 10000, 2000)
    assert pl is not None and pl.kind == "retries"
    # 5 tries of at least 2.4 s (2 s x 1.2) need 12 s; 3 tries x 2.9 s + 100 ms back-off fit in 9 s
    assert pl.tries == 3 and pl.per_try_ms == 2900 and "fewer tries: 5 tries" in pl.why
    assert pl.bound_ms < 10000


@pytest.mark.parametrize("bundle", FIXTURES, ids=[f.name for f in FIXTURES])
def test_no_fixture_proposes_a_try_below_p99_or_a_budget_beyond_the_deadline(bundle: Path) -> None:
    from tests.test_fixtures import analyze

    report = analyze(bundle)
    ev = _bundle_evidence(bundle)
    deadline = ev.incident.timeout_ms
    if deadline is None:        # a log that states no caller deadline (nginx's error log): nothing to keep within
        commands = [c for cause in report["causes"] for f in cause["fixes"] for c in f["commands"]]
        assert not [c for c in commands if c.startswith("kubectl patch virtualservice/")], commands
        return
    stored = json.loads((bundle / "kubernetes" / "virtualservices.json").read_text())
    for cause in report["causes"]:
        for fix in cause["fixes"]:
            for command in fix["commands"]:
                if not command.startswith("kubectl patch virtualservice/"):
                    continue
                name = shlex.split(command)[2].split("/", 1)[1]
                doc = next(d for d in stored["items"] if d["metadata"]["name"] == name)
                assert_proposal_is_safe(patched_route(doc, command), deadline, reference_p99_ms(ev))


def test_the_demo_says_3_tries_and_proposes_no_per_try_below_the_upstream_p99() -> None:
    from tests.test_fixtures import analyze

    top = analyze(ROOT / "fixtures" / "mesh-timeout")["causes"][0]
    texts = [e["summary"] for e in top["evidence"]]
    assert any("3 tries (attempts 2 + the first) x perTryTimeout 5s" in t and "capped by timeout 15s: at most 15s"
               in t and "Requests end at 15000 ms (p50): the timer that fired is VirtualService" in t
               for t in texts), texts
    assert not [t for t in texts if "3 attempts" in t]
    commands = [c for f in top["fixes"] for c in f["commands"]]
    assert any('"path":"/spec/http/0/timeout","value":"9s"' in c for c in commands), commands
    assert not [c for c in commands if '"value":"3s"' in c]


# ---- readiness probes ---------------------------------------------------------------------------------

def _probe_evidence(period: float, timeout: float, threshold: int) -> Evidence:
    probe = Probe("readiness", period_s=period, timeout_s=timeout, failure_threshold=threshold, handler="httpGet /r")
    pod = Pod(name="p-1", namespace=NS, labels={}, phase="Running", ready=True,
              containers=(Container(name=UP, probes=(probe,)),))
    inc = Incident(service=CALLER, upstream=UP, events=1, first_seen=T0, last_seen=T0, timeout_ms=10000)
    return Evidence(incident=inc, window=Window(T0, T0, T0),
                    kubernetes=KubeEvidence(namespace=NS, upstream=UP, caller=CALLER, pods=(pod,)))


def test_a_readiness_probe_removes_a_pod_after_failure_threshold_slow_probes_not_one_reply() -> None:
    (f,) = readiness_probes(_probe_evidence(2, 1, 3), _params("readiness-probes"))
    assert "one slow reply" not in f.summary
    assert "longer than 1s for 3 probes in a row (5-7s of slowness) leaves the endpoints" in f.summary


def test_a_readiness_probe_with_failure_threshold_1_is_said_to_act_on_one_reply() -> None:
    (f,) = readiness_probes(_probe_evidence(10, 1, 1), _params("readiness-probes"))
    assert "one probe reply slower than 1s removes the pod" in f.summary


def test_a_probe_that_needs_half_a_minute_of_slowness_is_not_called_aggressive() -> None:
    assert readiness_probes(_probe_evidence(10, 1, 3), _params("readiness-probes")) == []


def _bundle_evidence(bundle: Path) -> Evidence:
    target, gathered = from_bundle(read(bundle))
    return load_evidence(target, gathered)
