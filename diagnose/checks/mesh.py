"""Mesh, load balancer and ingress timeouts on the route caller -> upstream (the mesh-timeout cause).

The timeout budget: the caller gives up after `timeout_ms`; the mesh in between may retry `attempts` times
with `perTryTimeout` each, bounded by the route's own `timeout`. A budget beyond the caller's deadline keeps
the upstream busy after the caller has gone, and is the usual reason a caller logs a duration longer than
its own timeout (duration_ms 15000 against timeout_ms 10000).
"""

from __future__ import annotations

import math
from typing import Mapping

from ..model.check import Param, check
from ..model.evidence import Evidence
from ..model.finding import Finding
from ..model.kube import RouteTimeout, TrafficPolicy

SOURCE = "kubernetes"


def fmt_ms(ms: float) -> str:
    """15000 -> "15s", 1500 -> "1.5s", 250 -> "250ms": as the mesh configs spell durations."""
    if ms >= 1000:
        s = ms / 1000.0
        return f"{s:g}s"
    return f"{ms:g}ms"


def normal_latency_ms(ev: Evidence) -> tuple[float | None, str]:
    """The upstream's usual p99 (from Prometheus before the incident), and where it came from."""
    if ev.prometheus is not None:
        sig = ev.prometheus.get("upstream_latency_p99_ms")
        if sig is not None:
            value = sig.baseline if sig.baseline is not None else sig.peak
            if value is not None:
                return float(value), "p99 before the incident" if sig.baseline is not None else "p99"
    return None, ""


def retry_budget_ms(r: RouteTimeout) -> float | None:
    """How long the mesh may hold one request: attempts x perTryTimeout, capped by the route timeout."""
    if r.attempts and r.per_try_timeout_ms:
        budget = r.attempts * r.per_try_timeout_ms
        return min(budget, r.timeout_ms) if r.timeout_ms else budget
    return r.timeout_ms


def _near(a: float | None, b: float | None, tol: float) -> bool:
    return a is not None and b is not None and b > 0 and abs(a - b) <= tol * b


def _short(name: str) -> str:
    return name.split("/", 1)[-1]


