"""How many replicas the upstream should run, and through which object: computed once, here.

One fact, one source of truth: the HorizontalPodAutoscaler as the API server returns it (spec.maxReplicas,
spec.minReplicas, status.currentReplicas); kube-state-metrics in Prometheus only when the API object was not
read. When both were read and disagree, the disagreement is said, and the API object is used.

An HPA owns its Deployment's replica count: `kubectl scale` on it is undone at the HPA's next sync. So with
an HPA the proposal is a patch of its minReplicas/maxReplicas, never a scale; a suggested maxReplicas is
never below the current one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..model.evidence import Evidence
from ..model.finding import Fact

TARGET_LOAD = 0.6        # replicas enough to bring the busiest pod back to ~60% of its CPU limit

SCALING_FACTS = ("deployment", "replicas", "replicas_suggested", "scale_note", "hpa", "hpa_min", "hpa_max",
                 "hpa_current", "hpa_at_max", "hpa_min_suggested", "hpa_max_suggested", "hpa_conflict")


@dataclass(frozen=True)
class HpaView:
    name: str
    current: int
    max_replicas: int
    min_replicas: int | None
    source: str                      # "the API object" or "kube-state-metrics"
    conflict: str = ""               # what the other source says, when it disagrees

    @property
    def at_max(self) -> bool:
        return self.max_replicas > 0 and self.current >= self.max_replicas


def _ksm(ev: Evidence) -> tuple[str, int, int | None] | None:
    m = ev.prometheus
    mx = m.get("hpa_max_replicas") if m else None
    if m is None or mx is None or mx.last is None:
        return None
    cur = m.get("hpa_current_replicas")
    return mx.worst.get("hpa", ""), int(mx.last), int(cur.last) if cur and cur.last is not None else None


def hpa_view(ev: Evidence) -> HpaView | None:
    """The upstream's HPA from the API object, else from kube-state-metrics; None when none is known."""
    kube, ksm = ev.kubernetes, _ksm(ev)
    if kube is not None and kube.hpa is not None:
        h = kube.hpa
        conflict = ""
        if ksm is not None and (ksm[1] != h.max_replicas or (ksm[2] is not None and ksm[2] != h.current)):
            seen = f"{ksm[2]}/{ksm[1]}" if ksm[2] is not None else f"maxReplicas {ksm[1]}"
            conflict = (f"kube-state-metrics says {seen}, the API object {h.current}/{h.max_replicas}: "
                        f"the API object is used")
        return HpaView(h.name, h.current, h.max_replicas, h.min_replicas, "the API object", conflict)
    if kube is not None and kube.saw("hpas") and kube.owner_known:
        return None                  # the API lists the HPAs and none targets the workload
    if ksm is not None and ksm[2] is not None:
        return HpaView(ksm[0], ksm[2], ksm[1], None, "kube-state-metrics")
    return None


def _load(ev: Evidence) -> float:
    """The busiest pod's CPU against its limit: Prometheus' peak, else metrics.k8s.io's reading."""
    m, kube = ev.prometheus, ev.kubernetes
    cpu = m.get("cpu_limit_ratio") if m else None
    if cpu is not None and cpu.peak is not None:
        return cpu.peak
    best = 0.0
    for pod in kube.pods if kube else ():
        u = kube.usage.get(pod.name) if kube else None
        for c in pod.containers:
            used = u.cpu_m.get(c.name) if u else None
            if used is not None and c.cpu_limit_m:
                best = max(best, used / c.cpu_limit_m)
    return best


def _replicas(ev: Evidence, hpa: HpaView | None) -> int | None:
    if hpa is not None:
        return hpa.current
    kube, m = ev.kubernetes, ev.prometheus
    if kube is not None and kube.deployment is not None:
        return max(kube.deployment.desired, len(kube.pods))
    rep = m.get("replicas_desired") if m else None
    return int(rep.last) if rep is not None and rep.last is not None else None


def scaling_facts(ev: Evidence) -> dict[str, Fact]:
    """replicas_suggested (no HPA) or hpa_*_suggested (an HPA manages the Deployment), from one rule."""
    hpa = hpa_view(ev)
    replicas = _replicas(ev, hpa)
    out: dict[str, Fact] = {}
    if replicas is None:
        return out
    needed = max(replicas + 1, math.ceil(replicas * _load(ev) / TARGET_LOAD))
    out["replicas"] = replicas
    if hpa is None:
        kube = ev.kubernetes
        if kube is not None and kube.saw("hpas") and kube.owner_known:
            out["scale_note"] = "no HPA targets it"
        else:
            # HPAs read, but no workload known to match their scaleTargetRef against: not "none targets it"
            why = (kube.missing.get("hpas") if kube else None) or \
                ("the owner of the upstream's pods is unknown" if kube is not None and kube.saw("hpas") else
                 "the HPAs were not read")
            out["scale_note"] = f"{why}: if an HPA targets it, patch the HPA instead, or it undoes this"
        out["replicas_suggested"] = needed
        return out
    out.update(hpa=hpa.name, hpa_max=hpa.max_replicas, hpa_current=hpa.current)
    if hpa.min_replicas is not None:
        out["hpa_min"] = hpa.min_replicas
    if hpa.conflict:
        out["hpa_conflict"] = hpa.conflict
    if hpa.at_max:
        out["hpa_at_max"] = f"{hpa.current}/{hpa.max_replicas} replicas"
        out["hpa_max_suggested"] = max(hpa.max_replicas + 1, needed)
    else:
        # below its ceiling yet overloaded: the HPA reacts too late; a higher floor holds the capacity
        # (needed > current >= minReplicas, so the floor only rises, also when only kube-state-metrics saw it)
        out["hpa_min_suggested"] = max(hpa.min_replicas or 1, needed)
        out["hpa_max_suggested"] = max(hpa.max_replicas, needed)
    return out
