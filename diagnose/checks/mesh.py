"""Mesh, load balancer and ingress timeouts on the route caller -> upstream (the mesh-timeout cause).

The timeout budget: the caller gives up after `timeout_ms`; the proxy in between may hold the request for
up to min(route timeout, tries x per-try timeout + back-off) (retry_budget.py has each proxy's semantics
and references). A bound beyond the caller's deadline keeps the upstream busy after the caller has gone,
and is the usual reason a caller logs a duration longer than its own timeout (duration_ms 15000 against
timeout_ms 10000). The fix proposed fits the deadline and keeps each try above the upstream's p99.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from ..model.check import Param, check
from ..model.evidence import Evidence
from ..model.finding import Fact, Finding
from ..model.kube import KubeEvidence, RouteTimeout, TrafficPolicy
from .retry_budget import Plan, budget, describe, fmt_ms, plan

SOURCE = "kubernetes"


def normal_latency_ms(ev: Evidence) -> tuple[float | None, str]:
    """The upstream's usual p99 (from Prometheus before the incident), and where it came from."""
    if ev.prometheus is not None:
        sig = ev.prometheus.get("upstream_latency_p99_ms")
        if sig is not None:
            value = sig.baseline if sig.baseline is not None else sig.peak
            if value is not None:
                return float(value), "p99 before the incident" if sig.baseline is not None else "p99"
    return None, ""


def reference_p99_ms(ev: Evidence) -> float | None:
    """The p99 a proposed per-try timeout must stay above: the higher of before and during the incident,
    so that no try we propose is cut below the pace the upstream really has."""
    if ev.prometheus is None:
        return None
    sig = ev.prometheus.get("upstream_latency_p99_ms")
    values = [float(v) for v in (sig.baseline, sig.peak) if v is not None] if sig is not None else []
    return max(values) if values else None


def _near(a: float | None, b: float | None, tol: float) -> bool:
    return a is not None and b is not None and b > 0 and abs(a - b) <= tol * b


def _short(name: str) -> str:
    return name.split("/", 1)[-1]


