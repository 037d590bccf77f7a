"""A pod's health read from its status block, the way a person reading `kubectl get pod -o yaml` would.

Kept apart from the rest of the Kubernetes parser because it is checked against real pod manifests
(tests/kubernetes/test_pod_health_corpus.py) and is easiest to reason about on its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from ..errors import EvidenceError
from ..model.incident import parse_iso
from ..model.kube import PodHealth
from ..model.text import single_line

STALLED_TERMINATING = timedelta(minutes=15)     # graceful shutdown far past any sane grace period
STARTING_GRACE = timedelta(minutes=15)          # Pending or not-ready this long is no longer "starting"
RECENT_RESTART = timedelta(hours=24)            # a restart older than this is history, not health


def ts(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        return parse_iso(str(value))
    except ValueError:
        return None


def _is_error_wait(reason: str) -> bool:
    # The kubelet's waiting reasons that mean "this will not start by itself": ErrImagePull,
    # CreateContainerConfigError, CrashLoopBackOff, ImagePullBackOff, InvalidImageName...
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff") or \
        reason == "InvalidImageName"


def _ready(status: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())


def _evicted_at(status: Mapping[str, Any]) -> datetime | None:
    """When the kubelet evicted the pod: its DisruptionTarget condition (Kubernetes 1.26+), else the latest
    condition change or container end the status records; None when it records none (older kubelets)."""
    conds = [c for c in status.get("conditions") or () if isinstance(c, dict)]
    target = [t for c in conds if c.get("type") == "DisruptionTarget" and (t := ts(c.get("lastTransitionTime")))]
    if target:
        return max(target)
    ends = [t for c in list(status.get("containerStatuses") or ()) if isinstance(c, dict)
            if (t := ts(((c.get("state") or {}).get("terminated") or {}).get("finishedAt")))]
    changes = [t for c in conds if c.get("status") != "True" and (t := ts(c.get("lastTransitionTime")))]
    return max(ends + changes, default=None)


def pod_health(pod: Mapping[str, Any], now: datetime) -> PodHealth:
    try:
        return _pod_health(pod, now)
    except (AttributeError, TypeError, ValueError, OverflowError) as e:
        # A status block the API would never send (a string where a mapping goes: tests/fuzz): malformed
        # evidence named in one line, not a parser crash.
        name = (pod.get("metadata") or {}).get("name") if isinstance(pod.get("metadata"), dict) else None
        raise EvidenceError(f"pod {name or '?'}: status has a field of an unexpected type "
                            f"({e.__class__.__name__}: {single_line(e, 160)})") from None


def _pod_health(pod: Mapping[str, Any], now: datetime) -> PodHealth:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    deleting = ts(meta.get("deletionTimestamp"))
    if deleting is not None:
        if now - deleting >= STALLED_TERMINATING:
            return PodHealth("TerminatingStalled", "warning", f"terminating since {deleting:%Y-%m-%dT%H:%M:%SZ}")
        return PodHealth("Terminating", "unknown")
    if status.get("reason") == "Evicted":
        return PodHealth("Evicted", "warning", str(status.get("message", "")), since=_evicted_at(status))

    phase = str(status.get("phase", ""))
    containers = list(status.get("initContainerStatuses") or ()) + list(status.get("containerStatuses") or ())
    always = spec.get("restartPolicy", "Always") == "Always"
    created = ts(meta.get("creationTimestamp")) or ts(status.get("startTime"))
    young = created is not None and now - created < STARTING_GRACE

    if always and phase not in ("Succeeded", "Failed"):
        for c in containers:
            waiting = (c.get("state") or {}).get("waiting") or {}
            reason = str(waiting.get("reason", ""))
            if _is_error_wait(reason):
                last = (c.get("lastState") or {}).get("terminated") or {}
                if reason == "CrashLoopBackOff" and last and last.get("exitCode") == 0:
                    reason = "RestartLoopBackOff"      # exits cleanly, then is restarted, again and again
                return PodHealth(reason, "unhealthy", str(waiting.get("message", "")))

    if phase == "Pending":
        for c in status.get("conditions") or ():
            if c.get("reason") == "Unschedulable":
                return PodHealth("Unschedulable", "unhealthy", str(c.get("message", "")))
        if young:
            return PodHealth("Starting", "unknown", str(status.get("message", "")))
        reason = next((str(((c.get("state") or {}).get("waiting") or {}).get("reason"))
                       for c in status.get("containerStatuses") or ()
                       if ((c.get("state") or {}).get("waiting") or {}).get("reason")), "Pending")
        return PodHealth(reason, "unhealthy", "pending since " + (f"{created:%Y-%m-%dT%H:%M:%SZ}" if created else "?"))
    if phase == "Succeeded":
        return PodHealth("Completed", "healthy")
    if phase == "Failed":
        msg = str(status.get("message", ""))
        for c in containers:
            term = (c.get("state") or {}).get("terminated") or {}
            if not msg and term and (term.get("exitCode") or term.get("reason") == "OOMKilled"):
                msg = str(term.get("message") or f"container {c.get('name')!r} exited with {term.get('exitCode')}")
        return PodHealth("Failed", "unhealthy", msg)
    if phase != "Running":
        return PodHealth(phase or "Unknown", "unknown", str(status.get("message", "")))

    if _ready(status):
        restarts = sum(int(c.get("restartCount") or 0) for c in containers)
        recent = [c for c in containers if (t := ts(((c.get("lastState") or {}).get("terminated") or {})
                                                   .get("finishedAt"))) is not None and now - t < RECENT_RESTART]
        if recent and restarts:
            return PodHealth("Running", "warning", f"restarted {restarts} times")
        return PodHealth("Running", "healthy")
    for c in containers:
        last = (c.get("lastState") or {}).get("terminated") or {}
        if last and c.get("restartCount"):
            msg = ", ".join(x for x in (str(last.get("message", "")), f"restarted {c.get('restartCount')} times") if x)
            return PodHealth(str(last.get("reason") or "Error"), "unhealthy", msg)
    started = max((t for c in containers if (t := ts(((c.get("state") or {}).get("running") or {})
                                                     .get("startedAt"))) is not None), default=created)
    if started is not None and now - started < STARTING_GRACE:
        return PodHealth("Starting", "unknown")
    unready = [str(c.get("name")) for c in status.get("containerStatuses") or () if not c.get("ready")]
    return PodHealth("Running", "unhealthy", "not ready" + (f": {', '.join(unready)}" if unready else ""))
