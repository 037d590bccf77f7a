"""Pod health as evidence: what the upstream's pods' states, their events and their nodes say.

Each state says something of its own (docs/ranking.md, "Pod health"):
- crash loops, images that cannot be pulled, pods stuck starting and no ready pod at all: the upstream is
  down (`upstream-down`); a crash loop of OOMKills is also the load outgrowing the memory limit (`overload`);
- probe failures (`Unhealthy` events in the window): probes that time out are pods too busy to answer
  (`overload`), probes refused or failing are pods that do not work (`upstream-down`);
- pending pods, by the scheduler's words (`FailedScheduling`, the PodScheduled condition): no node with the
  CPU or memory asked for, or the affinity and taints, leave the load on fewer pods (`overload`); a node
  pressure taint is node trouble (`node-pressure`);
- evictions and the conditions of the nodes under the upstream's pods (MemoryPressure, DiskPressure,
  PIDPressure, NotReady): `node-pressure`.
Containers' last terminations (OOMKills, restarts) are pod-resources' (checks/kubernetes.py), read once.
An eviction before the window is history: said, marked stale and weighed down.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Iterable, Mapping

from ..model.check import Param, check
from ..model.evidence import Evidence
from ..model.finding import Fact, Finding
from ..model.incident import Window, clock
from ..model.kube import Event, KubeEvidence, Node, Pod
from ..model.text import first_of, single_line
from .netpath import workload_facts
from .stale import before

SOURCE = "kubernetes"
CRASH = ("CrashLoopBackOff", "RestartLoopBackOff")
# Waiting reasons that mean "this container will not start by itself" (the kubelet's words).
CANNOT_START = ("ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName",
                "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "PreCreateHookError",
                "PostStartHookError")
# Taints the node lifecycle controller and the kubelet set on a node in trouble.
PRESSURE_TAINT = re.compile(r"node\.kubernetes\.io/(memory-pressure|disk-pressure|pid-pressure|not-ready|"
                            r"unreachable|network-unavailable)")
TIMED_OUT = re.compile(r"deadline exceeded|timeout|timed out", re.I)
_AVAILABLE = re.compile(r"nodes are available: ")
_LOW_ON = re.compile(r"low on resource: ([\w.-]+)")
PROBE_KINDS = ("Readiness", "Liveness", "Startup")


def _names(pods: list[Pod], most: int = 3) -> str:
    return first_of([p.name for p in pods], most, sep=" ", more=" ...")


def _cut(text: str, most: int = 160) -> str:
    return single_line(text, most, mark="...")


def _restarting(pod: Pod, least: int) -> bool:
    """A crash loop: CrashLoopBackOff, or a pod not ready that restarted at least `least` times (caught
    between back-offs, running again for a moment). One restart is pod-resources' to say, not a loop."""
    return pod.health.status in CRASH or (
        pod.health.health == "unhealthy" and pod.phase == "Running" and not pod.ready and pod.restarts >= least)


def _cannot_start(pod: Pod, unplaced: Mapping[str, str]) -> bool:
    status = pod.health.status
    return pod.health.health == "unhealthy" and status not in CRASH and pod.name not in unplaced and (
        status in CANNOT_START or (status.startswith("Err") and status != "Error") or pod.phase == "Pending")


def _unplaced(kube: KubeEvidence) -> dict[str, str]:
    """Pending pods the scheduler cannot place -> its words: the latest FailedScheduling in the window,
    else the PodScheduled condition's message."""
    said = {e.object.split("/", 1)[1]: e.message for e in kube.events
            if e.reason == "FailedScheduling" and e.object.startswith("Pod/")}
    return {x.name: said.get(x.name) or x.health.message for x in kube.pods
            if x.phase == "Pending" and (x.name in said or x.health.status == "Unschedulable")}


def _reasons(rest: str) -> str:
    """What the scheduler lists before " preemption:". Found with str.find: as a lazy regex ending in
    blanks and `preemption:` a long run of blanks was rescanned from each of its offsets (quadratic)."""
    cut = rest.find("preemption:")
    return rest[:cut].rstrip() if cut >= 0 else rest.removesuffix("\n")


