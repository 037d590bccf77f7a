"""Checks on the upstream's workload as the Kubernetes API shows it: resources, replicas, placement, probes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Mapping

from ..model.check import Param, check
from ..model.evidence import Evidence
from ..model.finding import Fact, Finding
from ..model.incident import clock, day_clock
from ..model.kube import KubeEvidence, Pod
from ..model.text import first_of
from .netpath import NETWORK_FACTS, network_facts, workload_facts
from .scaling import SCALING_FACTS, hpa_view, scaling_facts
from .stale import before

SOURCE = "kubernetes"


def _names(pods: list[Pod], most: int = 3) -> str:
    return first_of([p.name for p in pods], most, sep=" ", more=" ...")


def _restarted(kube: KubeEvidence, start: datetime) -> tuple[list[Pod], dict[str, datetime]]:
    """Pods whose containers restarted (not OOMKilled, not Completed) in the window, and those whose last
    such restart is before it (pod -> when its latest one ended)."""
    fresh: list[Pod] = []
    old: dict[str, datetime] = {}
    for pod in kube.pods:
        ends = [c.last_finished for c in pod.containers if c.restarts and c.last_finished and
                c.last_reason not in ("OOMKilled", "Completed")]
        if any(t >= start for t in ends):
            fresh.append(pod)
        elif ends:
            old[pod.name] = max(ends)
    return fresh, old


def _base_facts(ev: Evidence, kube: KubeEvidence) -> dict[str, Fact]:
    facts: dict[str, Fact] = {"namespace": kube.namespace, **workload_facts(kube)}
    # replicas and the HPA's bounds: one rule for every check (checks/scaling.py)
    facts.update(scaling_facts(ev))
    return facts


def _ratios(kube: KubeEvidence, use: str) -> dict[str, float]:
    """Pod -> highest usage/limit over its containers (metrics.k8s.io usage against the spec's limits)."""
    out: dict[str, float] = {}
    for pod in kube.pods:
        u = kube.usage.get(pod.name)
        if u is None:
            continue
        for c in pod.containers:
            limit = c.cpu_limit_m if use == "cpu" else c.mem_limit_b
            used = (u.cpu_m if use == "cpu" else u.mem_b).get(c.name)
            if limit and used is not None:
                out[pod.name] = max(out.get(pod.name, 0.0), used / limit)
    return out


@check("pod-resources", needs=("kubernetes",), causes=("overload",), facts=(
    "namespace", *SCALING_FACTS, "workload", "cpu_limit_ratio", "rollout_revision"), params={
    "cpu_limit_ratio": 0.9, "mem_limit_ratio": 0.9, "idle_ratio": 0.5, "weight_cpu": 1.5, "weight_mem": 0.75,
    "weight_hpa_max": 1.0, "weight_not_ready": 1.0, "weight_oom": 1.0, "weight_restarts": 0.5,
    "weight_headroom": 1.0})
def pod_resources(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """CPU and memory against limits, ready replicas, HPA at its maximum, OOMKilled restarts."""
    kube = ev.kubernetes
    if kube is None or not (kube.pods or kube.deployment):
        return []
    facts = _base_facts(ev, kube)
    out: list[Finding] = []
    n = len(kube.pods)
    cpu, mem = _ratios(kube, "cpu"), _ratios(kube, "mem")
    hot = [pod for pod in kube.pods if cpu.get(pod.name, 0.0) >= float(p["cpu_limit_ratio"])]
    if hot:
        peak = max(cpu[x.name] for x in hot)
        when = max((u.timestamp for x in hot if (u := kube.usage.get(x.name)) and u.timestamp), default=None)
        out.append(Finding("overload", "for", float(p["weight_cpu"]), SOURCE,
                           f"CPU at {peak:.0%} of limit on {len(hot)}/{n} pods ({_names(hot)}) at {clock(when)} "
                           f"(metrics.k8s.io)", facts=dict(facts, cpu_limit_ratio=round(peak, 3)), kind="cpu"))
    full = [pod for pod in kube.pods if mem.get(pod.name, 0.0) >= float(p["mem_limit_ratio"])]
    if full:
        peak = max(mem[x.name] for x in full)
        out.append(Finding("overload", "for", float(p["weight_mem"]), SOURCE,
                           f"memory at {peak:.0%} of limit on {len(full)}/{n} pods ({_names(full)})",
                           facts=dict(facts), kind="memory"))
    hpa = kube.hpa
    view = hpa_view(ev)
    if hpa is not None and hpa.at_max:
        why = f" (ScalingLimited: {hpa.scaling_limited})" if hpa.scaling_limited else ""
        other = f"; {view.conflict}" if view is not None and view.conflict else ""
        out.append(Finding("overload", "for", float(p["weight_hpa_max"]), SOURCE,
                           f"HPA {kube.namespace}/{hpa.name} at its maximum: {hpa.current}/{hpa.max_replicas} "
                           f"replicas{why}{other}", facts=dict(facts), kind="hpa"))
    dep = kube.deployment
    if dep is not None and dep.ready < dep.desired:
        out.append(Finding("overload", "for", float(p["weight_not_ready"]), SOURCE,
                           f"Deployment {dep.namespace}/{dep.name}: {dep.ready}/{dep.desired} replicas ready",
                           facts=dict(facts), kind="replicas"))
    # A container's last termination before the window is history: said, marked stale and weighed down
    # (ranking's stale_discount), and only when none in the window says more.
    oom = [(pod, c) for pod in kube.pods for c in pod.containers if c.last_reason == "OOMKilled" and
           c.last_finished is not None and ev.window.start <= c.last_finished <= ev.window.end]
    old_oom = [(pod, c) for pod in kube.pods for c in pod.containers if c.last_reason == "OOMKilled" and
               c.last_finished is not None and c.last_finished < ev.window.start]
    if oom:
        first = min(c.last_finished for _, c in oom if c.last_finished)
        out.append(Finding("overload", "for", float(p["weight_oom"]), SOURCE,
                           f"OOMKilled in the window on {len({x.name for x, _ in oom})}/{n} pods "
                           f"({_names([x for x, _ in oom])}) at {clock(first)}", onset=first, facts=dict(facts),
                           kind="oom"))
    elif old_oom:
        last = max(c.last_finished for _, c in old_oom if c.last_finished)
        out.append(Finding("overload", "for", float(p["weight_oom"]), SOURCE,
                           f"last termination OOMKilled on {len({x.name for x, _ in old_oom})}/{n} pods "
                           f"({_names([x for x, _ in old_oom])}), the latest at {day_clock(last)}",
                           facts=dict(facts), stale=f"OOMKilled {before(ev.window, last)}", kind="oom"))
    restarted, old_restarts = _restarted(kube, ev.window.start)
    if restarted:
        out.append(Finding("overload", "for", float(p["weight_restarts"]), SOURCE,
                           f"containers restarted in the window on {len(restarted)}/{n} pods ({_names(restarted)})",
                           facts=dict(facts), kind="restarts"))
    elif old_restarts:
        last = max(old_restarts.values())
        pods = [x for x in kube.pods if x.name in old_restarts]
        out.append(Finding("overload", "for", float(p["weight_restarts"]), SOURCE,
                           f"containers restarted on {len(pods)}/{n} pods ({_names(pods)}), the latest at "
                           f"{day_clock(last)}", facts=dict(facts), stale=f"restarted {before(ev.window, last)}",
                           kind="restarts"))
    if dep is not None:
        change = dep.rollout_in(ev.window.start, ev.window.end)
        if change is not None and out:
            out = [replace(f, summary=f.summary + f"; rollout to revision {change.revision} "
                           f"({', '.join(change.images)}) at {clock(change.created)}",
                           facts=dict(f.facts, rollout_revision=change.revision)) for f in out]
    # headroom is said unless a finding on the incident's own data argues for overload (older ones do not)
    fresh = [f for f in out if not f.stale]
    if not fresh and cpu and len(cpu) == n and max(cpu.values()) < float(p["idle_ratio"]) and \
            (dep is None or dep.ready >= dep.desired) and (hpa is None or not hpa.at_max):
        ready = f"; {dep.ready}/{dep.desired} ready" if dep else ""
        scale = f"; HPA {hpa.current}/{hpa.max_replicas}" if hpa else ""
        out.append(Finding("overload", "against", float(p["weight_headroom"]), SOURCE,
                           f"CPU at {max(cpu.values()):.0%} of limit at most on {n}/{n} pods{ready}{scale}",
                           facts=dict(facts)))
    return out


@check("pod-placement", needs=("kubernetes",), causes=("network",),
       facts=("namespace", "deployment", "workload", "zones", "caller_zone", *NETWORK_FACTS),
       params={
    "weight_cross_zone": 1.0, "weight_cross_region": 2.0, "weight_same_zone": 0.3})
def pod_placement(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """Zones and regions of the caller's pods against the upstream's (from their nodes' topology labels)."""
    kube = ev.kubernetes
    if kube is None:
        return []
    up_zones = sorted({x.zone for x in kube.pods if x.zone})
    call_zones = sorted({x.zone for x in kube.caller_pods if x.zone})
    if not up_zones or not call_zones:
        return []
    zones = f"{','.join(call_zones)} -> {','.join(up_zones)}"
    facts: dict[str, Fact] = {"namespace": kube.namespace, "zones": zones, "caller_zone": call_zones[0],
                              **workload_facts(kube), **network_facts(kube)}
    up_regions = {x.region for x in kube.pods if x.region}
    call_regions = {x.region for x in kube.caller_pods if x.region}
    if up_regions and call_regions and not up_regions & call_regions:
        return [Finding("network", "for", float(p["weight_cross_region"]), SOURCE,
                        f"{kube.caller} runs in region {','.join(sorted(call_regions))}, {kube.upstream} in "
                        f"{','.join(sorted(up_regions))}: every call crosses regions", facts=facts)]
    shared = set(up_zones) & set(call_zones)
    if not shared:
        return [Finding("network", "for", float(p["weight_cross_zone"]), SOURCE,
                        f"{kube.caller} pods in {', '.join(call_zones)}; {kube.upstream} pods all in "
                        f"{', '.join(up_zones)} ({len(kube.pods)}/{len(kube.pods)}): every call crosses zones",
                        facts=facts)]
    return [Finding("network", "against", float(p["weight_same_zone"]), SOURCE,
                    f"{kube.caller} and {kube.upstream} both have pods in {', '.join(sorted(shared))}", facts=facts)]


@check("readiness-probes", needs=("kubernetes",), causes=("mesh-timeout",),
       facts=("namespace", "deployment", "workload", "replicas", "replicas_suggested", "hpa", "hpa_max", "container",
              "probe_timeout", "probe_period"), params={
    "max_timeout_s": 1.0, "max_removal_s": 6.0, "weight_aggressive": 0.75})
def readiness_probes(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """Readiness probes so tight that a few seconds of slowness take a pod out of the Service's endpoints.

    A probe fails when no reply comes within timeoutSeconds; the pod is marked unready after
    failureThreshold failures in a row, one every periodSeconds: a pod slow for about periodSeconds x
    failureThreshold leaves the endpoints, not after one slow reply.
    https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#configure-probes
    """
    kube = ev.kubernetes
    if kube is None or not kube.pods:
        return []
    seen: set[tuple[str, float, float, int]] = set()
    out = []
    for c in kube.pods[0].containers:
        for pr in c.probes:
            if pr.kind != "readiness" or (c.name, pr.period_s, pr.timeout_s, pr.failure_threshold) in seen:
                continue
            seen.add((c.name, pr.period_s, pr.timeout_s, pr.failure_threshold))
            # the failureThreshold-th failed probe ends (F - 1) periods plus one timeout after the first;
            # slowness that begins just after a passing probe waits one more period for the first
            least_s = (pr.failure_threshold - 1) * pr.period_s + pr.timeout_s
            most_s = least_s + pr.period_s
            if pr.timeout_s <= float(p["max_timeout_s"]) and \
                    (pr.period_s * pr.failure_threshold <= float(p["max_removal_s"]) or pr.failure_threshold <= 1):
                failing = sum(e.count for e in kube.events if e.reason == "Unhealthy" and "Readiness" in e.message)
                extra = f"; {failing} readiness failures in the window" if failing else ""
                if pr.failure_threshold <= 1:
                    when = f"one probe reply slower than {pr.timeout_s:g}s removes the pod from the endpoints"
                else:
                    when = (f"a pod whose probe replies take longer than {pr.timeout_s:g}s for "
                            f"{pr.failure_threshold} probes in a row ({least_s:g}-{most_s:g}s of slowness) leaves "
                            f"the endpoints")
                out.append(Finding("mesh-timeout", "for", float(p["weight_aggressive"]), SOURCE,
                                   f"readinessProbe of {kube.upstream}/{c.name} ({pr.handler}): "
                                   f"every {pr.period_s:g}s, timeout {pr.timeout_s:g}s, failureThreshold "
                                   f"{pr.failure_threshold}: {when}{extra}",
                                   facts={"namespace": kube.namespace, **workload_facts(kube),
                                          "container": c.name, "probe_timeout": f"{pr.timeout_s:g}s",
                                          "probe_period": f"{pr.period_s:g}s"}))
    return out
