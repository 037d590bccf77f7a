"""The one line a report opens with when no cause is likely: that nothing is, and what the timeouts
probably are (docs/ranking.md, "When nothing is likely").

A person paged for a healthy upstream should read that first, not six ruled-out rows. Two readings are
offered only when the evidence leaves nothing possible: a blip (few timeouts in a short time) and the
caller's own budget (every request ended at exactly the caller's timeout_ms, nothing else wrong).
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ..model.incident import Incident
from ..model.report import CauseReport
from ..model.signals import describe


def summarize(causes: Sequence[CauseReport], incident: Incident, ranking: Mapping[str, float]) -> str | None:
    """None when a cause is likely (its row says it); else one line."""
    if any(c.verdict == "likely" for c in causes):
        return None
    possible = [c for c in causes if c.verdict == "possible"]
    unknown = [c for c in causes if c.verdict == "unknown"]
    if possible:
        shown = ", ".join(f"{c.id} ({c.confidence:.2f})" for c in possible)
        return f"No likely cause; possible: {shown}, see what would confirm each below."
    if len(unknown) == len(causes):
        line = f"No cause could be checked: all {len(causes)} are unknown (no source gave evidence on them)"
    elif unknown:
        line = (f"No likely cause among what could be checked; {len(unknown)} of {len(causes)} causes unknown "
                f"({', '.join(c.id for c in unknown)})")
    else:
        line = f"No likely cause: {incident.upstream} looks healthy (every cause unlikely or ruled out)"
    reading = _reading(incident, ranking, checked=not unknown)
    events = describe(incident.signal).events          # "timeouts", "failed connections"
    return line + (f". The {events} are probably {reading}." if reading else ".")


def _reading(inc: Incident, ranking: Mapping[str, float], checked: bool) -> str | None:
    """A blip, or the caller's own budget ("nothing else wrong" only when every cause was checked)."""
    span = (inc.last_seen - inc.first_seen).total_seconds() if inc.first_seen and inc.last_seen else None
    if span is not None and inc.events <= ranking["blip_events"] and span <= ranking["blip_seconds"]:
        return f"a blip: {inc.events} {describe(inc.signal).events} within {_span(span)}"
    d, t = inc.duration_ms, inc.timeout_ms
    if inc.signal != "upstream-timeout":
        return None         # "ended at its own timeout" reads only a timeout incident
    tol = ranking["budget_tolerance"]
    if t and d.p50 is not None and d.max is not None and all(
            abs(x - t) <= tol * t for x in (d.p50, d.max)):
        every = f"all {inc.events} requests" if inc.events > 1 else "the request"
        return (f"{inc.service}'s own budget: {every} to {inc.upstream} ended at its "
                f"{t:g} ms timeout (p50 {d.p50:g} ms, max {d.max:g} ms) " +
                ("with nothing else wrong" if checked else "(if the causes not checked are clear)"))
    return None


def _span(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