def scheduling_reasons(message: str) -> dict[str, list[str]]:
    """The scheduler's reasons by kind: resources, pressure, taints, affinity, volumes, other.

    "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {node.kubernetes.io/
    memory-pressure: }. preemption: ..." -> {"resources": ["2 Insufficient cpu"], "pressure": [...]}"""
    m = _AVAILABLE.search(message)
    terms = [t.strip(" .") for t in re.split(r",\s*(?=\d)", _reasons(message[m.end():]))] if m \
        else [message.strip(" .")]
    out: dict[str, list[str]] = {}
    for term in filter(None, terms):
        low = term.lower()
        if "insufficient" in low or "too many pods" in low:
            kind = "resources"
        elif PRESSURE_TAINT.search(low):
            kind = "pressure"
        elif "taint" in low:
            kind = "taints"
        elif "affinity" in low or "selector" in low or "topology spread" in low:
            kind = "affinity"
        elif "volume" in low:
            kind = "volumes"
        else:
            kind = "other"
        out.setdefault(kind, []).append(term)
    return out


def _probe_events(events: Iterable[Event], pods: set[str]) -> dict[str, list[Event]]:
    """Probe failures in the window by probe kind: `Unhealthy` events, and `Killing` for a failed probe."""
    out: dict[str, list[Event]] = {}
    for e in events:
        if e.object.split("/", 1)[-1] not in pods:
            continue
        for kind in PROBE_KINDS:
            if (e.reason == "Unhealthy" and e.message.startswith(f"{kind} probe failed")) or \
                    (e.reason == "Killing" and f"failed {kind.lower()} probe" in e.message):
                out.setdefault(kind, []).append(e)
    return out


def _evicted_when(pod: Pod, events: Iterable[Event]) -> datetime | None:
    said = [e.last for e in events if e.reason == "Evicted" and e.object == f"Pod/{pod.name}" and e.last]
    return max(said) if said else pod.health.since


def _eviction_stale(window: Window, evicted: list[tuple[Pod, datetime | None]]) -> str | None:
    """Stale text when every eviction predates the window (or cannot be dated and the pod is older)."""
    # An eviction no time dates and no start bounds is never stale (as an undated dump is not).
    if any(t is not None and t >= window.start for _, t in evicted) or \
            any(t is None and (p.created is None or p.created >= window.start) for p, t in evicted):
        return None
    dated = [t for _, t in evicted if t is not None]
    if dated:
        return f"evicted {before(window, max(dated))}"
    latest = max(p.created for p, _ in evicted if p.created is not None)
    return f"evicted at a time its status does not say, after it started {before(window, latest)}"


def _node_trouble(node: Node) -> list[str]:
    words = [f"{c} since {clock(node.since[c])}" if c in node.since else c for c in node.pressure]
    if not node.ready:
        words.append(f"NotReady since {clock(node.since['Ready'])}" if "Ready" in node.since else "NotReady")
    return words


@check("pod-health", needs=("kubernetes",), causes=("overload", "node-pressure", "upstream-down"), facts=(
    "namespace", "deployment", "workload", "pod", "pod_state", "node", "node_condition", "evicted_pod"), params={
    "crash_restarts": 3,
    "weight_crashloop": 1.5, "weight_crash_oom": 0.5, "weight_cannot_start": 1.5, "weight_no_ready": 2.0,
    "weight_all_ready": 1.0, "weight_probe_timeout": 0.75, "weight_probe_failed": 0.75,
    "weight_pending_resources": 1.0, "weight_pending_placement": 0.3, "weight_pending_pressure": 1.0,
    "weight_evicted": 1.5, "weight_node_condition": 1.5, "weight_nodes_ok": 0.5})