def _route_findings(r: RouteTimeout, ev: Evidence, p: Mapping[str, Param], p99: float | None,
                    p99_from: str) -> list[Finding]:
    inc = ev.incident
    caller, deadline = inc.service, inc.timeout_ms
    durations = inc.duration_ms.p50 if inc.duration_ms.p50 is not None else inc.duration_ms.max
    tol = float(p["match_tolerance"])
    what = f"{r.kind} {r.name}"
    facts: dict[str, str | int | float] = {"namespace": r.name.split("/", 1)[0], "route": r.route}
    if r.kind == "VirtualService":
        facts["virtualservice"] = _short(r.name)
        if r.index is not None:
            facts["route_index"] = r.index
    elif r.kind == "Ingress":
        facts["ingress"] = _short(r.name)
    else:
        facts["serviceprofile"] = _short(r.name)
    if r.timeout_ms is not None:
        facts["route_timeout"] = fmt_ms(r.timeout_ms)
    if deadline:
        facts["caller_timeout"] = fmt_ms(deadline)
    out: list[Finding] = []
    budget = retry_budget_ms(r)

    if r.attempts and r.per_try_timeout_ms and deadline and budget is not None and budget > deadline:
        facts.update(attempts=r.attempts, per_try_timeout=fmt_ms(r.per_try_timeout_ms),
                     per_try_timeout_suggested=fmt_ms(max(1.0, (deadline * 0.9) // r.attempts)))
        text = (f"{what}: {r.attempts} attempts x perTryTimeout {fmt_ms(r.per_try_timeout_ms)} = {fmt_ms(budget)}"
                f" > {caller}'s {fmt_ms(deadline)} deadline")
        weight = float(p["weight_retry_budget"])
        if _near(durations, budget, tol):
            text += f": explains duration_ms {durations:g} vs timeout_ms {deadline:g}"
            weight += float(p["weight_explains"])
        out.append(Finding("mesh-timeout", "for", weight, SOURCE, text, facts=dict(facts)))
    if r.timeout_ms is not None and p99 is not None and r.timeout_ms <= p99:
        out.append(Finding("mesh-timeout", "for", float(p["weight_below_p99"]), SOURCE,
                           f"{what}: timeout {fmt_ms(r.timeout_ms)} is at or below the upstream's {p99_from} "
                           f"{fmt_ms(p99)}",
                           # twice the upstream's p99, in whole seconds: room for its normal pace
                           facts={**facts, "route_timeout_suggested": fmt_ms(1000 * math.ceil(2 * p99 / 1000))}))
    if r.timeout_ms is not None and deadline and _near(r.timeout_ms, deadline, 0.02):
        out.append(Finding("mesh-timeout", "for", float(p["weight_equal"]), SOURCE,
                           f"{what}: timeout {fmt_ms(r.timeout_ms)} equals {caller}'s {fmt_ms(deadline)} deadline: "
                           f"no headroom between them", facts=dict(facts)))
    elif r.timeout_ms is not None and deadline and r.timeout_ms < deadline and _near(durations, r.timeout_ms, tol):
        out.append(Finding("mesh-timeout", "for", float(p["weight_equal"]), SOURCE,
                           f"{what}: timeout {fmt_ms(r.timeout_ms)} is shorter than {caller}'s "
                           f"{fmt_ms(deadline)} and requests end at {durations:g} ms: the mesh cuts them first",
                           facts=dict(facts)))
    if out or budget is None:
        return out
    fits = deadline is None or budget < deadline
    roomy = p99 is not None and budget >= float(p["headroom_ratio"]) * p99
    if fits and (roomy or p99 is None):
        retry = (f", retries {r.attempts} x {fmt_ms(r.per_try_timeout_ms)}" if r.attempts and r.per_try_timeout_ms
                 else "")
        text = f"{what}: timeout {fmt_ms(r.timeout_ms) if r.timeout_ms else 'unset'}{retry}: at most {fmt_ms(budget)}"
        text += f", within {caller}'s {fmt_ms(deadline)} deadline" if deadline else ""
        if p99 is not None:
            text += f" and {budget / p99:.0f}x the upstream's {p99_from} {fmt_ms(p99)}"
        weight = float(p["weight_headroom"]) * (1.0 if p99 is not None else 0.5)
        out.append(Finding("mesh-timeout", "against", weight, SOURCE, text, facts=dict(facts)))
    return out


def _policy_findings(d: TrafficPolicy, p: Mapping[str, Param]) -> list[Finding]:
    out: list[Finding] = []
    tiny = int(p["tiny_pool"])
    facts = {"destinationrule": _short(d.name), "namespace": d.name.split("/", 1)[0]}
    pool = (("maxConnections", d.max_connections), ("http1MaxPendingRequests", d.http1_max_pending),
            ("http2MaxRequests", d.http2_max_requests))
    limits = [(n, v) for n, v in pool if v is not None and v <= tiny]
    if limits:
        out.append(Finding("mesh-timeout", "for", float(p["weight_pool"]), SOURCE,
                           f"DestinationRule {d.name}: connectionPool " +
                           ", ".join(f"{n} {v}" for n, v in limits) + ": requests queue or overflow in the mesh",
                           facts=facts))
    if d.consecutive_errors is not None and (d.consecutive_errors <= int(p["eject_after"]) or
                                             (d.max_ejection_percent or 0) >= 100):
        out.append(Finding("mesh-timeout", "for", float(p["weight_outlier"]), SOURCE,
                           f"DestinationRule {d.name}: outlierDetection ejects a pod after {d.consecutive_errors} "
                           f"errors for {fmt_ms(d.ejection_time_ms or 30000)}, up to {d.max_ejection_percent or 10}% "
                           f"of pods", facts=facts))
    return out


@check("mesh-routes", needs=("kubernetes",), causes=("mesh-timeout",), facts=(
    "namespace", "route", "route_index", "virtualservice", "ingress", "serviceprofile", "destinationrule",
    "route_timeout", "route_timeout_suggested", "attempts", "per_try_timeout", "per_try_timeout_suggested",
    "caller_timeout"), params={
    "weight_retry_budget": 2.0, "weight_explains": 1.0, "weight_below_p99": 2.0, "weight_equal": 1.0,
    "weight_pool": 1.0, "weight_outlier": 0.5, "weight_headroom": 1.0, "weight_no_routes": 0.5,
    "headroom_ratio": 2.0, "match_tolerance": 0.1, "tiny_pool": 10, "eject_after": 1})
def mesh_routes(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """Mesh and ingress timeouts and retries on the route to the upstream, against the caller's deadline."""
    kube = ev.kubernetes
    if kube is None:
        return []
    p99, p99_from = normal_latency_ms(ev)
    out: list[Finding] = []
    for r in kube.routes:
        out += _route_findings(r, ev, p, p99, p99_from)
    for d in kube.policies:
        out += _policy_findings(d, p)
    mesh_kinds = ("virtualservices", "serviceprofiles", "ingresses")
    if not kube.routes and all(kube.saw(k) or kube.missing.get(k, "").startswith("not served") for k in mesh_kinds):
        out.append(Finding("mesh-timeout", "against", float(p["weight_no_routes"]), SOURCE,
                           f"no VirtualService, ServiceProfile or Ingress in {kube.namespace} sets a timeout or "
                           f"retries for {kube.upstream}"))
    return out
