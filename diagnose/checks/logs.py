"""What the incident's own log lines say about the timeouts in force."""

from __future__ import annotations

from typing import Mapping

from ..model.check import Param, check
from ..model.evidence import Evidence
from ..model.finding import Finding


@check("log-timings", needs=("logs",), causes=("mesh-timeout",), facts=("observed_duration_ms",),
       params={"overrun_ratio": 1.2, "weight_overrun": 1.2, "weight_fixed": 0.4})
def log_timings(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """Request durations against the caller's own timeout."""
    inc = ev.incident
    d = inc.duration_ms
    if not inc.timeout_ms or d.p50 is None:
        return []
    out = []
    facts = {"observed_duration_ms": int(d.p50)}
    if d.p50 >= inc.timeout_ms * float(p["overrun_ratio"]):
        out.append(Finding(
            cause="mesh-timeout", direction="for", weight=float(p["weight_overrun"]), source="logs",
            summary=(f"{inc.service} waited {d.p50:g} ms (p50) on {inc.upstream} although its own timeout is "
                     f"{inc.timeout_ms:g} ms: another timeout is in force (mesh retries, a proxy or a load "
                     f"balancer decides when the request ends)"),
            onset=inc.first_seen, facts=facts))
        if d.max is not None and d.max == d.p50 and inc.events > 1:
            out.append(Finding(
                cause="mesh-timeout", direction="for", weight=float(p["weight_fixed"]), source="logs",
                summary=(f"all {inc.events} timeouts took exactly {d.p50:g} ms: a fixed timer ended them, "
                         f"not the upstream's own pace"), facts=facts))
    return out