def pod_health(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """Crash loops, pods that cannot start, probe failures, pending pods, evictions and node conditions."""
    kube = ev.kubernetes
    if kube is None or not kube.pods:
        return []
    base: dict[str, Fact] = {"namespace": kube.namespace, **workload_facts(kube)}
    pods = list(kube.pods)
    unplaced = _unplaced(kube)
    return [*_down(kube, pods, unplaced, base, p), *_probes(kube, pods, base, p),
            *_pending(kube, pods, unplaced, base, p), *_nodes(ev, kube, pods, base, p)]


def _down(kube: KubeEvidence, pods: list[Pod], unplaced: Mapping[str, str], base: dict[str, Fact],
          p: Mapping[str, Param]) -> list[Finding]:
    out: list[Finding] = []
    n = len(pods)
    looping = [x for x in pods if _restarting(x, int(p["crash_restarts"]))]
    if looping:
        first = looping[0]
        detail = "; ".join(f"{x.name} ({x.health.status}, restarted {x.restarts} times"
                           + (f", last {', '.join(r)}" if (r := sorted({c.last_reason for c in x.containers
                                                                      if c.last_reason})) else "") + ")"
                           for x in looping[:3])
        out.append(Finding("upstream-down", "for", float(p["weight_crashloop"]), SOURCE,
                           f"{len(looping)}/{n} pods of {kube.upstream} crash-looping: {detail}",
                           facts=dict(base, pod=first.name, pod_state=first.health.status)))
        oom = [x for x in looping if any(c.last_reason == "OOMKilled" for c in x.containers)]
        if oom:
            out.append(Finding("overload", "for", float(p["weight_crash_oom"]), SOURCE,
                               f"{len(oom)}/{n} pods crash-looping on OOMKills ({_names(oom)}): killed for memory "
                               f"again and again, the load outgrows the memory limit", facts=dict(base)))
    stuck = [x for x in pods if _cannot_start(x, unplaced)]
    if stuck:
        detail = "; ".join(f"{x.name} ({x.health.status}" + (f": {_cut(x.health.message, 120)}" if x.health.message
                                                              else "") + ")" for x in stuck[:3])
        out.append(Finding("upstream-down", "for", float(p["weight_cannot_start"]), SOURCE,
                           f"{len(stuck)}/{n} pods of {kube.upstream} cannot start: {detail}",
                           facts=dict(base, pod=stuck[0].name, pod_state=stuck[0].health.status)))
    current = [x for x in pods if x.phase not in ("Succeeded", "Failed") and x.health.status != "Terminating"]
    ready = [x for x in current if x.ready]
    endpoints = kube.service.ready_endpoints if kube.service is not None else None
    if current and not ready:
        eps = f"; Service {kube.service.name} has no ready endpoints" if kube.service and endpoints == 0 else ""
        out.append(Finding("upstream-down", "for", float(p["weight_no_ready"]), SOURCE,
                           f"0/{len(current)} pods of {kube.upstream} ready{eps}", facts=dict(base)))
    elif current and len(ready) == len(current) and not looping and not stuck:
        out.append(Finding("upstream-down", "against", float(p["weight_all_ready"]), SOURCE,
                           f"{len(ready)}/{len(current)} pods of {kube.upstream} ready, none crash-looping or "
                           f"waiting to start", facts=dict(base)))
    return out


def _probes(kube: KubeEvidence, pods: list[Pod], base: dict[str, Fact], p: Mapping[str, Param]) -> list[Finding]:
    out: list[Finding] = []
    by_name = {x.name: x for x in pods}
    for kind, events in _probe_events(kube.events, set(by_name)).items():
        total = sum(e.count for e in events)
        failing = sorted({e.object.split("/", 1)[-1] for e in events})
        said = [e for e in events if e.reason == "Unhealthy"]
        slow = sum(e.count for e in said if TIMED_OUT.search(e.message))
        example = _cut(next((e.message for e in said), events[0].message))
        where = f"{len(failing)}/{len(pods)} pods ({_names([by_name[x] for x in failing])})"
        kills = sum(e.count for e in events if e.reason == "Killing")
        restarted = f"; {kills} containers restarted for it" if kills else ""
        facts = dict(base, pod=failing[0])
        if said and slow * 2 >= sum(e.count for e in said):
            out.append(Finding("overload", "for", float(p["weight_probe_timeout"]), SOURCE,
                               f"{kind} probe timed out {slow} times in the window on {where}{restarted}: the pods "
                               f"answer their probe slower than its timeout, too busy to reply ({example})",
                               facts=facts))
        else:
            out.append(Finding("upstream-down", "for", float(p["weight_probe_failed"]), SOURCE,
                               f"{kind} probe failed {total} times in the window on {where}{restarted} ({example})",
                               facts=facts))
    return out


def _pending(kube: KubeEvidence, pods: list[Pod], unplaced: Mapping[str, str], base: dict[str, Fact],
             p: Mapping[str, Param]) -> list[Finding]:
    """Pods the scheduler cannot place, by its own words: for lack of resources, for placement rules, for
    nodes tainted by their own trouble."""
    pending = [x for x in pods if x.name in unplaced]
    if not pending:
        return []
    kinds: dict[str, list[str]] = {}
    messages: list[str] = []
    for x in pending:
        message = unplaced[x.name]
        messages.append(message)
        for kind, terms in scheduling_reasons(message).items():
            kinds.setdefault(kind, []).extend(terms)
    text = (f"{len(pending)}/{len(pods)} pods of {kube.upstream} pending, the scheduler cannot place them "
            f"({_names(pending)}): {_cut(messages[0].split(' preemption:')[0].strip(' .'), 200)}")
    facts = dict(base, pod=pending[0].name, pod_state="Pending")
    out: list[Finding] = []
    if "resources" in kinds:
        out.append(Finding("overload", "for", float(p["weight_pending_resources"]), SOURCE,
                           f"{text}: no node has the {', '.join(_resources(kinds['resources']))} they request, so "
                           f"the load stays on fewer pods", facts=facts))
    elif kinds.keys() & {"taints", "affinity", "volumes", "other"}:
        why = ", ".join(k for k in ("affinity", "taints", "volumes") if k in kinds) or "other reasons"
        out.append(Finding("overload", "for", float(p["weight_pending_placement"]), SOURCE,
                           f"{text}: placement rules ({why}), not capacity, keep them off the nodes, and the load "
                           f"stays on fewer pods", facts=facts))
    if "pressure" in kinds:
        taints = sorted({m.group(1) for t in kinds["pressure"] if (m := PRESSURE_TAINT.search(t))})
        out.append(Finding("node-pressure", "for", float(p["weight_pending_pressure"]), SOURCE,
                           f"{text}: nodes tainted {', '.join(taints)}, in trouble themselves", facts=facts))
    return out


def _resources(terms: list[str]) -> list[str]:
    found = sorted({m.group(1) for t in terms if (m := re.search(r"Insufficient (\S+)", t))})
    return found + (["pod slots"] if any("Too many pods" in t for t in terms) else [])


def _nodes(ev: Evidence, kube: KubeEvidence, pods: list[Pod], base: dict[str, Fact],
           p: Mapping[str, Param]) -> list[Finding]:
    out: list[Finding] = []
    evicted = [(x, _evicted_when(x, kube.events)) for x in pods if x.health.status == "Evicted"]
    if evicted:
        stale = _eviction_stale(ev.window, evicted)
        shown = [(x, t) for x, t in evicted if stale or t is None or t >= ev.window.start] or evicted
        low = sorted({m.group(1).rstrip(".") for x, _ in shown if (m := _LOW_ON.search(x.health.message))})
        dated = [t for _, t in shown if t is not None]
        when = f", the latest at {max(dated):%Y-%m-%d %H:%MZ}" if stale and dated else \
            (f" from {clock(min(dated))}" if dated else "")
        nodes = sorted({x.node for x, _ in shown if x.node})
        on = f" on node {', '.join(nodes)}" if nodes else ""
        first = shown[0][0]
        out.append(Finding(
            "node-pressure", "for", float(p["weight_evicted"]), SOURCE,
            f"{len(shown)}/{len(pods)} pods of {kube.upstream} evicted by the kubelet{on}{when} "
            f"({_names([x for x, _ in shown])})"
            + (f": the node was low on {', '.join(low)}" if low else f": {_cut(first.health.message)}"),
            onset=None if stale or not dated else min(dated), stale=stale,
            # the node is named for its fixes only when the eviction is the incident's: an old one says
            # nothing of the node now
            facts=dict(base, evicted_pod=first.name, **({"node": first.node, "node_condition": (
                f"low on {', '.join(low)}, " if low else "") + "evicting pods"} if first.node and not stale else {}))))
    under = sorted({x.node for x in pods if x.node})
    seen = [kube.nodes[name] for name in under if name in kube.nodes]
    troubled = [(node, words) for node in seen if (words := _node_trouble(node))]
    if troubled:
        node, words = troubled[0]
        detail = "; ".join(f"{nd.name}: {', '.join(w)}" for nd, w in troubled[:3])
        onsets = [t for nd, _ in troubled for c, t in nd.since.items() if c in nd.pressure or c == "Ready"]
        out.append(Finding("node-pressure", "for", float(p["weight_node_condition"]), SOURCE,
                           f"{len(troubled)}/{len(seen)} nodes under {kube.upstream}'s pods in trouble: {detail}",
                           onset=min(onsets) if onsets else None,
                           facts=dict(base, node=node.name, node_condition=", ".join(words))))
    fresh = [f for f in out if not f.stale]
    if seen and not fresh and len(seen) == len(under):
        out.append(Finding("node-pressure", "against", float(p["weight_nodes_ok"]), SOURCE,
                           f"{len(seen)}/{len(under)} nodes under {kube.upstream}'s pods Ready, with no memory, disk "
                           f"or PID pressure", facts=dict(base)))
    return out

