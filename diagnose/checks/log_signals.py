"""What the upstream's own log says: its connection pool exhausted (pool-exhausted lines) while its
callers timed out. The scan groups every signal by (signal, caller, upstream); the engine hands the
incidents it did not diagnose to the checks (Evidence.log_incidents)."""

from __future__ import annotations

from typing import Mapping

from ..model.check import Param, check
from ..model.evidence import Evidence
from ..model.finding import Finding
from ..model.incident import clock


@check("log-signals", needs=("logs",), causes=("database",), facts=("pool_exhausted_events",),
       params={"weight_pool": 1.5})
def log_signals(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """The upstream's own log: its database connection pool exhausted during the incident."""
    upstream = ev.incident.upstream.lower()
    if ev.incident.signal == "pool-exhausted" or not upstream:
        return []
    mine = [i for i in ev.log_incidents if i.signal == "pool-exhausted" and i.service.lower() == upstream]
    if not mine:
        return []
    n = sum(i.events for i in mine)
    first = min((i.first_seen for i in mine if i.first_seen), default=None)
    since = f" since {clock(first)}" if first else ""
    return [Finding(
        cause="database", direction="for", weight=float(p["weight_pool"]), source="logs",
        summary=(f"{ev.incident.upstream}'s own log says its database connection pool was exhausted "
                 f"{n} time{'s' if n != 1 else ''}{since}: requests waited for a connection, not for work"),
        onset=first, facts={"pool_exhausted_events": n})]