def plan_facts(r: RouteTimeout, pl: Plan) -> dict[str, Fact]:
    """The proposed budget as the runbook's fix templates name it (runbooks/upstream-timeout.yaml)."""
    out: dict[str, Fact] = {"route_timeout_suggested": fmt_ms(pl.route_timeout_ms)}
    if r.kind == "Ingress":
        # ingress-nginx reads whole seconds: the read timeout cuts each try
        per_try = pl.per_try_ms if pl.per_try_ms is not None else pl.route_timeout_ms
        out = {"proxy_read_timeout_suggested": int(per_try // 1000), "proxy_next_upstream_tries_suggested": pl.tries,
               "budget_reason": pl.why}
    elif pl.kind == "retries" and pl.per_try_ms is not None:
        out.update(attempts_suggested=pl.tries - 1, tries_suggested=pl.tries,
                   per_try_timeout_suggested=fmt_ms(pl.per_try_ms), budget_reason=pl.why)
    elif pl.kind == "no-retry":
        out["no_retry_reason"] = pl.why
    else:
        out["timeout_reason"] = pl.why
    return out


def _route_findings(r: RouteTimeout, ev: Evidence, p: Mapping[str, Param], p99: float | None,
                    p99_from: str, fired: bool = False) -> list[Finding]:
    inc = ev.incident
    caller, deadline = inc.service, inc.timeout_ms
    what = f"{r.kind} {r.name}"
    facts: dict[str, Fact] = {"namespace": r.name.split("/", 1)[0], "route": r.route}
    if r.kind == "VirtualService":
        facts["virtualservice"] = _short(r.name)
    elif r.kind == "Ingress":
        facts["ingress"] = _short(r.name)
    else:
        facts["serviceprofile"] = _short(r.name)
    if r.index is not None:
        facts["route_index"] = r.index
    if r.timeout_ms is not None:
        facts["route_timeout"] = fmt_ms(r.timeout_ms)
    if r.attempts is not None:
        facts["attempts"] = r.attempts
    if r.per_try_timeout_ms is not None:
        facts["per_try_timeout"] = fmt_ms(r.per_try_timeout_ms)
    if deadline:
        facts["caller_timeout"] = fmt_ms(deadline)
    b = budget(r)
    bound = b.bound_ms
    said = describe(r, b) + "".join(f" ({n})" for n in r.notes)
    out: list[Finding] = []

    if deadline and bound is not None and bound > deadline * 1.02:
        text = f"{what}: {said} > {caller}'s {fmt_ms(deadline)} deadline"
        # retries multiply the time the upstream is held; a lone long timeout only outlasts the caller
        weight = float(p["weight_retry_budget"] if b.tries > 1 and b.per_try_ms is not None else p["weight_equal"])
        # whether the durations show this bound firing is the timeout chain's to say (timeout_chain)
        out.append(Finding("mesh-timeout", "for", weight, SOURCE, text, facts=dict(facts)))
    elif deadline and _near(bound, deadline, 0.02):
        out.append(Finding("mesh-timeout", "for", float(p["weight_equal"]), SOURCE,
                           f"{what}: {said}, the same as {caller}'s {fmt_ms(deadline)} deadline: "
                           f"no headroom between them", facts=dict(facts)))
    try_ms = b.per_try_ms if b.cap_ms is None or b.per_try_ms is None else min(b.per_try_ms, b.cap_ms)
    # A try cut close to the upstream's usual p99 (not only below it) cuts its normal slow requests: that is
    # the finding, never a reason to rule the mesh out.
    if try_ms is not None and p99 is not None and try_ms <= p99 * float(p["near_p99_ratio"]):
        cut = "each try is cut at" if b.tries > 1 or r.per_try_timeout_ms is not None else "timeout"
        where = "at or below" if try_ms <= p99 else "close to"
        out.append(Finding("mesh-timeout", "for", float(p["weight_below_p99"]), SOURCE,
                           f"{what}: {cut} {fmt_ms(try_ms)}, {where} the upstream's {p99_from} "
                           f"{fmt_ms(p99)}", facts=dict(facts)))
    for lie in r.ignored:
        out.append(Finding("mesh-timeout", "for", float(p["weight_ignored"]), SOURCE,
                           f"{what}: {lie}: the object says one timeout and the proxy applies another",
                           facts=dict(facts)))
    if out:
        if deadline:
            pl = plan(r, deadline, reference_p99_ms(ev), fit_ratio=float(p["fit_ratio"]),
                      headroom=float(p["per_try_headroom"]))
            if pl is not None:
                # one proposal per route, on its first finding: the fixes of one route never disagree
                first = out[0]
                out[0] = Finding(first.cause, first.direction, first.weight, first.source, first.summary,
                                 first.onset, {**first.facts, **plan_facts(r, pl)})
        return out
    if bound is None:
        return out
    # Headroom is measured against the caller's deadline when it is known, else against the upstream's
    # usual latency; with neither known a bound is no evidence either way.
    roomy = p99 is not None and bound >= float(p["headroom_ratio"]) * p99
    fits = bound < deadline and (roomy or p99 is None) if deadline else roomy
    # A bound the durations show firing (the timeout chain) ended the requests: it is the finding, not
    # headroom, however far it sits from the caller's deadline or the upstream's p99.
    if fits and not fired:
        text = f"{what}: {said}"
        text += f", within {caller}'s {fmt_ms(deadline)} deadline" if deadline else ""
        if p99 is not None:
            text += f" and {bound / p99:.0f}x the upstream's {p99_from} {fmt_ms(p99)}"
        weight = float(p["weight_headroom"]) * (1.0 if p99 is not None else 0.5)
        out.append(Finding("mesh-timeout", "against", weight, SOURCE, text, facts=dict(facts)))
    return out


@dataclass(frozen=True)
class Timer:
    """One timer on the path caller -> (ingress) -> (sidecar) -> upstream, and the time it ends a request at."""

    where: str                   # "frontend-api's own timeout", "VirtualService production/x http[0]"
    what: str                    # how it is set, as the reader can check it
    ms: float
    caller: bool = False
    route: RouteTimeout | None = None      # the route whose setting this is (None: the caller's own)


_ORDER = {"Ingress": 0, "VirtualService": 1, "ServiceProfile": 2}


def timers(ev: Evidence, routes: tuple[RouteTimeout, ...]) -> list[Timer]:
    """Every timer in force, in path order: the caller's own, then each proxy's per-try and whole bounds."""
    inc = ev.incident
    out = [Timer(f"{inc.service}'s own timeout", fmt_ms(inc.timeout_ms), inc.timeout_ms, caller=True)] \
        if inc.timeout_ms else []
    for r in sorted(routes, key=lambda r: _ORDER.get(r.kind, 3)):
        b = budget(r)
        where = f"{r.kind} {r.name}" + (f" (route {r.route})" if r.kind != "Ingress" and r.route else "")
        lies = "".join(f" ({n})" for n in r.ignored)
        per_name = "proxy-read-timeout" if r.kind == "Ingress" else "perTryTimeout"
        if r.kind == "Ingress" and r.connect_timeout_ms:
            out.append(Timer(where, f"proxy-connect-timeout {fmt_ms(r.connect_timeout_ms)} (a connect that fails)",
                             r.connect_timeout_ms, route=r))
        if b.per_try_ms is not None and b.tries > 1 and (b.cap_ms is None or b.per_try_ms < b.cap_ms):
            out.append(Timer(where, f"{per_name} {fmt_ms(b.per_try_ms)}, one try{lies}", b.per_try_ms, route=r))
        # a route nothing bounds is listed too (a timeout of days is no timer): it never fires
        out.append(Timer(where, describe(r, b) + lies, b.bound_ms if b.bound_ms is not None else math.inf,
                         route=r))
    return out


def timeout_chain(ev: Evidence, routes: tuple[RouteTimeout, ...],
                  p: Mapping[str, Param]) -> tuple[Finding | None, Timer | None]:
    """One finding naming every timer in force on the path and the one whose value the observed durations
    match: requests clustered at (attempts + 1) x perTryTimeout, at ingress-nginx's 60 s default, or at the
    caller's own deadline; and that timer when it is a proxy's. None when the durations are unknown or no
    proxy stands on the path."""
    inc = ev.incident
    observed = inc.duration_ms.p50 if inc.duration_ms.p50 is not None else inc.duration_ms.max
    if observed is None or not routes:
        return None, None
    chain = timers(ev, routes)
    if not chain:
        return None, None
    tol = float(p["match_tolerance"])
    near = sorted((abs(t.ms - observed) / t.ms, i) for i, t in enumerate(chain)
                  if math.isfinite(t.ms) and _near(observed, t.ms, tol))
    path = " -> ".join(dict.fromkeys([inc.service] + [f"{r.kind} {r.name}" for r in sorted(
        routes, key=lambda r: _ORDER.get(r.kind, 3))] + [inc.upstream]))
    listed = "; ".join(f"{t.where}: {t.what}" if not t.caller else f"{t.where} {t.what}" for t in chain)
    text = f"timeouts on the path {path}: {listed}. Requests end at {observed:g} ms (p50)"
    if near:
        best = chain[near[0][1]]
        same = [chain[i] for d, i in near if d == near[0][0]]
        if any(t.caller for t in same) and len(same) > 1:
            return None, None                # the caller's own and a proxy's end requests at the same time
        if best.caller:
            # the durations say the caller's timer fired; a route still wrong (a try below the p99) keeps its
            # own finding, and this small weight does not outweigh it
            return Finding("mesh-timeout", "against", float(p["weight_caller_fired"]), SOURCE,
                           f"{text}: {best.where} ({best.what}) ended them, not a proxy's timer"), None
        return Finding("mesh-timeout", "for", float(p["weight_explains"]), SOURCE,
                       f"{text}: the timer that fired is {best.where}, {best.what}"), best
    if inc.timeout_ms and observed < inc.timeout_ms * (1 - tol):
        return Finding("mesh-timeout", "for", float(p["weight_unseen_timer"]), SOURCE,
                       f"{text}, well before {inc.service}'s own {fmt_ms(inc.timeout_ms)}, and no timer read on "
                       f"the path matches: a timer not read here ended them (a gateway, a load balancer, a "
                       f"client library)"), None
    return None, None


def _invalid_findings(kube: KubeEvidence, p: Mapping[str, Param]) -> list[Finding]:
    """An object on the route its proxy cannot read: its timeouts and retries are not what it says."""
    return [Finding("mesh-timeout", "for", float(p["weight_invalid"]), SOURCE, f"{i.kind} {i.name}: {i.why}",
                    facts={"namespace": i.name.split("/", 1)[0]}) for i in kube.invalid if i.bound]


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
    "route_timeout", "route_timeout_suggested", "attempts", "attempts_suggested", "tries_suggested",
    "per_try_timeout", "per_try_timeout_suggested", "budget_reason", "no_retry_reason", "timeout_reason",
    "proxy_read_timeout_suggested", "proxy_next_upstream_tries_suggested", "caller_timeout"), params={
    "weight_retry_budget": 2.0, "weight_explains": 1.0, "weight_below_p99": 2.0, "weight_equal": 1.0,
    "weight_pool": 1.0, "weight_outlier": 0.5, "weight_headroom": 1.0, "weight_no_routes": 0.5,
    "weight_ignored": 0.5, "weight_invalid": 1.0, "weight_caller_fired": 0.5, "weight_unseen_timer": 0.5,
    "headroom_ratio": 2.0, "match_tolerance": 0.1, "near_p99_ratio": 1.1, "tiny_pool": 10, "eject_after": 1,
    # a proposed budget ends by fit_ratio x the caller's deadline, each try >= per_try_headroom x p99
    "fit_ratio": 0.9, "per_try_headroom": 1.2})
def mesh_routes(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """Mesh and ingress timeouts and retries on the route to the upstream, against the caller's deadline."""
    kube = ev.kubernetes
    if kube is None:
        return []
    p99, p99_from = normal_latency_ms(ev)
    out: list[Finding] = []
    chain, fired = timeout_chain(ev, kube.routes, p)
    for r in kube.routes:
        out += _route_findings(r, ev, p, p99, p99_from, fired=fired is not None and fired.route is r)
    out += _invalid_findings(kube, p)
    if chain is not None:
        out.append(chain)
    for d in kube.policies:
        out += _policy_findings(d, p)
    mesh_kinds = ("virtualservices", "serviceprofiles", "ingresses")
    if not kube.routes and all(kube.saw(k) or kube.missing.get(k, "").startswith("not served") for k in mesh_kinds):
        out.append(Finding("mesh-timeout", "against", float(p["weight_no_routes"]), SOURCE,
                           f"no VirtualService, ServiceProfile or Ingress in {kube.namespace} sets a timeout or "
                           f"retries for {kube.upstream}"))
    return out
